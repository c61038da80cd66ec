# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands as scanners and integrations send them: real HTTP
against a running Odoo (``auth='bearer'``, an API key), real RabbitMQ with
the ``stock_command_consume`` process, committed data, concurrent clients."""

import configparser
import datetime
import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pika
import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib.command_consumer import declare_topology

from tests.harness import stack
from tests.harness.odoo_server import OdooServer
from tests.harness.stock_flows import create_product, main_warehouse
from tests.harness.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.committed, pytest.mark.slow]


@pytest.fixture
def odoo_server(harness, committed_db, tmp_path):
    servers = []

    def start(**kwargs):
        server = OdooServer(harness, committed_db.name, tmp_path, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _api_key(committed_db, login="admin", groups=None):
    """An API key of ``login`` (created with ``groups`` when missing)."""
    with committed_db.env() as env:
        user = env["res.users"].search([("login", "=", login)])
        if not user:
            user = env["res.users"].create(
                {"name": login, "login": login, "groups_id": [(6, 0, groups or [])]}
            )
        expires = datetime.datetime.now() + datetime.timedelta(days=1)
        return env["res.users.apikeys"].with_user(user)._generate("rpc", "tests", expires)


def _snapshot(committed_db, product_ids):
    """What a refused input must leave unchanged."""
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT (SELECT COUNT(*) FROM stock_move WHERE product_id = ANY(%(p)s)),
                      (SELECT COALESCE(SUM(quantity), 0) FROM stock_quant
                        WHERE product_id = ANY(%(p)s)),
                      (SELECT COUNT(*) FROM stock_event_outbox),
                      (SELECT COUNT(*) FROM stock_inventory_command)""",
            {"p": list(product_ids)},
        )
        return cr.fetchone()


def _on_hand(committed_db, product_id, location_id=None):
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT COALESCE(SUM(q.quantity), 0), COUNT(*) FROM stock_quant q
                WHERE q.product_id = %s AND q.location_id = %s""",
            (product_id, location_id),
        )
        return cr.fetchone()


def _done_ledger(committed_db, product_id, location_id):
    with committed_db.cursor() as cr:
        cr.execute(
            """SELECT COALESCE(SUM(CASE WHEN location_dest_id = %(l)s THEN quantity_product_uom
                                        ELSE -quantity_product_uom END), 0)
                 FROM stock_move_line
                WHERE state = 'done' AND product_id = %(p)s
                  AND (location_id = %(l)s OR location_dest_id = %(l)s)
                  AND location_id != location_dest_id""",
            {"p": product_id, "l": location_id},
        )
        return cr.fetchone()[0]


def _setup(committed_db, qty=0.0, **vals):
    with committed_db.env() as env:
        product = create_product(
            env,
            f"Scanned {uuid.uuid4().hex[:6]}",
            qty=qty,
            default_code=uuid.uuid4().hex[:8],
            **vals,
        )
        stock = main_warehouse(env).lot_stock_id
        return product.id, product.default_code, stock.id, stock.complete_name


def _deliver(code, qty, location, key=None):
    return {
        "idempotency_key": key or uuid.uuid4().hex,
        "type": "deliver",
        "product": code,
        "quantity": qty,
        "location": location,
    }


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandsOverHttp:
    def test_prefork_server_keeps_its_websocket_process(self, committed_db, odoo_server):
        """With ``--workers`` Odoo starts its websocket (gevent) process from
        the script it was started with: scripts/odoo-run starts it for good
        (``python -m odoo`` would make it die and restart many times a
        second, eating a core under every benchmark)."""
        server = odoo_server(workers=2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{server.gevent_port}/web/health"
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError(server.log_path.read_text()[-3000:])
        time.sleep(3)
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]

    def test_twenty_copies_at_once_post_once(self, committed_db, odoo_server):
        """The same command sent 20 times at once: one posting, 20 identical
        answers."""
        product_id, code, stock_id, stock = _setup(committed_db)
        key = _api_key(committed_db)
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
        assert _on_hand(committed_db, product_id, stock_id) == (7, 1)
        with committed_db.cursor() as cr:
            cr.execute("SELECT COUNT(*) FROM stock_picking WHERE origin = 'same-scan-1'")
            assert cr.fetchone()[0] == 1
            cr.execute(
                "SELECT COUNT(*) FROM stock_event_outbox WHERE product_id = %s", (product_id,)
            )
            assert cr.fetchone()[0] == 1

    def test_reused_key_and_bad_input_change_nothing(self, committed_db, odoo_server):
        """Every bad input gets its code and status; stock, the outbox and the
        command table are unchanged."""
        product_id, code, stock_id, stock = _setup(committed_db, qty=5)
        key = _api_key(committed_db)
        with committed_db.env() as env:
            no_stock_group = env.ref("base.group_user").id
        clerk_key = _api_key(committed_db, "clerk-no-stock", [no_stock_group])
        with committed_db.env() as env:
            # Another company, of which admin is not a member; a product kept in kg.
            other = env["res.company"].create({"name": "Other Co"})
            other_stock = env["stock.warehouse"].search([("company_id", "=", other.id)])
            other_stock = other_stock.lot_stock_id.complete_name
            kg_code = create_product(
                env,
                "Film",
                default_code=uuid.uuid4().hex[:8],
                uom_id=env.ref("uom.product_uom_kgm").id,
                uom_po_id=env.ref("uom.product_uom_kgm").id,
            ).default_code
            shelf = (
                env["stock.location"]
                .create({"name": "Cmd Shelf", "location_id": main_warehouse(env).lot_stock_id.id})
                .complete_name
            )
            service_code = (
                env["product.product"]
                .create(
                    {
                        "name": "Cmd Service",
                        "type": "service",
                        "default_code": uuid.uuid4().hex[:8],
                    }
                )
                .default_code
            )
        server = odoo_server()
        status, answer = server.command(_deliver(code, 2, stock, "k-reused"), key)
        assert status == 200, answer
        before = _snapshot(committed_db, [product_id])
        cases = [
            (
                server.command(_deliver(code, 3, stock, "k-reused"), key),
                422,
                "idempotency_key_reused",
            ),
            (server.command(_deliver("no-such-product", 1, stock), key), 422, "unknown_product"),
            (server.command(_deliver(code, 0, stock), key), 422, "bad_quantity"),
            (server.command(_deliver(code, -2, stock), key), 422, "bad_quantity"),
            (server.command(_deliver(code, 1, "WH/Nowhere"), key), 422, "unknown_location"),
            (server.command(_deliver(code, 1, "Partners/Customers"), key), 422, "bad_location"),
            (
                server.command(
                    {"type": "deliver", "product": code, "quantity": 1, "location": stock}, key
                ),
                400,
                "missing_idempotency_key",
            ),
            (server.command({"idempotency_key": "x", "type": "teleport"}, key), 400, "malformed"),
            (server.command(None, key, raw=b"{not json"), 400, "malformed"),
            (server.command(dict(_deliver(code, 1, stock), colour="red"), key), 400, "malformed"),
            (
                server.command(
                    {
                        "idempotency_key": "g",
                        "type": "receive",
                        "location_dest": stock,
                        "barcode": "(01)00000000000018(10)L1(30)2",
                    },
                    key,
                ),
                422,
                "bad_barcode",
            ),
            (server.command(_deliver(service_code, 1, stock), key), 422, "bad_product"),
            (
                server.post("/api/stock/commands", None, key, raw=b"", method="GET"),
                405,
                "method_not_allowed",
            ),
            (server.command(_deliver(code, 1, stock), "wrong-key"), 401, "unauthorized"),
            (server.command(_deliver(code, 1, stock), None), 401, "unauthorized"),
            (server.command(_deliver(code, 1, stock), clerk_key), 403, "forbidden"),
            (server.command(_deliver(code, 1, other_stock), key), 403, "forbidden"),
            (server.command(_deliver(99999999999, 1, stock), key), 400, "malformed"),
            (server.command(_deliver("nul\x00byte", 1, stock), key), 400, "malformed"),
            (server.command(_deliver(code, 1.7e308, stock), key), 422, "bad_quantity"),
            (server.command(dict(_deliver(code, 1, stock), lot="L-1"), key), 400, "malformed"),
            (
                server.command(dict(_deliver(code, 1, stock), location_dest=shelf), key),
                422,
                "bad_location",
            ),
            (
                server.command(
                    {
                        "idempotency_key": uuid.uuid4().hex,
                        "type": "receive",
                        "product": code,
                        "quantity": 1,
                        "location": stock,
                        "location_dest": shelf,
                    },
                    key,
                ),
                422,
                "bad_location",
            ),
            (
                server.command(
                    {
                        "idempotency_key": uuid.uuid4().hex,
                        "type": "scrap",
                        "product": code,
                        "quantity": 1,
                        "location": stock,
                        "location_dest": shelf,
                    },
                    key,
                ),
                422,
                "bad_location",
            ),
            (
                server.command(
                    {
                        "idempotency_key": uuid.uuid4().hex,
                        "type": "receive",
                        "product": kg_code,
                        "quantity": 0.3,
                        "uom": "g",
                        "location_dest": stock,
                    },
                    key,
                ),
                422,
                "bad_quantity",
            ),
            (
                server.post("/api/stock/commands/batch", {"commands": [{}] * 501}, key),
                400,
                "batch_too_large",
            ),
        ]
        for (status, answer), expected_status, code_ in cases:
            assert (status, answer["error"]["code"]) == (expected_status, code_), answer
            assert answer["error"]["message"]
        # Errors raised before the controller carry the header's key too.
        status, answer = server.command(
            _deliver(code, 1, stock), "wrong-key", idempotency_key="h-1"
        )
        assert (status, answer["idempotency_key"]) == (401, "h-1"), answer
        assert _snapshot(committed_db, [product_id]) == before
        # The reused key still answers its own command.
        status, answer = server.command(_deliver(code, 2, stock, "k-reused"), key)
        assert status == 200 and answer["on_hand"][0]["quantity"] == 3

    def test_non_ascii_key_in_header_and_body_posts_once(self, committed_db, odoo_server):
        """``clé-X`` in the Idempotency-Key header (UTF-8 or Latin-1 bytes)
        is refused, naming the header, and changes nothing; in the body it
        posts once, and again it answers the stored outcome."""
        product_id, code, _stock_id, stock = _setup(committed_db, qty=5)
        key = _api_key(committed_db)
        server = odoo_server()
        body = {"type": "deliver", "product": code, "quantity": 1, "location": stock}
        before = _snapshot(committed_db, [product_id])
        for header in ("clé-X".encode(), "clé-X".encode("latin-1")):
            status, answer = server.command(body, key, headers={"Idempotency-Key": header})
            assert (status, answer["error"]["code"]) == (400, "malformed"), answer
            assert answer["error"]["details"] == {"field": "Idempotency-Key"}, answer
            assert answer["idempotency_key"] is None, answer
        assert _snapshot(committed_db, [product_id]) == before
        first = server.command(dict(body, idempotency_key="clé-X"), key)
        again = server.command(dict(body, idempotency_key="clé-X"), key)
        assert first[0] == 200 and first == again, (first, again)
        assert first[1]["idempotency_key"] == "clé-X"
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key FROM stock_inventory_command WHERE product_id = %s",
                (product_id,),
            )
            assert cr.fetchall() == [("clé-X",)]

    def test_hostile_input_is_refused_as_json(self, committed_db, odoo_server):
        """Input edges: each is answered as JSON with its documented code and
        status, the key it came with, and changes nothing."""
        product_id, code, _stock_id, stock = _setup(committed_db, qty=5)
        key = _api_key(committed_db)
        server = odoo_server()
        before = _snapshot(committed_db, [product_id])
        single = json.dumps(_deliver(code, 1, stock, "edge-1"))

        def raw(text, api_key=key, **kwargs):
            data = text.encode() if isinstance(text, str) else text
            return server.command(None, api_key, raw=data, **kwargs)

        huge = single.replace('"quantity": 1,', '"quantity": 1' + "0" * 400 + ",")
        cases = [
            # An integer too large for a float, with the key in the header.
            (
                raw(huge.replace('"idempotency_key": "edge-1", ', ""), idempotency_key="edge-h"),
                422,
                "bad_quantity",
                "edge-h",
            ),
            (raw(huge.replace("1" + "0" * 400, "-1" + "0" * 400)), 422, "bad_quantity", "edge-1"),
            (raw(huge.replace("1" + "0" * 400, "9" * 5000)), 422, "bad_quantity", "edge-1"),
            (
                raw(single.replace('"quantity": 1,', '"quantity": "abc",')),
                422,
                "bad_quantity",
                "edge-1",
            ),
            (
                raw(single.replace('"quantity": 1,', '"quantity": "2",')),
                422,
                "bad_quantity",
                "edge-1",
            ),
            (
                raw(single.replace('"quantity": 1,', '"quantity": NaN,')),
                422,
                "bad_quantity",
                "edge-1",
            ),
            (
                raw(single.replace('"quantity": 1,', '"quantity": Infinity,')),
                422,
                "bad_quantity",
                "edge-1",
            ),
            (
                raw(single.replace('"quantity": 1,', '"quantity": 1e13,')),
                422,
                "bad_quantity",
                "edge-1",
            ),
            # A name twice: which value counts is ambiguous (single, batch, nested).
            (raw(single[:-1] + ', "quantity": 1000}'), 400, "malformed", None),
            (
                server.post(
                    "/api/stock/commands/batch",
                    None,
                    key,
                    raw=('{"commands": [' + single[:-1] + ', "quantity": 1000}]}').encode(),
                ),
                400,
                "malformed",
                None,
            ),
            (raw(single[:-1] + ', "reference": {"a": 1, "a": 2}}'), 400, "malformed", None),
            # Not JSON of the API's media type.
            (
                raw(single, headers={"Content-Type": "text/plain"}),
                415,
                "unsupported_media_type",
                None,
            ),
            (
                raw(single, headers={"Content-Type": "application/json; charset=latin-1"}),
                415,
                "unsupported_media_type",
                None,
            ),
            (
                raw(
                    single,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    idempotency_key="edge-f",
                ),
                415,
                "unsupported_media_type",
                "edge-f",
            ),
            (raw(b""), 400, "malformed", None),
            (raw(b"[1, 2]"), 400, "malformed", None),
            (raw(single.replace("edge-1", "edge-\\udc80")), 400, "malformed", None),
            (raw(single.replace("edge-1", "x" * 300)), 400, "malformed", "x" * 300),
            (raw(single, idempotency_key="k" * 300), 400, "malformed", "k" * 300),
            (raw("[" * 100000 + "]" * 100000), 400, "malformed", None),
            (
                raw(single.replace('"edge-1"', '"edge-1", "reference": "' + "r" * 10**7 + '"')),
                400,
                "malformed",
                "edge-1",
            ),
            (
                server.post("/api/stock/commands/batch", None, key, raw=b"[" * 100000),
                400,
                "malformed",
                None,
            ),
            # Paths of the API that do not exist, any method.
            (server.post("/api/stock/comands", {}, key), 404, "not_found", None),
            (server.post("/api/stock/", None, key, raw=b"", method="GET"), 404, "not_found", None),
            (
                server.post("/api/stock/commands/batch/x", None, key, raw=b"", method="DELETE"),
                404,
                "not_found",
                None,
            ),
            (server.post("/api/stock/nope", {}, None), 404, "not_found", None),
            (server.post("/api/stock", {}, key), 404, "not_found", None),
            # Werkzeug's routing lets OPTIONS reach a POST route: refused, not posted.
            (raw(single, method="OPTIONS"), 405, "method_not_allowed", None),
            (
                server.post("/api/stock/commands/batch", {"commands": []}, key, method="OPTIONS"),
                405,
                "method_not_allowed",
                None,
            ),
            # The method is checked before the API key, for every method.
            (raw(single, method="OPTIONS", api_key=None), 405, "method_not_allowed", None),
            (
                server.post("/api/stock/commands", {}, None, method="PUT"),
                405,
                "method_not_allowed",
                None,
            ),
        ]
        for (status, answer), expected_status, code_, answer_key in cases:
            assert isinstance(answer, dict), (expected_status, code_, str(answer)[:300])
            assert (status, answer["error"]["code"]) == (expected_status, code_), answer
            assert answer["error"]["message"]
            assert answer["idempotency_key"] == answer_key, answer
        # A 405 names the one method the API takes.
        options = urllib.request.Request(f"{server.url}/api/stock/commands", method="OPTIONS")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(options, timeout=60)  # noqa: S310 - loopback
        assert (refused.value.code, refused.value.headers["Allow"]) == (405, "POST")
        # Invalid UTF-8 in a field: refused, not read with U+FFFD in its place.
        bad_utf8 = single.encode().replace(b'"edge-1"', b'"edge-1", "reference": "r\xff"')
        status, answer = raw(bad_utf8)
        assert (status, answer["error"]["code"]) == (400, "malformed"), answer
        assert _snapshot(committed_db, [product_id]) == before
        # The same command, well formed, posts.
        status, answer = raw(single)
        assert (status, answer["idempotency_key"]) == (200, "edge-1"), answer

    def test_refusal_names_product_location_and_quantities(self, committed_db, odoo_server):
        product_id, code, stock_id, stock = _setup(committed_db, qty=4)
        key = _api_key(committed_db)
        server = odoo_server()
        status, answer = server.command(_deliver(code, 9, stock, "too-many"), key)
        assert status == 422
        error = answer["error"]
        assert error["code"] == "insufficient_stock"
        assert error["details"]["location"] == stock
        assert error["details"]["requested"] == 9 and error["details"]["available"] == 4
        assert code in error["details"]["product"] and code in error["message"]
        # Stored: the same key answers the same refusal, and posts nothing.
        again = server.command(_deliver(code, 9, stock, "too-many"), key)
        assert again == (status, answer)
        assert _on_hand(committed_db, product_id, stock_id) == (4, 1)

    def test_count_of_zero_where_nothing_is_stocked(self, committed_db, odoo_server):
        """A count of 0 of a product that has no quant there: done, on hand 0,
        and the quant row it leaves holds 0, not NULL (issue 25)."""
        product_id, code, stock_id, stock = _setup(committed_db)
        count = {
            "idempotency_key": uuid.uuid4().hex,
            "type": "count",
            "product": code,
            "location": stock,
            "quantity": 0,
        }
        status, answer = odoo_server().command(count, _api_key(committed_db))
        assert status == 200 and answer["status"] == "done", answer
        assert [line["quantity"] for line in answer["on_hand"]] == [0]
        with committed_db.cursor() as cr:
            cr.execute("SELECT quantity FROM stock_quant WHERE product_id = %s", [product_id])
            assert cr.fetchall() == [(0.0,)]
        assert _done_ledger(committed_db, product_id, stock_id) == 0

    def test_batch_of_fifty_with_three_bad(self, committed_db, odoo_server):
        product_id, code, stock_id, stock = _setup(committed_db, qty=100)
        key = _api_key(committed_db)
        server = odoo_server()
        commands = [_deliver(code, 1, stock, f"batch-{i}") for i in range(50)]
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
        assert _on_hand(committed_db, product_id, stock_id) == (53, 1)

    def test_a_key_twice_in_one_batch_posts_once(self, committed_db, odoo_server):
        """A scanner's offline batch holding the same command twice (and the
        same key with another quantity): posted once, the copy gets the same
        answer, the other payload idempotency_key_reused."""
        product_id, code, stock_id, stock = _setup(committed_db)
        key = _api_key(committed_db)
        server = odoo_server()
        command = {
            "idempotency_key": "twice",
            "type": "receive",
            "product": code,
            "quantity": 5,
            "location_dest": stock,
        }
        status, answer = server.post(
            "/api/stock/commands/batch",
            {"commands": [command, dict(command, quantity=5.0), dict(command, quantity=6)]},
            key,
        )
        first, copy, other = answer["results"]
        assert first == copy and first["status"] == "done"
        assert other["error"]["code"] == "idempotency_key_reused"
        assert _on_hand(committed_db, product_id, stock_id) == (5, 1)

    def test_batch_posted_together_falls_back_one_by_one(self, committed_db, odoo_server):
        """A batch's transfers are posted as one receipt; when Odoo refuses
        that receipt (a serial number twice), the batch is posted one command
        at a time: the first serial is received, the second refused."""
        with committed_db.env() as env:
            product = create_product(
                env, "Batch serial", tracking="serial", default_code=uuid.uuid4().hex[:8]
            )
            code, stock = product.default_code, main_warehouse(env).lot_stock_id.complete_name
        key = _api_key(committed_db)
        server = odoo_server()

        def receive(key_, serial):
            return {
                "idempotency_key": key_,
                "type": "receive",
                "product": code,
                "quantity": 1,
                "lot": serial,
                "location_dest": stock,
            }

        status, answer = server.post(
            "/api/stock/commands/batch",
            {
                "commands": [
                    receive("sn-a", "SN-A"),
                    receive("sn-b", "SN-B"),
                    receive("sn-a2", "SN-A"),
                ]
            },
            key,
        )
        results = answer["results"]
        assert [r["status"] for r in results] == ["done", "done", "refused"], results
        assert results[2]["error"]["code"] == "serial_already_in_stock"
        assert results[0]["document"] != results[1]["document"]  # one by one
        with committed_db.env() as env:
            quants = env["stock.quant"].search(
                [("product_id.default_code", "=", code), ("location_id.usage", "=", "internal")]
            )
            assert sorted(quants.mapped("lot_id.name")) == ["SN-A", "SN-B"]

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
        key = _api_key(committed_db)
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
        product_id, code, stock_id, stock = _setup(committed_db, qty=10)
        key = _api_key(committed_db)
        server = odoo_server()
        outcomes = [None] * 20
        barrier = threading.Barrier(20)

        def scanner(index):
            body = _deliver(code, 1, stock, f"scanner-{index}")
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
        assert _on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert _done_ledger(committed_db, product_id, stock_id) == 0


def _map_broker_user(committed_db, broker_user, login):
    """Map RabbitMQ user ``broker_user`` to the Odoo user ``login`` (as an
    administrator does on the user's form)."""
    with committed_db.env() as env:
        users = env["res.users"].with_context(active_test=False)
        users.search([("amqp_user", "=", broker_user)]).amqp_user = False
        users.search([("login", "=", login)]).amqp_user = broker_user


class BrokerUser:
    """A RabbitMQ user of its own (``rabbitmqctl add_user``) with the
    permissions the README gives an integration: publish to the command
    exchange, declare and read its own reply queue (``amq.gen-*``)."""

    def __init__(self, exchange):
        self.name = f"sscale_test_{uuid.uuid4().hex[:8]}"
        self.password = uuid.uuid4().hex
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        self.vhost = urllib.parse.unquote(parsed.path[1:] or "/")
        self.url = urllib.parse.urlunsplit(
            parsed._replace(netloc=f"{self.name}:{self.password}@{parsed.hostname}:{parsed.port}")
        )
        self._ctl("add_user", self.name, self.password)
        self._ctl(
            "set_permissions",
            "-p",
            self.vhost,
            self.name,
            r"^amq\.gen-.*",
            f"^{re.escape(exchange)}$",
            r"^amq\.gen-.*",
        )

    @staticmethod
    def _ctl(*args):
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    def channel(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        channel.confirm_delivery()
        return channel

    def delete(self):
        self._ctl("delete_user", self.name)


class CommandBus:
    """A test's own command exchange (unique name) and consumer processes.
    Its publishing connection's RabbitMQ user (guest) is mapped to admin."""

    def __init__(self, harness, db_name, tmp_path, queues=4, committed_db=None):
        self.exchange = f"sscale.test.commands.{uuid.uuid4().hex[:8]}"
        self.broker_user = urllib.parse.urlsplit(stack.amqp_url()).username
        if committed_db is not None:
            _map_broker_user(committed_db, self.broker_user, "admin")
        self.queues = queues
        parser = configparser.RawConfigParser()
        parser.read(harness["conf"])
        if not parser.has_section("stock_event_bus"):
            parser.add_section("stock_event_bus")
        parser.set("stock_event_bus", "command_exchange", self.exchange)
        parser.set("stock_event_bus", "command_queues", str(queues))
        self.conf = tmp_path / f"commands-{uuid.uuid4().hex[:6]}.conf"
        with self.conf.open("w") as handle:
            parser.write(handle)
        self.db_name = db_name
        self.processes = []
        self.connection = pika.BlockingConnection(pika.URLParameters(stack.amqp_url()))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.reply_queue = self.channel.queue_declare("", exclusive=True).method.queue

    def start(self, *args, env=None):
        log = self.conf.with_suffix(f".{len(self.processes)}.log")
        handle = log.open("w")
        process = subprocess.Popen(
            stack.dispatch_command(
                self.conf, self.db_name, *args, command="stock_command_consume"
            ),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=dict(stack.odoo_env(), **(env or {})),
        )
        process.log_path = log
        self.processes.append(process)
        self.wait_for_consumers(1 if "--queues" in args else self.queues)
        return process

    def wait_for_consumers(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                declared = self.channel.queue_declare(f"{self.exchange}.0", passive=True)
                if declared.method.consumer_count >= 1:
                    return
            except pika.exceptions.ChannelClosedByBroker:
                self.channel = self.connection.channel()
                self.channel.confirm_delivery()
            time.sleep(0.3)
        logs = "\n".join(p.log_path.read_text() for p in self.processes)
        raise AssertionError(f"no consumer on {self.exchange}: {logs}")

    def publish(self, command, routing_key, channel=None, reply=True, user_id=True, **kwargs):
        """Publish ``command`` with ``user_id`` the bus's RabbitMQ user
        (``user_id``: another name, or None for none)."""
        (channel or self.channel).basic_publish(
            self.exchange,
            routing_key,
            json.dumps(command) if not isinstance(command, bytes) else command,
            pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                user_id=self.broker_user if user_id is True else user_id,
                reply_to=self.reply_queue if reply else None,
                correlation_id=command.get("idempotency_key")
                if isinstance(command, dict)
                else "raw",
            ),
            **kwargs,
        )

    def replies(self, expected, timeout=120):
        got = {}
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.reply_queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.1)
                continue
            got[properties.correlation_id] = json.loads(body)
        return got

    def dead_letters(self):
        letters = []
        while True:
            method, properties, body = self.channel.basic_get(
                f"{self.exchange}.dead", auto_ack=True
            )
            if method is None:
                return letters
            letters.append((properties.headers or {}, body))

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        channel = self.connection.channel()
        for index in range(self.queues):
            channel.queue_delete(f"{self.exchange}.{index}")
        channel.queue_delete(f"{self.exchange}.dead")
        channel.exchange_delete(f"{self.exchange}.dlx")
        channel.exchange_delete(self.exchange)
        self.connection.close()


@pytest.fixture
def command_bus(harness, committed_db, tmp_path):
    made = []

    def make(**kwargs):
        bus = CommandBus(harness, committed_db.name, tmp_path, committed_db=committed_db, **kwargs)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandsOverAmqp:
    def test_race_of_eight_publishers_posts_what_is_there(self, committed_db, command_bus):
        """8 publishers deliver 1 unit each, 10 times, of a product with 30
        on hand: exactly 30 posted, 50 dead-lettered as refused, on hand 0,
        one quant row; a malformed message is dead-lettered too."""
        product_id, code, stock_id, stock = _setup(committed_db, qty=30)
        bus = command_bus()
        bus.start()

        def publisher(index):
            connection = pika.BlockingConnection(pika.URLParameters(stack.amqp_url()))
            channel = connection.channel()
            channel.confirm_delivery()
            for n in range(10):
                bus.publish(_deliver(code, 1, stock, f"amqp-{index}-{n}"), code, channel=channel)
            connection.close()

        threads = [threading.Thread(target=publisher, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        bus.publish(b"{broken", code, reply=False)
        replies = bus.replies(80)
        assert len(replies) == 80
        done = [r for r in replies.values() if r["status"] == "done"]
        refused = [r for r in replies.values() if r["status"] == "refused"]
        assert (len(done), len(refused)) == (30, 50)
        assert {r["error"]["code"] for r in refused} == {"insufficient_stock"}
        assert _on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert _done_ledger(committed_db, product_id, stock_id) == 0
        deadline = time.monotonic() + 30
        letters = []
        while len(letters) < 51 and time.monotonic() < deadline:
            letters += bus.dead_letters()
            time.sleep(0.2)
        codes = sorted(headers["x-error-code"] for headers, _body in letters)
        assert codes == ["insufficient_stock"] * 50 + ["malformed"]

    def test_sigkill_before_ack_redelivers_without_posting_twice(self, committed_db, command_bus):
        """The consumer is killed (SIGKILL) after its commit and before its
        ack; the broker redelivers to the next consumer, which answers from
        the stored outcome: each command posted once."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        # The queues first, then the five commands, then the consumer: its
        # first batch holds all five.
        declare_topology(bus.channel, bus.exchange, bus.queues)
        for n in range(5):
            bus.publish(
                {
                    "idempotency_key": f"kill-{n}",
                    "type": "receive",
                    "product": code,
                    "quantity": 1,
                    "location_dest": stock,
                },
                code,
            )
        first = bus.start(env={"STOCK_COMMAND_CONSUME_PAUSE_BEFORE_ACK": "30"})
        deadline = time.monotonic() + 60
        while "pausing before ack" not in first.log_path.read_text():
            assert time.monotonic() < deadline, first.log_path.read_text()
            time.sleep(0.2)
        first.kill()
        first.wait()
        assert _on_hand(committed_db, product_id, stock_id)[0] == 5  # committed
        bus.start()
        replies = bus.replies(5)
        assert sorted(replies) == [f"kill-{n}" for n in range(5)]
        assert {r["status"] for r in replies.values()} == {"done"}
        assert _on_hand(committed_db, product_id, stock_id) == (5, 1)
        with committed_db.cursor() as cr:
            # One done move per command (the batch posted them as one receipt).
            cr.execute(
                "SELECT COUNT(*), COUNT(DISTINCT picking_id) FROM stock_move"
                " WHERE product_id = %s AND state = 'done'",
                (product_id,),
            )
            assert cr.fetchone() == (5, 1)
            cr.execute(
                "SELECT COUNT(*) FROM stock_inventory_command WHERE idempotency_key LIKE 'kill-%%'"
                " AND state = 'done' AND picking_id IS NOT NULL"
            )
            assert cr.fetchone()[0] == 5

    def test_idle_consumer_keeps_its_connection(self, committed_db, command_bus):
        """With a 2-second heartbeat, 8 quiet seconds do not cost the
        consumer its connection: the next command is posted without a
        reconnection in the log."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        process = bus.start(env={"STOCK_EVENT_BUS_AMQP_URL": stack.amqp_url() + "?heartbeat=2"})
        time.sleep(8)
        bus.publish(
            {
                "idempotency_key": "after-idle",
                "type": "receive",
                "product": code,
                "quantity": 3,
                "location_dest": stock,
            },
            code,
        )
        replies = bus.replies(1, timeout=30)
        assert replies["after-idle"]["status"] == "done"
        assert "unavailable" not in process.log_path.read_text()
        assert _on_hand(committed_db, product_id, stock_id) == (3, 1)

    def test_ambiguous_and_too_deep_messages_are_dead_lettered(self, committed_db, command_bus):
        """A message that gives a name twice, nests deeper than the JSON
        decoder goes, or carries a NUL in its message_id is dead-lettered as
        malformed and the consumer goes on; a key in message_id (UTF-8:
        clé-Y, also with a combining accent) is the same key as in the
        body: posted once."""
        product_id, code, stock_id, stock = _setup(committed_db, qty=5)
        bus = command_bus()
        process = bus.start()
        twice = json.dumps(_deliver(code, 1, stock, "amqp-twice"))[:-1] + ', "quantity": 4}'
        bus.publish(twice.encode(), code, reply=False)
        bus.publish(b"[" * 100000, code, reply=False)
        command = _deliver(code, 1, stock, "clé-Y")
        bus.publish(command, code)
        del command["idempotency_key"]
        bus.channel.basic_publish(
            bus.exchange,
            code,
            json.dumps(command),
            pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                reply_to=bus.reply_queue,
                correlation_id="by-message-id",
                message_id="clé-Y",
                user_id=bus.broker_user,
            ),
        )
        for correlation_id, message_id in (("decomposed", "cle\u0301-Y"), ("nul", "a\x00b")):
            bus.channel.basic_publish(
                bus.exchange,
                code,
                json.dumps(command),
                pika.BasicProperties(
                    delivery_mode=2,
                    content_type="application/json",
                    reply_to=bus.reply_queue,
                    correlation_id=correlation_id,
                    message_id=message_id,
                    user_id=bus.broker_user,
                ),
            )
        replies = bus.replies(4, timeout=60)
        assert replies["clé-Y"]["status"] == "done", (replies, process.log_path.read_text())
        assert replies["by-message-id"] == replies["clé-Y"], replies
        assert replies["decomposed"] == replies["clé-Y"], replies
        assert replies["nul"]["error"]["code"] == "malformed", replies["nul"]
        deadline = time.monotonic() + 30
        letters = []
        while len(letters) < 3 and time.monotonic() < deadline:
            letters += bus.dead_letters()
            time.sleep(0.2)
        assert [headers["x-error-code"] for headers, _body in letters] == ["malformed"] * 3
        assert process.poll() is None
        assert _on_hand(committed_db, product_id, stock_id) == (4, 1)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key FROM stock_inventory_command WHERE product_id = %s",
                (product_id,),
            )
            assert cr.fetchall() == [("clé-Y",)]

    def test_broker_outage_and_database_restart_are_survived(self, committed_db, command_bus):
        """The consumer's broker connection is cut while commands are
        published, then its database sessions are killed: it logs each loss,
        reconnects, and posts every command once; SIGTERM then stops it
        cleanly with its status row saying so."""
        product_id, code, stock_id, stock = _setup(committed_db)
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        proxy = TcpProxy(parsed.hostname, parsed.port or 5672).start()
        url = parsed._replace(netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:{proxy.port}")
        bus = command_bus()

        def receive(key_):
            return {
                "idempotency_key": key_,
                "type": "receive",
                "product": code,
                "quantity": 1,
                "location_dest": stock,
            }

        try:
            process = bus.start(env={"STOCK_EVENT_BUS_AMQP_URL": urllib.parse.urlunsplit(url)})
            bus.publish(receive("before"), code)
            assert bus.replies(1)["before"]["status"] == "done"
            proxy.stop()
            for n in range(3):
                bus.publish(receive(f"outage-{n}"), code)
            deadline = time.monotonic() + 60
            while "unavailable" not in process.log_path.read_text():
                assert time.monotonic() < deadline, process.log_path.read_text()[-3000:]
                time.sleep(0.3)
            proxy.start()
            replies = bus.replies(3, timeout=120)
            assert sorted(replies) == ["outage-0", "outage-1", "outage-2"]
            # The database goes away (a failover, a restart).
            with committed_db.cursor() as cr:
                cr.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = %s",
                    [committed_db.name, f"odoo-{process.pid}"],
                )
                assert cr.rowcount >= 1
            bus.publish(receive("after-db"), code)
            assert bus.replies(1, timeout=120)["after-db"]["status"] == "done"
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
        finally:
            proxy.stop()
        log = process.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert _on_hand(committed_db, product_id, stock_id) == (5, 1)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT kind, state FROM stock_event_dispatcher WHERE name LIKE %s",
                [f"%:{process.pid} (commands)"],
            )
            assert cr.fetchone() == ("command_consumer", "stopped")

    def test_commands_of_a_product_apply_in_publishing_order(self, committed_db, command_bus):
        """Two consumer processes (one active per queue, one standby), a
        product with nothing on hand, and 40 receive/deliver pairs published
        in turn: every delivery finds its receipt before it, so all 80 are
        posted; the standby takes over when the active one stops."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        first = bus.start()
        bus.start()

        def pair(n):
            yield {
                "idempotency_key": f"in-{n}",
                "type": "receive",
                "product": code,
                "quantity": 1,
                "location_dest": stock,
            }
            yield {
                "idempotency_key": f"out-{n}",
                "type": "deliver",
                "product": code,
                "quantity": 1,
                "location": stock,
            }

        for n in range(20):
            for command in pair(n):
                bus.publish(command, code)
        assert {r["status"] for r in bus.replies(40).values()} == {"done"}
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
        for n in range(20, 40):
            for command in pair(n):
                bus.publish(command, code)
        replies = bus.replies(40, timeout=120)
        assert len(replies) == 40 and {r["status"] for r in replies.values()} == {"done"}
        assert _on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert _done_ledger(committed_db, product_id, stock_id) == 0


@pytest.fixture
def broker_users():
    made = []

    def make(exchange):
        user = BrokerUser(exchange)
        made.append(user)
        return user

    yield make
    for user in made:
        user.delete()


def _odoo_user(committed_db, login, groups=("stock.group_stock_user",), broker_user=None):
    """A user of the main company only, mapped to ``broker_user``."""
    with committed_db.env() as env:
        company = env.ref("base.main_company")
        user = env["res.users"].create(
            {
                "name": login,
                "login": login,
                "groups_id": [(6, 0, [env.ref(g).id for g in groups])],
                "company_id": company.id,
                "company_ids": [(6, 0, company.ids)],
                "amqp_user": broker_user,
            }
        )
        return user.id


def _receive(code, qty, location, key=None):
    return {
        "idempotency_key": key or uuid.uuid4().hex,
        "type": "receive",
        "product": code,
        "quantity": qty,
        "location_dest": location,
    }


def _letters(bus, count, timeout=30):
    deadline = time.monotonic() + timeout
    letters = []
    while len(letters) < count and time.monotonic() < deadline:
        letters += bus.dead_letters()
        time.sleep(0.2)
    return letters


COMMAND = "stock_command_consume"


@tagged("-at_install", "post_install", "sscale_committed")
class TestAmqpCommandUsers:
    """Who an AMQP command is posted as: the Odoo user mapped to the
    message's user_id, which RabbitMQ checks against the publisher's login."""

    def test_a_mapped_user_posts_with_its_own_rights(
        self, committed_db, command_bus, broker_users
    ):
        """An integration's RabbitMQ user, mapped to a stock user of the main
        company: its receipt is posted as that user (the command, the move
        and the transfer are its), and a receipt into another company's
        stock is refused forbidden as over HTTP, dead-lettered with its code."""
        product_id, code, stock_id, stock = _setup(committed_db)
        with committed_db.env() as env:
            other = env["res.company"].create({"name": f"Other {uuid.uuid4().hex[:6]}"})
            other_stock = env["stock.warehouse"].search([("company_id", "=", other.id)])
            other_stock_id = other_stock.lot_stock_id.id
        bus = command_bus()
        integration = broker_users(bus.exchange)
        clerk = _odoo_user(committed_db, integration.name, broker_user=integration.name)
        bus.start()
        channel = integration.channel()
        bus.publish(
            _receive(code, 4, stock, "mine"), code, channel=channel, user_id=integration.name
        )
        bus.publish(
            _receive(code, 1, other_stock_id, "theirs"),
            code,
            channel=channel,
            user_id=integration.name,
        )
        replies = bus.replies(2)
        assert replies["mine"]["status"] == "done", replies
        assert replies["theirs"]["http_status"] == 403, replies
        assert replies["theirs"]["error"]["code"] == "forbidden"
        assert integration.name in replies["theirs"]["error"]["message"]
        with committed_db.cursor() as cr:
            cr.execute(
                """SELECT c.user_id, c.create_uid, m.create_uid, p.create_uid
                     FROM stock_inventory_command c
                     JOIN stock_move m ON m.picking_id = c.picking_id
                     JOIN stock_picking p ON p.id = c.picking_id
                    WHERE c.idempotency_key = 'mine'"""
            )
            assert cr.fetchone() == (clerk, clerk, clerk, clerk)
        assert _on_hand(committed_db, product_id, stock_id) == (4, 1)
        assert _on_hand(committed_db, product_id, other_stock_id) == (0, 0)
        [(headers, body)] = _letters(bus, 1)
        assert headers["x-error-code"] == "forbidden"
        assert headers["x-original-user-id"] == integration.name
        assert json.loads(body)["idempotency_key"] == "theirs"

    def test_no_user_or_an_unmapped_one_posts_nothing(
        self, committed_db, command_bus, broker_users
    ):
        """No default user: a message without user_id, one of a RabbitMQ user
        mapped to nobody, or mapped to an archived user, is answered and
        dead-lettered ``unknown_broker_user``; a user without Inventory
        rights is refused ``forbidden``, as over HTTP. Nothing is posted."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        unmapped, archived, no_rights = (broker_users(bus.exchange) for _n in range(3))
        _odoo_user(committed_db, archived.name, broker_user=archived.name)
        with committed_db.env() as env:
            env["res.users"].search([("login", "=", archived.name)]).action_archive()
        _odoo_user(
            committed_db, no_rights.name, groups=("base.group_user",), broker_user=no_rights.name
        )
        bus.start()
        bus.publish(_receive(code, 1, stock, "anonymous"), code, user_id=None)
        for key, user in (
            ("unmapped", unmapped),
            ("archived", archived),
            ("no-rights", no_rights),
        ):
            bus.publish(
                _receive(code, 1, stock, key), code, channel=user.channel(), user_id=user.name
            )
        replies = bus.replies(4)
        codes = {key: (r["http_status"], r["error"]["code"]) for key, r in replies.items()}
        assert codes == {
            "anonymous": (401, "unknown_broker_user"),
            "unmapped": (401, "unknown_broker_user"),
            "archived": (401, "unknown_broker_user"),
            "no-rights": (403, "forbidden"),
        }, replies
        assert "no user_id" in replies["anonymous"]["error"]["message"]
        assert unmapped.name in replies["unmapped"]["error"]["message"]
        letters = _letters(bus, 4)
        assert (
            sorted(h["x-error-code"] for h, _b in letters)
            == ["forbidden"] + ["unknown_broker_user"] * 3
        )
        assert _on_hand(committed_db, product_id, stock_id) == (0, 0)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT COUNT(*) FROM stock_inventory_command WHERE product_id = %s", [product_id]
            )
            assert cr.fetchone()[0] == 0

    def test_a_forged_user_id_is_refused_by_the_broker(
        self, committed_db, command_bus, broker_users
    ):
        """An integration that sets user_id to another RabbitMQ user (guest,
        mapped to admin here) has its channel closed by RabbitMQ
        (PRECONDITION_FAILED) and nothing is posted; with its own name the
        command is posted as its Odoo user."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        integration = broker_users(bus.exchange)
        clerk = _odoo_user(committed_db, integration.name, broker_user=integration.name)
        bus.start()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            bus.publish(
                _receive(code, 5, stock, "forged"),
                code,
                channel=integration.channel(),
                user_id=bus.broker_user,
            )
        assert closed.value.reply_code == 406
        assert "user_id property set to 'guest' but authenticated user was" in str(closed.value)
        bus.publish(
            _receive(code, 1, stock, "honest"),
            code,
            channel=integration.channel(),
            user_id=integration.name,
        )
        replies = bus.replies(1)
        assert list(replies) == ["honest"] and replies["honest"]["status"] == "done"
        assert _on_hand(committed_db, product_id, stock_id) == (1, 1)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key, user_id FROM stock_inventory_command"
                " WHERE product_id = %s",
                [product_id],
            )
            assert cr.fetchall() == [("honest", clerk)]

    def test_publishing_before_any_consumer_ran(self, committed_db, command_bus):
        """On a new exchange nothing is routed ("exchange not found") until
        ``stock_command_consume --declare-only`` declares the topology; then
        a command published with ``mandatory`` is routed, waits in its
        queue, and the consumer started later posts it."""
        product_id, code, stock_id, stock = _setup(committed_db)
        bus = command_bus()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            bus.publish(_receive(code, 2, stock, "too-early"), code, mandatory=True)
        assert closed.value.reply_code == 404  # NOT_FOUND: no exchange yet
        bus.channel = bus.connection.channel()
        bus.channel.confirm_delivery()
        # An odoo.conf of 18.0.1.2.0 that still names command_user: said, not used.
        parser = configparser.RawConfigParser()
        parser.read(bus.conf)
        parser.set("stock_event_bus", "command_user", "admin")
        with bus.conf.open("w") as handle:
            parser.write(handle)
        # As README says: no database needed.
        command = stack.dispatch_command(bus.conf, "-", "--declare-only", command=COMMAND)
        command = command[: command.index("-d")] + command[command.index("-d") + 2 :]
        declared = subprocess.run(
            command, capture_output=True, text=True, env=stack.odoo_env(), timeout=300
        )
        output = declared.stdout + declared.stderr
        assert declared.returncode == 0, output
        assert f"exchange {bus.exchange}, queues" in output
        assert "option command_user of [stock_event_bus] is no longer read" in output
        # Routed: with mandatory, an unroutable message raises UnroutableError.
        bus.publish(_receive(code, 2, stock, "early"), code, mandatory=True)
        waiting = [
            bus.channel.queue_declare(name, passive=True).method
            for name in [f"{bus.exchange}.{i}" for i in range(bus.queues)]
        ]
        assert sum(q.message_count for q in waiting) == 1
        assert {q.consumer_count for q in waiting} == {0}
        bus.start()
        replies = bus.replies(1)
        assert replies["early"]["status"] == "done", replies
        assert _on_hand(committed_db, product_id, stock_id) == (2, 1)
