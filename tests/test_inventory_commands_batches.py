# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Batches of inventory commands over HTTP (``/api/stock/commands/batch``):
one answer per command, in order; a key twice posts once; a batch Odoo
refuses as a whole is posted one command at a time."""

import uuid

import pytest

from odoo.tests import tagged

from tests.harness.stock_flows import create_product, main_warehouse
from tests.inventory_commands import api_key, deliver, new_product, on_hand, receive

pytestmark = [pytest.mark.committed, pytest.mark.http, pytest.mark.slow]


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandBatches:
    def test_batch_of_fifty_with_three_bad(self, committed_db, odoo_server):
        product_id, code, stock_id, stock = new_product(committed_db, qty=100)
        key = api_key(committed_db)
        server = odoo_server()
        commands = [deliver(code, 1, stock, f"batch-{i}") for i in range(50)]
        commands[5]["product"] = "unknown-sku"
        commands[20]["quantity"] = -1
        commands[41]["quantity"] = 1000  # refused by the guard
        status, answer = server.post("/api/stock/commands/batch", {"commands": commands}, key)
        assert status == 200
        results = answer["results"]
        assert [r["idempotency_key"] for r in results] == [c["idempotency_key"] for c in commands]
        bad = {i: r["error"]["code"] for i, r in enumerate(results) if r["http_status"] != 200}
        assert bad == {5: "unknown_product", 20: "bad_quantity", 41: "insufficient_stock"}
        assert sum(r["status"] == "done" for r in results) == 47
        assert on_hand(committed_db, product_id, stock_id) == (53, 1)

    def test_a_key_twice_in_one_batch_posts_once(self, committed_db, odoo_server):
        """A scanner's offline batch holding the same command twice (and the
        same key with another quantity): posted once, the copy gets the same
        answer, the other payload idempotency_key_reused."""
        product_id, code, stock_id, stock = new_product(committed_db)
        key = api_key(committed_db)
        server = odoo_server()
        command = receive(code, 5, stock, "twice")
        status, answer = server.post(
            "/api/stock/commands/batch",
            {"commands": [command, dict(command, quantity=5.0), dict(command, quantity=6)]},
            key,
        )
        first, copy, other = answer["results"]
        assert first == copy and first["status"] == "done"
        assert other["error"]["code"] == "idempotency_key_reused"
        assert on_hand(committed_db, product_id, stock_id) == (5, 1)

    def test_batch_posted_together_falls_back_one_by_one(self, committed_db, odoo_server):
        """A batch's transfers are posted as one receipt; when Odoo refuses
        that receipt (a serial number twice), the batch is posted one command
        at a time: the first serial is received, the second refused."""
        with committed_db.env() as env:
            product = create_product(
                env, "Batch serial", tracking="serial", default_code=uuid.uuid4().hex[:8]
            )
            code, stock = product.default_code, main_warehouse(env).lot_stock_id.complete_name
        key = api_key(committed_db)
        server = odoo_server()

        commands = [
            dict(receive(code, 1, stock, key_), lot=serial)
            for key_, serial in (("sn-a", "SN-A"), ("sn-b", "SN-B"), ("sn-a2", "SN-A"))
        ]
        status, answer = server.post("/api/stock/commands/batch", {"commands": commands}, key)
        results = answer["results"]
        assert [r["status"] for r in results] == ["done", "done", "refused"], results
        assert results[2]["error"]["code"] == "serial_already_in_stock"
        assert results[0]["document"] != results[1]["document"]  # one by one
        with committed_db.env() as env:
            quants = env["stock.quant"].search(
                [("product_id.default_code", "=", code), ("location_id.usage", "=", "internal")]
            )
            assert sorted(quants.mapped("lot_id.name")) == ["SN-A", "SN-B"]
