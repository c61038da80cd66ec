# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""docker-compose.yml cannot run here (no Docker engine): check its structure
against the code instead, so that it cannot drift from the repository."""

import ast
import configparser
import re

import pytest
import yaml

from odoo.tests import tagged

from tests.harness import stack

ROOT = stack.ROOT


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service):
    command = service.get("command", [])
    return command if isinstance(command, list) else command.split()


def _mounts(service):
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
class TestDockerCompose:
    def test_services_and_images(self, compose):
        """The six services run the images the README promises."""
        services = compose["services"]
        assert set(services) == {
            "db",
            "rabbitmq",
            "odoo-init",
            "odoo-demo",
            "odoo",
            "dispatcher",
            "command-consumer",
        }
        assert services["db"]["image"] == "postgres:16"
        assert services["rabbitmq"]["image"] == "rabbitmq:3-management"
        for name in ("odoo-init", "odoo-demo", "odoo", "dispatcher", "command-consumer"):
            build = services[name]["build"]
            dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
            assert re.search(r"^FROM odoo:18\s*$", dockerfile, re.M), name
            assert "pika" in dockerfile, "the image must add pika for stock_event_bus"

    def test_repository_is_mounted_as_addons_path(self, compose):
        """Odoo containers see this repository as /mnt/extra-addons, with a
        config file that exists and has the event-bus section."""
        for name in ("odoo-init", "odoo", "dispatcher"):
            mounts = _mounts(compose["services"][name])
            assert mounts["/mnt/extra-addons"] == "."
            conf_path = ROOT / mounts["/etc/odoo/odoo.conf"]
            conf = configparser.RawConfigParser()  # as Odoo reads it
            conf.read(conf_path)
            assert "/mnt/extra-addons" in conf["options"]["addons_path"].split(",")
            assert conf["stock_event_bus"]["amqp_url"].startswith("amqp://")

    def test_health_checks_and_dependencies(self, compose):
        """Servers have health checks; nothing starts before what it needs."""
        services = compose["services"]
        for name in ("db", "rabbitmq", "odoo"):
            assert services[name]["healthcheck"]["test"], name
        assert services["odoo-init"]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "rabbitmq": {"condition": "service_healthy"},
        }
        assert services["odoo-demo"]["depends_on"]["odoo-init"] == {
            "condition": "service_completed_successfully"
        }
        assert services["odoo"]["depends_on"]["odoo-demo"] == {
            "condition": "service_completed_successfully"
        }
        assert services["dispatcher"]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
        assert "8069:8069" in services["odoo"]["ports"]
        assert "/web/health" in " ".join(services["odoo"]["healthcheck"]["test"])

    def test_init_installs_exactly_the_addons(self, compose):
        """The one-shot service installs the repository's three addons into
        the database the web service serves."""
        init = _command(compose["services"]["odoo-init"])
        web = _command(compose["services"]["odoo"])
        assert init[0] == web[0] == "odoo"
        assert "--stop-after-init" in init
        installed = init[init.index("-i") + 1].split(",")
        assert tuple(installed) == stack.ADDONS
        for addon in installed:
            manifest = ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())
            assert manifest["installable"]
        assert init[init.index("-d") + 1] == web[web.index("-d") + 1]

    def test_demo_loads_the_story_into_the_served_database(self, compose):
        """The one-shot demo service runs scripts/demo_loader.py in an Odoo
        shell of the database the web service serves."""
        command = " ".join(_command(compose["services"]["odoo-demo"]))
        web = _command(compose["services"]["odoo"])
        assert "/mnt/extra-addons/scripts/demo_loader.py" in command
        assert (ROOT / "scripts" / "demo_loader.py").is_file()
        assert f"odoo shell -d {web[web.index('-d') + 1]}" in command

    @pytest.mark.parametrize(
        "service,name",
        [("dispatcher", "stock_event_dispatch"), ("command-consumer", "stock_command_consume")],
    )
    def test_bus_services_run_their_commands(self, compose, service, name):
        """The dispatcher and the command consumer run the addon's Odoo
        commands on the demo database, with the addons path first (how Odoo
        finds addon commands)."""
        command = _command(compose["services"][service])
        web = _command(compose["services"]["odoo"])
        assert command[0] == "odoo"
        assert command[1].startswith("--addons-path=")
        assert "/mnt/extra-addons" in command[1].split("=", 1)[1].split(",")
        assert command[2] == name
        assert command[command.index("-c") + 1] == "/etc/odoo/odoo.conf"
        assert command[command.index("-d") + 1] == web[web.index("-d") + 1]
        source = (ROOT / "stock_event_bus" / "cli" / f"{name}.py").read_text()
        assert re.search(r"class \w+\(Command\)", source)
        assert f'name = "{name}"' in source

    def test_broker_has_the_consistent_hash_plugin(self, compose):
        """The broker enables the plugin the command exchange needs."""
        mounts = _mounts(compose["services"]["rabbitmq"])
        plugins = (ROOT / mounts["/etc/rabbitmq/enabled_plugins"]).read_text()
        assert "rabbitmq_consistent_hash_exchange" in plugins
