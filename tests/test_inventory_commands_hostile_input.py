# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over HTTP given bad, hostile or odd input: each is
answered as JSON with its documented code and status, and changes nothing
(stock, the outbox, the command table); a reused key answers its own
command."""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from odoo.tests import tagged

from tests.harness.stock_flows import create_product, main_warehouse
from tests.inventory_commands import api_key, command_keys, deliver, new_product, receive, snapshot

pytestmark = [pytest.mark.committed, pytest.mark.http, pytest.mark.slow]


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandsHostileInput:
    def test_reused_key_and_bad_input_change_nothing(self, committed_db, odoo_server):
        """Every bad input gets its code and status; stock, the outbox and the
        command table are unchanged."""
        product_id, code, stock_id, stock = new_product(committed_db, qty=5)
        key = api_key(committed_db)
        with committed_db.env() as env:
            no_stock_group = env.ref("base.group_user").id
        clerk_key = api_key(committed_db, "clerk-no-stock", [no_stock_group])
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
        status, answer = server.command(deliver(code, 2, stock, "k-reused"), key)
        assert status == 200, answer
        before = snapshot(committed_db, [product_id])
        cases = [
            (
                server.command(deliver(code, 3, stock, "k-reused"), key),
                422,
                "idempotency_key_reused",
            ),
            (server.command(deliver("no-such-product", 1, stock), key), 422, "unknown_product"),
            (server.command(deliver(code, 0, stock), key), 422, "bad_quantity"),
            (server.command(deliver(code, -2, stock), key), 422, "bad_quantity"),
            (server.command(deliver(code, 1, "WH/Nowhere"), key), 422, "unknown_location"),
            (server.command(deliver(code, 1, "Partners/Customers"), key), 422, "bad_location"),
            (
                server.command(
                    {"type": "deliver", "product": code, "quantity": 1, "location": stock}, key
                ),
                400,
                "missing_idempotency_key",
            ),
            (server.command({"idempotency_key": "x", "type": "teleport"}, key), 400, "malformed"),
            (server.command(None, key, raw=b"{not json"), 400, "malformed"),
            (server.command(dict(deliver(code, 1, stock), colour="red"), key), 400, "malformed"),
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
            (server.command(deliver(service_code, 1, stock), key), 422, "bad_product"),
            (
                server.post("/api/stock/commands", None, key, raw=b"", method="GET"),
                405,
                "method_not_allowed",
            ),
            (server.command(deliver(code, 1, stock), "wrong-key"), 401, "unauthorized"),
            (server.command(deliver(code, 1, stock), None), 401, "unauthorized"),
            (server.command(deliver(code, 1, stock), clerk_key), 403, "forbidden"),
            (server.command(deliver(code, 1, other_stock), key), 403, "forbidden"),
            (server.command(deliver(99999999999, 1, stock), key), 400, "malformed"),
            (server.command(deliver("nul\x00byte", 1, stock), key), 400, "malformed"),
            (server.command(deliver(code, 1.7e308, stock), key), 422, "bad_quantity"),
            (server.command(dict(deliver(code, 1, stock), lot="L-1"), key), 400, "malformed"),
            (
                server.command(dict(deliver(code, 1, stock), location_dest=shelf), key),
                422,
                "bad_location",
            ),
            (
                server.command(dict(receive(code, 1, shelf), location=stock), key),
                422,
                "bad_location",
            ),
            (
                server.command(
                    dict(deliver(code, 1, stock), type="scrap", location_dest=shelf), key
                ),
                422,
                "bad_location",
            ),
            (
                server.command(dict(receive(kg_code, 0.3, stock), uom="g"), key),
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
            deliver(code, 1, stock), "wrong-key", idempotency_key="h-1"
        )
        assert (status, answer["idempotency_key"]) == (401, "h-1"), answer
        assert snapshot(committed_db, [product_id]) == before
        # The reused key still answers its own command.
        status, answer = server.command(deliver(code, 2, stock, "k-reused"), key)
        assert status == 200 and answer["on_hand"][0]["quantity"] == 3

    def test_non_ascii_key_in_header_and_body_posts_once(self, committed_db, odoo_server):
        """``clé-X`` in the Idempotency-Key header (UTF-8 or Latin-1 bytes)
        is refused, naming the header, and changes nothing; in the body it
        posts once, and again it answers the stored outcome."""
        product_id, code, _stock_id, stock = new_product(committed_db, qty=5)
        key = api_key(committed_db)
        server = odoo_server()
        body = {"type": "deliver", "product": code, "quantity": 1, "location": stock}
        before = snapshot(committed_db, [product_id])
        for header in ("clé-X".encode(), "clé-X".encode("latin-1")):
            status, answer = server.command(body, key, headers={"Idempotency-Key": header})
            assert (status, answer["error"]["code"]) == (400, "malformed"), answer
            assert answer["error"]["details"] == {"field": "Idempotency-Key"}, answer
            assert answer["idempotency_key"] is None, answer
        assert snapshot(committed_db, [product_id]) == before
        first = server.command(dict(body, idempotency_key="clé-X"), key)
        again = server.command(dict(body, idempotency_key="clé-X"), key)
        assert first[0] == 200 and first == again, (first, again)
        assert first[1]["idempotency_key"] == "clé-X"
        assert command_keys(committed_db, product_id) == ["clé-X"]

    def test_hostile_input_is_refused_as_json(self, committed_db, odoo_server):
        """Input edges: each is answered as JSON with its documented code and
        status, the key it came with, and changes nothing."""
        product_id, code, _stock_id, stock = new_product(committed_db, qty=5)
        key = api_key(committed_db)
        server = odoo_server()
        before = snapshot(committed_db, [product_id])
        single = json.dumps(deliver(code, 1, stock, "edge-1"))

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
            *[
                (
                    raw(single.replace('"quantity": 1,', f'"quantity": {text},')),
                    422,
                    "bad_quantity",
                    "edge-1",
                )
                for text in ('"abc"', '"2"', "NaN", "Infinity", "1e13")
            ],
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
            # A query parameter named like an argument of Odoo's route
            # wrapper (was an HTML 500): the API reads no query parameter.
            (
                server.post("/api/stock/commands?self=1&kwargs=2", None, key, raw=b"[1, 2]"),
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
        assert snapshot(committed_db, [product_id]) == before
        # The same command, well formed, posts.
        status, answer = raw(single)
        assert (status, answer["idempotency_key"]) == (200, "edge-1"), answer
