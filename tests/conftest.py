# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shared fixtures of the top-level tests.

They need scripts/run-tests, which exports the template database and the
odoo.conf it built (STOCK_SCALABLE_TEST_*). Run alone, these tests skip.
"""

import itertools
import os
import subprocess
import uuid

import pika
import pytest

import odoo
from odoo.modules.registry import Registry

from tests.harness import amqp, stack
from tests.harness.odoo_db import CommittedDatabase

TEMPLATE = os.environ.get("STOCK_SCALABLE_TEST_TEMPLATE")
DB_PREFIX = os.environ.get("STOCK_SCALABLE_TEST_DB_PREFIX", "")
ODOO_CONF = os.environ.get("STOCK_SCALABLE_TEST_ODOO_CONF")
DATA_DIR = os.environ.get("STOCK_SCALABLE_TEST_DATA_DIR")
_counter = itertools.count(1)


def _require_harness():
    if not (TEMPLATE and DB_PREFIX and ODOO_CONF):
        pytest.skip("needs the template database built by scripts/run-tests")


@pytest.fixture(scope="session")
def harness():
    """The harness's settings: template database, odoo.conf, data dir."""
    _require_harness()
    return {"template": TEMPLATE, "prefix": DB_PREFIX, "conf": ODOO_CONF, "data_dir": DATA_DIR}


@pytest.fixture
def fresh_database(harness):
    """Factory of throwaway database names, dropped after the test. With
    ``copy=True`` (the default) the database is a copy of the template;
    otherwise only the name is reserved, for Odoo to create."""
    created = []

    def make(copy=True):
        name = f"{DB_PREFIX}c{next(_counter)}"
        created.append(name)
        if copy:
            stack.copy_database(TEMPLATE, name, DATA_DIR)
        return name

    yield make
    for name in created:
        Registry.delete(name)
        odoo.sql_db.close_db(name)
        stack.drop_database(name, DATA_DIR)


@pytest.fixture
def committed_db(fresh_database):
    """A committed-data copy of the template with its Odoo registry, for
    tests that open several real transactions at once."""
    db = CommittedDatabase(fresh_database())
    yield db
    db.close()


def _made(close, make, *args, **fixed):
    """Yield a factory of ``make(*args, **fixed, **kwargs)`` to a fixture's
    test, then ``close`` what it made."""
    made = []

    def factory(**kwargs):
        made.append(make(*args, **fixed, **kwargs))
        return made[-1]

    yield factory
    for thing in made:
        close(thing)


@pytest.fixture
def odoo_server(harness, committed_db, tmp_path):
    """Factory of ``odoo-bin`` processes serving ``committed_db`` over HTTP
    (tests.harness.odoo_server), stopped after the test."""
    from tests.harness.odoo_server import OdooServer  # noqa: PLC0415

    yield from _made(OdooServer.stop, OdooServer, harness, committed_db.name, tmp_path)


@pytest.fixture
def bus(harness, committed_db, tmp_path):
    """Factory of event buses of their own on ``committed_db``
    (tests.harness.event_bus), closed after the test."""
    from tests.harness.event_bus import EventBus  # noqa: PLC0415 - needs the addons path

    yield from _made(EventBus.close, EventBus, harness, committed_db.name, tmp_path)


@pytest.fixture
def command_bus(harness, committed_db, tmp_path):
    """Factory of command exchanges of their own with their consumer
    processes on ``committed_db`` (tests.harness.command_bus), closed after
    the test; the broker's user is mapped to admin."""
    from tests.harness.command_bus import CommandBus  # noqa: PLC0415

    yield from _made(
        CommandBus.close,
        CommandBus,
        harness,
        committed_db.name,
        tmp_path,
        committed_db=committed_db,
    )


@pytest.fixture
def odoo_cli(harness):
    """Run the Odoo command line on the harness's odoo.conf."""

    def run(*args, command=None, stdin=None, timeout=900):
        subcommand = [command] if command else []
        return subprocess.run(
            stack.odoo_command() + subcommand + ["-c", ODOO_CONF, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=stack.odoo_env(),
            timeout=timeout,
            check=False,
        )

    return run


class AmqpTestChannel:
    """A real channel on the test broker. Queues and exchanges declared
    through it get unique names and are deleted when the test ends."""

    def __init__(self, url):
        self.connection, self.channel = amqp.open_channel(url, socket_timeout=5)
        self.queues = []
        self.exchanges = []

    def declare_exchange(self, prefix="sscale.test", exchange_type="topic"):
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        self.channel.exchange_declare(name, exchange_type=exchange_type, durable=False)
        self.exchanges.append(name)
        return name

    def declare_queue(self, prefix="sscale.test", **arguments):
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        self.channel.queue_declare(name, durable=False, arguments=arguments or None)
        self.queues.append(name)
        return name

    def drain(self, queue, limit=10_000):
        """Get every message waiting in ``queue`` (acked), as (method, properties, body)."""
        messages = []
        while len(messages) < limit:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            messages.append((method, properties, body))
        return messages

    def cleanup(self):
        """Delete what this channel declared and close the connection."""
        if self.connection.is_open:
            for queue in self.queues:
                self.channel.queue_delete(queue)
            for exchange in self.exchanges:
                self.channel.exchange_delete(exchange)
            self.connection.close()
        self.queues, self.exchanges = [], []


@pytest.fixture
def amqp_channel():
    """A channel on the real RabbitMQ (AMQP_URL), with temporary queues."""
    try:
        channel = AmqpTestChannel(stack.amqp_url())
    except pika.exceptions.AMQPError as exc:
        pytest.fail(f"RabbitMQ is not reachable at {stack.amqp_url()}: {exc!r}")
    yield channel
    channel.cleanup()
