# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client package's command line (``stock-events``, stock_event_bus/lib
as the package ``stock_events``) run as a downstream service runs it: a
process of its own, without Odoo, on a SQLite projection.

The package is this repository's stock_event_bus/lib seen as
``stock_events`` through a symbolic link on PYTHONPATH (what ``pip install
./`` installs, without the install: tests/test_client_package.py checks
the install itself)."""

import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from . import processes, stack

# An audit of the projection's table, for the tests: every change of a row
# logged with its sequence, and every update that would lower a key's
# sequence recorded as a regression (the sync never does that: a level
# event or a snapshot row only replaces a row of a lower, or the same,
# sequence; reconcile's replacement of a row AHEAD of Odoo is the one
# legitimate lowering).
AUDIT_SQL = """
    CREATE TABLE IF NOT EXISTS audit_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id integer NOT NULL, warehouse_id integer NOT NULL,
        old_sequence bigint, sequence bigint NOT NULL,
        on_hand REAL NOT NULL, reserved REAL NOT NULL, available REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS audit_regressions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id integer NOT NULL, warehouse_id integer NOT NULL,
        old_sequence bigint NOT NULL, new_sequence bigint NOT NULL);
    CREATE TRIGGER IF NOT EXISTS audit_regression BEFORE UPDATE ON stock_levels
    WHEN NEW.sequence < OLD.sequence BEGIN
        INSERT INTO audit_regressions (product_id, warehouse_id, old_sequence, new_sequence)
        VALUES (OLD.product_id, OLD.warehouse_id, OLD.sequence, NEW.sequence);
    END;
    CREATE TRIGGER IF NOT EXISTS audit_insert AFTER INSERT ON stock_levels BEGIN
        INSERT INTO audit_changes (product_id, warehouse_id, old_sequence, sequence,
                                   on_hand, reserved, available)
        VALUES (NEW.product_id, NEW.warehouse_id, NULL, NEW.sequence,
                NEW.on_hand, NEW.reserved, NEW.available);
    END;
    CREATE TRIGGER IF NOT EXISTS audit_update AFTER UPDATE ON stock_levels BEGIN
        INSERT INTO audit_changes (product_id, warehouse_id, old_sequence, sequence,
                                   on_hand, reserved, available)
        VALUES (NEW.product_id, NEW.warehouse_id, OLD.sequence, NEW.sequence,
                NEW.on_hand, NEW.reserved, NEW.available);
    END;
"""


def package_path(tmp_path):
    """A folder holding ``stock_events`` -> stock_event_bus/lib."""
    folder = Path(tmp_path) / "client-package"
    folder.mkdir(exist_ok=True)
    link = folder / "stock_events"
    if not link.exists():
        link.symlink_to(stack.ROOT / "stock_event_bus" / "lib", target_is_directory=True)
    return folder


class StockEventsClient:
    """``stock-events sync`` processes and ``stock-events reconcile`` runs of
    one projection file (``db_path``), one Odoo (``odoo_url``, ``api_key``)
    and one exchange; the sync's queue has a name of its own."""

    def __init__(self, tmp_path, *, odoo_url, api_key, exchange, amqp_url=None, extra=()):
        self.tmp_path = Path(tmp_path)
        self.db_path = self.tmp_path / f"levels-{uuid.uuid4().hex[:6]}.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.queue = f"sscale.test.sync.{uuid.uuid4().hex[:10]}"
        self.exchange = exchange
        self.amqp_url = amqp_url or stack.amqp_url()
        self.odoo_url = odoo_url
        self.extra = list(extra)
        self.env = dict(
            os.environ,
            PYTHONPATH=str(package_path(self.tmp_path)),
            STOCK_EVENTS_API_KEY=api_key,  # not on the command line
        )
        self.processes = []

    def command(self, name, *args):
        return [
            sys.executable,
            "-m",
            "stock_events.cli",
            name,
            "--odoo",
            self.odoo_url,
            "--db",
            self.db_url,
            *args,
        ]

    def start(self, *args):
        """A ``stock-events sync`` process; its log is ``process.log_path``."""
        log = self.tmp_path / f"sync-{len(self.processes)}.log"
        process = processes.start(
            self.command(
                "sync",
                "--amqp",
                self.amqp_url,
                "--exchange",
                self.exchange,
                "--queue",
                self.queue,
                *self.extra,
                *args,
            ),
            log,
            env=self.env,
        )
        self.processes.append(process)
        return process

    def reconcile(self, *args):
        """Run ``stock-events reconcile``: the CompletedProcess."""
        return subprocess.run(
            self.command("reconcile", *args),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def levels(self):
        """The projection's rows: ``{(product, warehouse): (sequence, on_hand,
        reserved, available)}`` (empty before the table exists)."""
        if not self.db_path.exists():
            return {}
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            rows = conn.execute(
                "SELECT product_id, warehouse_id, sequence, on_hand, reserved, available"
                " FROM stock_levels"
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet
            return {}
        finally:
            conn.close()
        return {(r[0], r[1]): tuple(r[2:]) for r in rows}

    def audit(self):
        """Create the projection's table (as the client package does) and
        the audit's tables and triggers (AUDIT_SQL), before any sync runs."""
        from odoo.addons.stock_event_bus.lib.projection import Projection  # noqa: PLC0415

        Projection(self.db_url).close()
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            conn.executescript(AUDIT_SQL)
        finally:
            conn.close()

    def query(self, sql, params=()):
        """The rows of a query on the projection file."""
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def changes(self):
        """How many row changes the audit logged."""
        return self.query("SELECT COUNT(*) FROM audit_changes")[0][0]

    def regressions(self):
        """The audit's regressions: ``(product, warehouse, old, new sequence)``."""
        return self.query(
            "SELECT product_id, warehouse_id, old_sequence, new_sequence FROM audit_regressions"
        )

    def logged_regressions(self):
        """Regressions found again in the change log (independently of the
        BEFORE UPDATE trigger): changes, in the order they were made, whose
        sequence is lower than the key's previous one."""
        last, found = {}, []
        for product_id, warehouse_id, sequence in self.query(
            "SELECT product_id, warehouse_id, sequence FROM audit_changes ORDER BY id"
        ):
            key = (product_id, warehouse_id)
            if key in last and sequence < last[key]:
                found.append((key, last[key], sequence))
            last[key] = sequence
        return found

    @contextlib.contextmanager
    def write_locked(self):
        """Hold the projection's write lock (BEGIN IMMEDIATE) for the block:
        a sync that receives a batch meanwhile waits with it, unacked."""
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
        finally:
            conn.rollback()
            conn.close()

    def execute(self, sql, params=()):
        """Change the projection behind the sync's back (a tampered row)."""
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()

    def log(self, process=None):
        process = process or self.processes[-1]
        return Path(process.log_path).read_text(errors="replace")

    def close(self, channel=None):
        """Stop the sync processes; with ``channel`` (a pika channel), delete
        the sync's queues and dead-letter exchange."""
        for process in self.processes:
            processes.stop(process, 20)
        if channel is not None and channel.is_open:
            channel.queue_delete(self.queue)
            channel.queue_delete(f"{self.queue}.dead")
            channel.exchange_delete(f"{self.queue}.dlx")
