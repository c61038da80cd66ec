# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The README's run command, as a new user runs it: Odoo answers on its port."""

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import stacklib

from odoo.tests import tagged


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return None, ""


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
@pytest.mark.slow
class TestRunDemo:
    def test_run_demo_serves_the_login_page(self, fresh_database, harness, tmp_path):
        """scripts/run-demo loads the demo story, starts Odoo on the demo
        database and the event dispatcher; /web/login is 200, the dispatcher
        reaches the broker, the demo warehouses, a year of postings and their
        events are there; Ctrl-C stops both cleanly."""
        db = fresh_database()
        port = _free_port()
        log_path = tmp_path / "run-demo.log"
        log = log_path.open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                str(stacklib.ROOT / "scripts" / "run-demo"),
                "--database",
                db,
                "--http-port",
                str(port),
                "--workdir",
                str(tmp_path),
                "--data-dir",
                harness["data_dir"],
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            status = None
            # The first run loads the demo story (a year of postings) first.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                status, body = _get(f"http://127.0.0.1:{port}/web/login")
                if status == 200:
                    break
                time.sleep(1)
            assert status == 200, f"/web/login answered {status}"
            assert 'name="login"' in body
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "connected to the broker" not in (
                log_path.read_text(errors="replace")
            ):
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
            log.close()
        output = log_path.read_text(errors="replace")
        assert proc.returncode == 0, output[-3000:]
        # The event dispatcher ran beside Odoo and stopped with it.
        assert "connected to the broker" in output, output[-3000:]
        assert "stock_event_dispatch" in output and "stopped," in output
        conn = stacklib.connect(db)
        try:
            with conn.cursor() as cr:
                cr.execute("SELECT code FROM stock_warehouse")
                codes = {row[0] for row in cr.fetchall()}
                cr.execute(
                    "SELECT COUNT(DISTINCT date_trunc('month', date)) FROM stock_move_line"
                    " WHERE state = 'done' AND reference LIKE 'EAST/%'"
                )
                months = cr.fetchone()[0]
                cr.execute("SELECT state, COUNT(*) FROM stock_event_outbox GROUP BY state")
                events = dict(cr.fetchall())
        finally:
            conn.close()
        assert {"EAST", "WEST"} <= codes, "the demo warehouses are missing"
        # A year of history, month by month, and its events (published by the
        # dispatcher that run-demo started, or still pending).
        assert months >= 12, months
        assert sum(events.values()) > 500, events
        assert "loading the demo story" in output and "demo loaded:" in output
