# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over HTTP as scanners send them: a running Odoo
(``auth='bearer'``, an API key), committed data, concurrent clients: one
posting per key, refusals that name what is missing, GS1 barcodes."""

import json
import threading
import time

import pytest

from odoo.tests import tagged

from tests.harness import processes
from tests.harness.stock_flows import create_product, main_warehouse
from tests.inventory_commands import api_key, command, deliver, done_ledger, new_product, on_hand

pytestmark = [pytest.mark.committed, pytest.mark.http, pytest.mark.slow]


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandsOverHttp:
    def test_prefork_server_keeps_its_websocket_process(self, committed_db, odoo_server):
        """With ``--workers`` Odoo starts its websocket (gevent) process from
        the script it was started with: scripts/odoo-run starts it for good
        (``python -m odoo`` would make it die and restart many times a
        second, eating a core under every benchmark)."""
        server = odoo_server(workers=2)
        url = f"http://127.0.0.1:{server.gevent_port}/web/health"
        assert processes.wait_http(url, 60), server.log_path.read_text()[-3000:]
        time.sleep(3)
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]

    def test_twenty_copies_at_once_post_once(self, committed_db, odoo_server):
        """The same command sent 20 times at once: one posting, 20 identical
        answers."""
        product_id, code, stock_id, stock = new_product(committed_db)
        key = api_key(committed_db)
        server = odoo_server()
        body = {
            "type": "receive",
            "product": code,
            "quantity": 7,
            "location_dest": stock,
        }
        results = [None] * 20
        barrier = threading.Barrier(20)

        def send(index):
            barrier.wait()
            results[index] = server.command(body, key, idempotency_key="same-scan-1")

        threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {status for status, _answer in results} == {200}, results
        assert len({json.dumps(answer, sort_keys=True) for _s, answer in results}) == 1
        assert results[0][1]["on_hand"][0]["quantity"] == 7
        assert on_hand(committed_db, product_id, stock_id) == (7, 1)
        with committed_db.cursor() as cr:
            cr.execute("SELECT COUNT(*) FROM stock_picking WHERE origin = 'same-scan-1'")
            assert cr.fetchone()[0] == 1
            cr.execute(
                "SELECT COUNT(*) FROM stock_event_outbox"
                " WHERE product_id = %s AND event_type <> 'LEVEL'",
                (product_id,),
            )
            assert cr.fetchone()[0] == 1

    def test_refusal_names_product_location_and_quantities(self, committed_db, odoo_server):
        product_id, code, stock_id, stock = new_product(committed_db, qty=4)
        key = api_key(committed_db)
        server = odoo_server()
        status, answer = server.command(deliver(code, 9, stock, "too-many"), key)
        assert status == 422
        error = answer["error"]
        assert error["code"] == "insufficient_stock"
        assert error["details"]["location"] == stock
        assert error["details"]["requested"] == 9 and error["details"]["available"] == 4
        assert code in error["details"]["product"] and code in error["message"]
        # Stored: the same key answers the same refusal, and posts nothing.
        again = server.command(deliver(code, 9, stock, "too-many"), key)
        assert again == (status, answer)
        assert on_hand(committed_db, product_id, stock_id) == (4, 1)

    def test_count_of_zero_where_nothing_is_stocked(self, committed_db, odoo_server):
        """A count of 0 of a product that has no quant there: done, on hand 0,
        and the quant row it leaves holds 0, not NULL (issue 25)."""
        product_id, code, stock_id, stock = new_product(committed_db)
        count = command("count", product=code, location=stock, quantity=0)
        status, answer = odoo_server().command(count, api_key(committed_db))
        assert status == 200 and answer["status"] == "done", answer
        assert [line["quantity"] for line in answer["on_hand"]] == [0]
        with committed_db.cursor() as cr:
            cr.execute("SELECT quantity FROM stock_quant WHERE product_id = %s", [product_id])
            assert cr.fetchall() == [(0.0,)]
        assert done_ledger(committed_db, product_id, stock_id) == 0

    def test_gs1_barcodes(self, committed_db, odoo_server):
        """GS1-128 with GTIN, lot, serial, expiry, count and SSCC, decoded by
        Odoo's GS1 nomenclature; a wrong check digit is refused."""
        with committed_db.env() as env:
            lot_product = create_product(env, "GS1 lot", tracking="lot", barcode="00000000000017")
            serial_product = create_product(
                env, "GS1 serial", tracking="serial", barcode="04006381333931"
            )
            stock = main_warehouse(env).lot_stock_id.complete_name
            lot_id, serial_id = lot_product.id, serial_product.id
        key = api_key(committed_db)
        server = odoo_server()
        status, answer = server.command(
            {
                "idempotency_key": "gs1-a",
                "type": "receive",
                "location_dest": stock,
                "barcode": "(01)00000000000017(10)LOT-7(17)280131(37)12",
            },
            key,
        )
        assert status == 200, answer
        assert answer["on_hand"][0]["lot"] == "LOT-7" and answer["on_hand"][0]["quantity"] == 12
        # Raw form, FNC1 between variable fields, serial (21) and SSCC (00).
        status, answer = server.command(
            {
                "idempotency_key": "gs1-b",
                "type": "receive",
                "location_dest": stock,
                "barcode": "00000000000000000017" + "0104006381333931" + "21SN-1\x1d301",
            },
            key,
        )
        assert status == 200, answer
        assert answer["on_hand"][0]["lot"] == "SN-1"
        assert answer["on_hand"][0]["package"] == "000000000000000017"
        # A count of the lot, from the barcode's quantity (30).
        status, answer = server.command(
            {
                "idempotency_key": "gs1-c",
                "type": "count",
                "location": stock,
                "barcode": "(01)00000000000017(10)LOT-7(30)10",
            },
            key,
        )
        assert status == 200 and answer["on_hand"][0]["quantity"] == 10, answer
        status, answer = server.command(
            {
                "idempotency_key": "gs1-d",
                "type": "receive",
                "location_dest": stock,
                "barcode": "(01)04006381333932(21)SN-2(30)1",
            },
            key,
        )
        assert (status, answer["error"]["code"]) == (422, "bad_barcode")
        with committed_db.env() as env:
            command = env["stock.inventory.command"].search([("idempotency_key", "=", "gs1-a")])
            assert str(command.expiration_date) == "2028-01-31"
            assert command.lot_id.name == "LOT-7" and command.product_id.id == lot_id
            assert env["stock.lot"].search_count([("product_id", "=", serial_id)]) == 1

    def test_twenty_scanners_on_the_last_ten_units(self, committed_db, odoo_server):
        """20 scanners deliver 1 unit each of a product with 10 on hand,
        each retrying with a fresh request while the answer is 409 or a
        server error: exactly 10 posted, 10 refused by the guard, every
        request answered, one quant row, on hand equal to the ledger."""
        product_id, code, stock_id, stock = new_product(committed_db, qty=10)
        key = api_key(committed_db)
        server = odoo_server()
        outcomes = [None] * 20
        barrier = threading.Barrier(20)

        def scanner(index):
            body = deliver(code, 1, stock, f"scanner-{index}")
            barrier.wait()
            for _attempt in range(5):
                status, answer = server.command(body, key)
                if status not in (409, 500, 502, 503):
                    break
                time.sleep(0.05)
            outcomes[index] = (status, answer)

        threads = [threading.Thread(target=scanner, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _a in outcomes)
        assert statuses == [200] * 10 + [422] * 10, outcomes
        refused = [a["error"]["code"] for s, a in outcomes if s == 422]
        assert set(refused) == {"insufficient_stock"}
        assert on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert done_ledger(committed_db, product_id, stock_id) == 0
