# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Real transactions on a committed Odoo database, from threads, the way
Odoo's RPC layer runs requests. Used by tests/conftest.py and bench/."""

import contextlib
import threading

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.service.model import retrying


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
