# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client package's command line (``stock-events``, stock_event_bus/lib
as the package ``stock_events``) run as a downstream service runs it: a
process of its own, without Odoo, on a SQLite projection.

The package is this repository's stock_event_bus/lib seen as
``stock_events`` through a symbolic link on PYTHONPATH (what ``pip install
./`` installs, without the install: tests/test_client_package.py checks
the install itself)."""

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from . import processes, stack


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
