# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client package end to end (issue 27, items 3 and 4): ``stock-events
sync`` and ``stock-events reconcile`` as processes of their own on a SQLite
projection, against a real ``odoo-bin`` (the snapshot route), a real
dispatcher (``stock_event_dispatch``) and the real RabbitMQ.

A sync started after the postings bootstraps from the snapshot and equals
Odoo; a confirmed sale order lowers ``available`` and not ``on_hand``, its
cancellation gives it back; a sync SIGKILLed while events flow and started
again (on its queue alone) converges; a tampered row is reported and
repaired by reconcile; a malformed message, an unknown schema version and a
sequence far ahead are dead-lettered with their reason, and the projection
never takes their values."""

import json
import threading
import uuid

import pytest

from odoo.tests import tagged

from tests.harness import amqp, processes, stock_flows
from tests.harness.event_bus import levels_pending
from tests.harness.levels import converged, odoo_view
from tests.harness.processes import wait_for, wait_until
from tests.harness.stock_events import StockEventsClient
from tests.inventory_commands import api_key

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.http, pytest.mark.slow]


def dead_letters(channel, queue):
    """The messages of a sync's dead-letter queue (acked)."""
    found = []
    while True:
        method, properties, body = channel.basic_get(f"{queue}.dead", auto_ack=True)
        if method is None:
            return found
        found.append((properties.headers or {}, body))


@tagged("-at_install", "post_install", "sscale_committed")
class TestStockEventsSync:
    def test_sync_bootstraps_follows_recovers_and_reconciles(
        self, committed_db, bus, odoo_server, amqp_channel, tmp_path
    ):
        b = bus()
        with committed_db.env() as env:
            main = stock_flows.main_warehouse(env)
            second = env["stock.warehouse"].create(
                {"name": f"Sync {uuid.uuid4().hex[:6]}", "code": f"S{uuid.uuid4().hex[:4]}"}
            )
            product_ids = []
            for i in range(4):
                product = stock_flows.create_product(
                    env, f"Synced {i}", 20, default_code=f"SYNC-{uuid.uuid4().hex[:6]}"
                )
                stock_flows.set_inventory(env, product, 30, second.lot_stock_id)
                product_ids.append(product.id)
            main_id, second_id = main.id, second.id
            partner_id = env["res.partner"].create({"name": "Sync Shop"}).id
        keys = [(p, w) for p in product_ids for w in (main_id, second_id)]
        # Postings before any sync exists: their level events reach no sync
        # queue (published without mandatory); the snapshot has them.
        for product_id in product_ids:
            committed_db.call(lambda env, p=product_id: stock_flows.deliver(env, [(p, 2)]))
        committed_db.call(lambda env: stock_flows.reserve(env, [(product_ids[0], 4)]))
        assert b.dispatch_once().returncode == 0
        assert levels_pending(committed_db) == 0

        server = odoo_server()
        client = StockEventsClient(
            tmp_path,
            odoo_url=server.url,
            api_key=api_key(committed_db),
            exchange=b.exchange,
            extra=["--max-gap", "1000", "--page-size", "50"],
        )
        try:
            self._bootstrap_and_follow(client, b, committed_db, keys, partner_id, main_id)
            self._sigkill_and_restart(client, committed_db, keys, product_ids, main_id)
            self._reconcile(client, committed_db, keys, product_ids[1], second_id)
            self._bad_input(client, amqp_channel.channel, committed_db, keys, product_ids[2])
        finally:
            client.close(amqp_channel.channel)

    def _bootstrap_and_follow(self, client, b, committed_db, keys, partner_id, main_id):
        sync = client.start()
        assert processes.wait_for_text(sync.log_path, "bootstrap done", 120), client.log()
        log = client.log()
        assert "page 1," in log and "keys/s" in log, log
        # The bootstrap alone (no dispatcher runs yet): Odoo's levels,
        # reservation included.
        assert converged(client, committed_db, keys), (client.levels(), client.log())
        product_id = keys[0][0]
        seq, on_hand, reserved, available = client.levels()[product_id, main_id]
        assert (on_hand, reserved, available) == (18.0, 4.0, 14.0)

        b.start()  # a dispatcher from now on
        with committed_db.env() as env:
            order = env["sale.order"].create(
                {
                    "partner_id": partner_id,
                    "order_line": [(0, 0, {"product_id": product_id, "product_uom_qty": 3})],
                }
            )
            order.action_confirm()
            order_id = order.id
        key = (product_id, main_id)
        wait_for(
            lambda: client.levels()[key][3] == available - 3, 60, "the sale order's reservation"
        )
        after_sale = client.levels()[key]
        assert after_sale[1:] == (on_hand, reserved + 3, available - 3)
        assert after_sale[0] > seq
        with committed_db.env() as env:
            env["sale.order"].browse(order_id)._action_cancel()
        wait_for(lambda: client.levels()[key][3] == available, 60, "the cancellation")
        assert client.levels()[key][1:] == (on_hand, reserved, available)
        assert client.levels()[key][0] > after_sale[0]

    def _sigkill_and_restart(self, client, committed_db, keys, product_ids, main_id):
        """SIGKILL the sync while postings flow; a sync started again without
        a snapshot (--no-bootstrap) converges from its queue alone: the
        events not acked are delivered again, the ones acked were
        committed."""
        before = client.levels()
        done = []

        def postings():
            for n in range(12):
                for product_id in product_ids:
                    committed_db.call(
                        lambda env, p=product_id, n=n: stock_flows.receive(env, [(p, 1 + n % 3)])
                    )
                done.append(n)

        worker = threading.Thread(target=postings)
        worker.start()
        try:
            key = (product_ids[0], main_id)
            wait_for(lambda: client.levels()[key][0] > before[key][0], 60, "a first event applied")
            sync = client.processes[-1]
            sync.kill()
            sync.wait()
        finally:
            worker.join()
        assert len(done) == 12
        client.start("--no-bootstrap")
        assert wait_until(lambda: converged(client, committed_db, keys), 120), (
            client.levels(),
            odoo_view(committed_db, keys),
            client.log(),
        )
        assert "bootstrap done" not in client.log()

    def _reconcile(self, client, committed_db, keys, product_id, warehouse_id):
        """SIGTERM stops the sync cleanly; a tampered row is reported (key,
        projection's value, Odoo's value) and repaired by reconcile: exit
        code 1, then 0 when nothing differs."""
        sync = client.processes[-1]
        assert processes.stop(sync, 30) == 0, client.log()
        assert "stopped:" in client.log()
        client.execute(
            "UPDATE stock_levels SET reserved = reserved + 5, available = available - 5"
            " WHERE product_id = ? AND warehouse_id = ?",
            (product_id, warehouse_id),
        )
        assert not converged(client, committed_db, keys)
        result = client.reconcile()
        assert result.returncode == 1, result.stdout + result.stderr
        seq, on_hand, reserved, available = odoo_view(committed_db, keys)[product_id, warehouse_id]
        differed = [line for line in result.stdout.splitlines() if "->" in line]
        assert len(differed) == 1, result.stdout
        assert differed[0].startswith(f"product {product_id} [SYNC-")
        assert f"warehouse {warehouse_id}: projection seq {seq} on_hand {on_hand:g}" in differed[0]
        assert (
            f"reserved {reserved + 5:g} available {available - 5:g} | Odoo seq {seq}"
            in (differed[0])
        )
        assert differed[0].endswith("-> repaired")
        assert "1 differed, 1 repaired" in result.stdout
        assert converged(client, committed_db, keys)
        result = client.reconcile()
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 differed, 0 repaired" in result.stdout

    def _bad_input(self, client, channel, committed_db, keys, product_id):
        """A message that is not JSON, a level of an unknown schema version
        and a level far ahead of the projection's sequence (forged values)
        are dead-lettered with their reason; the projection keeps Odoo's
        levels."""
        sync = client.start()
        assert processes.wait_for_text(sync.log_path, "following queue", 120), client.log()
        key = (product_id, keys[0][1])
        seq = client.levels()[key][0]
        forged = {
            "schema_version": "1.0",
            "event_id": str(uuid.uuid4()),
            "event_type": "LEVEL",
            "occurred_at": "2026-12-07T10:05:31Z",
            "company_id": 1,
            "warehouse_id": key[1],
            "product_id": product_id,
            "default_code": None,
            "barcode": None,
            "sequence": seq + 5000,
            "on_hand": 12345.0,
            "reserved": 0.0,
            "available": 12345.0,
            "uom": "Units",
        }
        newer = dict(forged, event_id=str(uuid.uuid4()), schema_version="2.0", sequence=seq + 1)
        for body in (b"{not json", json.dumps(newer), json.dumps(forged)):
            amqp.publish(channel, "", client.queue, body, message_id=str(uuid.uuid4()))
        letters = []
        assert wait_until(
            lambda: letters.extend(dead_letters(channel, client.queue)) or len(letters) >= 3, 60
        ), client.log()
        reasons = [headers["x-poison-reason"] for headers, _body in letters]
        assert reasons[0].startswith("not JSON"), reasons
        assert reasons[1].startswith("unknown schema_version '2.0'"), reasons
        assert "is 5000 ahead of the projection's" in reasons[2], reasons
        log = client.log()
        assert all(reason in log for reason in reasons), log
        assert "resync done" in log
        assert converged(client, committed_db, keys)
        assert client.levels()[key][1] != 12345.0
