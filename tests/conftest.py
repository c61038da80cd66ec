# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shared fixtures of the top-level tests.

They need scripts/run-tests, which exports the template database and the
odoo.conf it built (STOCK_SCALABLE_TEST_*). Run alone, these tests skip.
"""

import contextlib
import itertools
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pika
import psycopg2
import pytest

# scripts/stacklib.py is shared with the run scripts (service settings,
# database copies); the test modules import it too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import stacklib  # noqa: E402

import odoo  # noqa: E402
from odoo import SUPERUSER_ID, api  # noqa: E402
from odoo.modules.registry import Registry  # noqa: E402
from odoo.service.model import retrying  # noqa: E402

TEMPLATE = os.environ.get("STOCK_SCALABLE_TEST_TEMPLATE")
DB_PREFIX = os.environ.get("STOCK_SCALABLE_TEST_DB_PREFIX", "")
ODOO_CONF = os.environ.get("STOCK_SCALABLE_TEST_ODOO_CONF")
DATA_DIR = os.environ.get("STOCK_SCALABLE_TEST_DATA_DIR")
_counter = itertools.count(1)


def _require_harness():
    if not (TEMPLATE and DB_PREFIX and ODOO_CONF):
        pytest.skip("needs the template database built by scripts/run-tests")


@contextlib.contextmanager
def _registry_loading():
    """Load a registry without running every module's at_install tests:
    pytest-odoo turns test_enable on, and Odoo runs those tests whenever a
    registry loads with it on."""
    saved = odoo.tools.config["test_enable"]
    odoo.tools.config["test_enable"] = False
    try:
        yield
    finally:
        odoo.tools.config["test_enable"] = saved


class CommittedDatabase:
    """A throwaway copy of the template database. Every transaction opened
    here is real: it commits, and other cursors see it only then."""

    def __init__(self, name):
        self.name = name
        # SQLSTATE of every error that call() rolled back and retried.
        self.retry_errors = []
        with _registry_loading():
            self.registry = Registry(name)

    def cursor(self):
        """A new connection and transaction; commits on a clean ``with`` exit."""
        return self.registry.cursor()

    @contextlib.contextmanager
    def env(self, uid=SUPERUSER_ID, context=None):
        """An environment on its own transaction, committed on a clean exit."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, uid, dict(context or {}))

    def call(self, func, uid=SUPERUSER_ID):
        """Run ``func(env)`` in its own transaction the way Odoo's RPC layer
        runs a request: serialization failures and deadlocks roll back and
        retry (up to 5 tries), then it commits. Returns ``(result, tries)``;
        the SQLSTATE of each retried error goes to ``retry_errors``."""
        tries = []
        with self.registry.cursor() as cr:
            env = api.Environment(cr, uid, {})

            def attempt():
                tries.append(1)
                try:
                    return func(env)
                except psycopg2.OperationalError as exc:
                    self.retry_errors.append(exc.pgcode)
                    raise

            return retrying(attempt, env), len(tries)

    def run_concurrently(self, funcs):
        """Start every callable at once, each in its own thread, and return
        their outcomes in order: ``("ok", value)`` or ``("error", exception)``."""
        barrier = threading.Barrier(len(funcs))
        outcomes = [None] * len(funcs)

        def worker(index, func):
            barrier.wait()
            try:
                outcomes[index] = ("ok", func())
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcomes[index] = ("error", exc)

        threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(funcs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    def close(self):
        Registry.delete(self.name)
        odoo.sql_db.close_db(self.name)


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
            stacklib.copy_database(TEMPLATE, name, DATA_DIR)
        return name

    yield make
    for name in created:
        Registry.delete(name)
        odoo.sql_db.close_db(name)
        stacklib.drop_database(name, DATA_DIR)


@pytest.fixture
def committed_db(fresh_database):
    """A committed-data copy of the template with its Odoo registry, for
    tests that open several real transactions at once."""
    db = CommittedDatabase(fresh_database())
    yield db
    db.close()


@pytest.fixture
def odoo_cli(harness):
    """Run the Odoo command line on the harness's odoo.conf."""

    def run(*args, command=None, stdin=None, timeout=900):
        subcommand = [command] if command else []
        return subprocess.run(
            stacklib.odoo_command() + subcommand + ["-c", ODOO_CONF, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=stacklib.odoo_env(),
            timeout=timeout,
            check=False,
        )

    return run


class AmqpTestChannel:
    """A real channel on the test broker. Queues and exchanges declared
    through it get unique names and are deleted when the test ends."""

    def __init__(self, url):
        params = pika.URLParameters(url)
        params.socket_timeout = 5
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
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
        channel = AmqpTestChannel(stacklib.amqp_url())
    except pika.exceptions.AMQPError as exc:
        pytest.fail(f"RabbitMQ is not reachable at {stacklib.amqp_url()}: {exc!r}")
    yield channel
    channel.cleanup()
