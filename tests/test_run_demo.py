# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The README's run command, as a new user runs it: Odoo answers on its port;
with ``--barcodes``, the demo's ready delivery is scanned and validated in
OCA's stock_barcodes as the README says."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from odoo.tests import tagged

from tests.harness import processes, stack
from tests.harness.odoo_db import CommittedDatabase

RUN_DEMO = str(stack.ROOT / "scripts" / "run-demo")


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return None, ""


def _broker_url_variant():
    """The tests' broker under another spelling of its host (localhost for
    127.0.0.1, or the reverse), so that a URL given with --amqp-url is told
    apart from the default."""
    url = stack.amqp_url()
    if "@127.0.0.1" in url:
        return url.replace("@127.0.0.1", "@localhost")
    return url.replace("@localhost", "@127.0.0.1")


def _scan_and_validate_demo_delivery(db):
    """The README's steps in the reader of the demo's ready delivery
    (DEMO-SO-OPEN): each product's EAN scanned, its quantity typed and
    confirmed, then Validate. Returns the delivery's state."""
    with db.env() as env:
        picking = env["stock.picking"].search([("origin", "=", "DEMO-SO-OPEN")])
        assert picking.state == "assigned", picking.state
        group = picking.picking_type_id.barcode_option_group_id
        assert group == env.ref("stock_barcodes.stock_barcodes_option_group_picking_out")
        action = picking.action_barcode_scan()
        reader = env[action["res_model"]].browse(action["res_id"])
        for move in picking.move_ids:
            reader._barcode_scanned = move.product_id.barcode
            reader._on_barcode_scanned()
            reader.dummy_on_barcode_scanned()
            assert reader.message_type != "not_found", reader.message
            assert reader.product_id == move.product_id
            reader.product_qty = move.product_uom_qty
            assert reader.action_confirm(), reader.message
        reader.action_validate_picking()
        return picking.state


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
class TestRunDemoOptions:
    def test_help_names_the_broker_option(self):
        """--help offers --amqp-url, saying where its default comes from (the
        password of $AMQP_URL hidden) and that it goes into the demo's
        odoo.conf, and --barcodes."""
        env = dict(os.environ, AMQP_URL="amqp://shop:s3cret-pw@127.0.0.1:5672/%2F")
        result = subprocess.run(
            [sys.executable, RUN_DEMO, "--help"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        help_text = " ".join(result.stdout.split())
        assert "--amqp-url" in help_text and "$AMQP_URL" in help_text, help_text
        assert "s3cret-pw" not in result.stdout and "shop:***@" in help_text, help_text
        assert "odoo.conf at each start" in help_text, help_text
        assert "--barcodes" in help_text, help_text


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
@pytest.mark.amqp
@pytest.mark.http
@pytest.mark.slow
class TestRunDemo:
    def test_run_demo_serves_the_login_page(self, fresh_database, harness, tmp_path):
        """scripts/run-demo loads the demo story, starts Odoo on the demo
        database and the event dispatcher; /web/login is 200, the dispatcher
        reaches the broker given with --amqp-url (written over the workdir's
        odoo.conf), the demo warehouses, a year of postings and their events
        are there; Ctrl-C stops both cleanly. With --barcodes (when OCA's
        stock_barcodes is installed in this Python), the ready delivery is
        then scanned by its products' EANs and validated."""
        db = fresh_database()
        port = processes.free_port()
        log_path = tmp_path / "run-demo.log"
        log = log_path.open("w")
        broker_url = _broker_url_variant()
        # A start rewrites the demo's odoo.conf: an edit there is lost.
        (tmp_path / "odoo.conf").write_text(
            "[stock_event_bus]\namqp_url = amqp://edited:by-hand@nowhere:5672/%2F\n"
        )
        barcodes = importlib.util.find_spec("odoo.addons.stock_barcodes") is not None
        proc = subprocess.Popen(
            [
                sys.executable,
                RUN_DEMO,
                "--database",
                db,
                "--http-port",
                str(port),
                "--workdir",
                str(tmp_path),
                "--data-dir",
                harness["data_dir"],
                "--amqp-url",
                broker_url,
            ]
            + (["--barcodes"] if barcodes else []),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            status = None
            # The first run loads the demo story (a year of postings) first
            # (and installs stock_barcodes).
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and proc.poll() is None:
                status, body = _get(f"http://127.0.0.1:{port}/web/login")
                if status == 200:
                    break
                time.sleep(1)
            assert status == 200, f"/web/login answered {status}"
            assert 'name="login"' in body
            processes.wait_for_text(log_path, "connected to the broker", 60, 0.5)
        finally:
            processes.stop(proc, 60, sig=signal.SIGINT)
            log.close()
        output = log_path.read_text(errors="replace")
        assert proc.returncode == 0, output[-3000:]
        # The event dispatcher ran beside Odoo and stopped with it.
        assert "connected to the broker" in output, output[-3000:]
        assert "stock_event_dispatch" in output and "stopped," in output
        conn = stack.connect(db)
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
        # The broker of --amqp-url, in the conf the dispatcher and Odoo read.
        conf = (tmp_path / "odoo.conf").read_text()
        assert f"amqp_url = {broker_url}" in conf and "edited:by-hand" not in conf, conf
        assert "http_interface = 127.0.0.1" in conf, conf
        assert f"RabbitMQ answers at {stack.safe_url(broker_url)}" in output, output[-3000:]
        if barcodes:
            assert "==> stock_barcodes:" in output, output[-3000:]
            db_handle = CommittedDatabase(db)
            try:
                assert _scan_and_validate_demo_delivery(db_handle) == "done"
            finally:
                db_handle.close()
