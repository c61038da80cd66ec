# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""RabbitMQ users mapped to Odoo users (who an AMQP command is posted as),
and the command topology declared from Odoo (install, upgrade)."""

import logging
import uuid
from unittest.mock import patch

import pika
import pika.exceptions
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from ..lib import config as bus_config
from .common import EventBusCommon


@tagged("post_install", "-at_install")
class TestBrokerUsers(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Users = cls.env["res.users"]
        cls.clerk = cls._create_user(
            "sscale_amqp_clerk", ["stock.group_stock_user"], [cls.company_a]
        )
        cls.manager = cls._create_user(
            "sscale_amqp_manager",
            ["stock.group_stock_manager", "base.group_erp_manager"],
            [cls.company_a],
        )

    def test_an_admin_maps_a_broker_user(self):
        """An administrator maps a RabbitMQ user to one active Odoo user;
        blanks are no mapping; an archived user posts for nobody."""
        self.clerk.write({"amqp_user": "  wms-east "})
        self.assertEqual(self.clerk.amqp_user, "wms-east")
        self.assertEqual(self.Users._stock_event_bus_user_of("wms-east"), self.clerk)
        self.assertFalse(self.Users._stock_event_bus_user_of("wms-west"))
        self.assertFalse(self.Users._stock_event_bus_user_of(None))
        self.clerk.write({"amqp_user": " "})
        self.assertFalse(self.clerk.amqp_user)
        self.assertFalse(self.Users._stock_event_bus_user_of(""))
        self.clerk.write({"amqp_user": "wms-east"})
        self.clerk.action_archive()
        self.assertFalse(self.Users._stock_event_bus_user_of("wms-east"))

    def test_a_broker_user_maps_to_one_odoo_user(self):
        """Two Odoo users cannot hold the same RabbitMQ user."""
        self.clerk.amqp_user = "wms-east"
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            self.manager.amqp_user = "wms-east"
            self.env.flush_all()

    def test_only_administrators_set_it(self):
        """Neither a user on their own preferences nor an Access Rights
        manager without Settings rights reads or writes the mapping."""
        with self.assertRaises(AccessError):
            self.clerk.with_user(self.clerk).write({"amqp_user": "me"})
        with self.assertRaises(AccessError):
            self.clerk.with_user(self.manager).write({"amqp_user": "wms-east"})
        with self.assertRaises(AccessError):
            self.clerk.with_user(self.manager).read(["amqp_user"])
        self.assertFalse(self.clerk.amqp_user)


@tagged("post_install", "-at_install")
class TestCommandTopologyAtInstall(EventBusCommon):
    def _settings(self, **options):
        section = dict(config.misc.get(bus_config.SECTION, {}), **options)
        return patch.dict(config.misc, {bus_config.SECTION: section})

    def test_declared_from_odoo_before_any_consumer(self):
        """What install and upgrade call declares the command exchange, its
        queues and the dead letters: a command published with ``mandatory``
        is routed although no consumer ever ran."""
        settings = self.env["stock.event.outbox"]._get_bus_settings()
        if not settings.broker_configured:
            self.skipTest("no broker configured for this server (amqp_url)")
        exchange = f"sscale.test.commands.{uuid.uuid4().hex[:8]}"
        Dispatcher = self.env["stock.event.dispatcher"]
        connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_urls[0]))
        try:
            with self._settings(command_exchange=exchange, command_queues="2"):
                self.assertTrue(Dispatcher._declare_command_topology())
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(exchange, "P-1", b"{}", mandatory=True)  # raises if unroutable
            counts = [
                channel.queue_declare(f"{exchange}.{i}", passive=True).method.message_count
                for i in range(2)
            ]
            self.assertEqual(sum(counts), 1)
            channel.queue_declare(f"{exchange}.dead", passive=True)
        finally:
            channel = connection.channel()
            for name in (f"{exchange}.0", f"{exchange}.1", f"{exchange}.dead"):
                channel.queue_delete(name)
            for name in (exchange, f"{exchange}.dlx"):
                channel.exchange_delete(name)
            connection.close()

    def test_a_broker_that_does_not_answer_never_fails_the_install(self):
        """No broker at the URL: a warning saying what to run later, no error."""
        with (
            self._settings(amqp_url="amqp://u:pw@127.0.0.1:1/%2F"),
            patch.dict("os.environ", {bus_config.ENV_AMQP_URL: ""}),
            mute_logger("pika"),
            self.assertLogs("odoo.addons.stock_event_bus.models", logging.WARNING) as logs,
        ):
            self.assertFalse(self.env["stock.event.dispatcher"]._declare_command_topology())
        self.assertIn("stock_command_consume --declare-only", logs.output[0])
        self.assertNotIn(":pw@", logs.output[0])
        with self._settings(amqp_url=""), patch.dict("os.environ", {bus_config.ENV_AMQP_URL: ""}):
            self.assertFalse(self.env["stock.event.dispatcher"]._declare_command_topology())
