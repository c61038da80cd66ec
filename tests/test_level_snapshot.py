# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level snapshots end to end (issue 27, item 2): ``GET /api/stock/levels``
on a running Odoo with API keys, pages read while postings commit between
them (all pages are of one point), hostile query strings answered with
documented JSON errors, and ``odoo stock_level_snapshot`` publishing the
same snapshot to a real RabbitMQ queue with confirms."""

import json
import subprocess

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import snapshot as snaplib

from tests.harness import odoo_conf, stack
from tests.harness.stock_flows import create_product, main_warehouse
from tests.inventory_commands import api_key, odoo_user, receive

pytestmark = [pytest.mark.committed, pytest.mark.http, pytest.mark.slow]


def new_products(committed_db, count, qty=5.0):
    """``count`` products with ``qty`` on hand in the main warehouse:
    ``(product ids, codes, warehouse id, stock location name)``."""
    with committed_db.env() as env:
        warehouse = main_warehouse(env)
        products = [
            create_product(env, f"Snap {i}", qty=qty, default_code=f"SNAP-{i}-{id(env)}")
            for i in range(count)
        ]
        return (
            [p.id for p in products],
            [p.default_code for p in products],
            warehouse.id,
            warehouse.lot_stock_id.complete_name,
        )


def all_pages(server, key, limit, **scope):
    """Every page of one new snapshot: ``(first page, levels)``."""
    status, first = server.levels(key, limit=limit, **scope)
    assert status == 200, first
    snaplib.validate(first, "page")
    found, page = list(first["levels"]), first
    while page["next"]:
        status, page = server.levels(
            key, snapshot=first["snapshot"], after=page["next"], limit=limit
        )
        assert status == 200, page
        snaplib.validate(page, "page")
        assert page["snapshot"] == first["snapshot"] and page["total"] == first["total"]
        found += page["levels"]
    return first, found


def odoo_level(committed_db, product_id, warehouse_id):
    with committed_db.env() as env:
        product = env["product.product"].browse(product_id).with_context(warehouse_id=warehouse_id)
        return product.qty_available, product.free_qty


@tagged("-at_install", "post_install", "sscale_committed")
class TestLevelSnapshotHttp:
    def test_pages_are_one_snapshot(self, committed_db, odoo_server):
        """Receipts committed between two page requests change no page of
        the snapshot being read; a new snapshot has them. Pages follow
        (warehouse_id, product_id), each key once, levels equal Odoo's."""
        product_ids, codes, warehouse_id, stock = new_products(committed_db, 6)
        key = api_key(committed_db)
        server = odoo_server()
        status, first = server.levels(key, warehouse_id=warehouse_id, limit=2)
        assert status == 200, first
        assert first["warehouse_id"] == warehouse_id and first["company_id"] is None
        assert first["next"] and len(first["levels"]) == 2
        before = {pid: odoo_level(committed_db, pid, warehouse_id) for pid in product_ids}
        for code in codes:
            status, answer = server.command(receive(code, 3, stock), key)
            assert status == 200, answer
        found, page = list(first["levels"]), first
        while page["next"]:
            status, page = server.levels(key, snapshot=first["snapshot"], after=page["next"])
            assert status == 200, page
            assert page["taken_at"] == first["taken_at"]
            found += page["levels"]
        keys = [(lv["warehouse_id"], lv["product_id"]) for lv in found]
        assert keys == sorted(keys) and len(keys) == len(set(keys)) == first["total"]
        mine = {lv["product_id"]: lv for lv in found if lv["product_id"] in product_ids}
        assert set(mine) == set(product_ids)
        for pid, (on_hand, free) in before.items():
            assert (mine[pid]["on_hand"], mine[pid]["available"]) == (on_hand, free) == (5, 5)
        _first, again = all_pages(server, key, 1000, warehouse_id=warehouse_id)
        after = {lv["product_id"]: lv for lv in again if lv["product_id"] in product_ids}
        for pid in product_ids:
            on_hand, free = odoo_level(committed_db, pid, warehouse_id)
            assert (after[pid]["on_hand"], after[pid]["available"]) == (on_hand, free) == (8, 8)

    def test_hostile_input(self, committed_db, odoo_server):
        """Bad, huge, non-ASCII and repeated parameters, unknown snapshots,
        other methods, no key, a user without Inventory rights, another
        company's warehouse: documented JSON errors, never a 500."""
        _ids, _codes, warehouse_id, _stock = new_products(committed_db, 3)
        key = api_key(committed_db)
        odoo_user(committed_db, "snap-clerk", groups=("base.group_user",))
        clerk_key = api_key(committed_db, "snap-clerk")
        odoo_user(committed_db, "snap-stock")
        stock_key = api_key(committed_db, "snap-stock")
        with committed_db.env() as env:
            other = env["res.company"].create({"name": "Snapshot other company"})
            other_warehouse = env["stock.warehouse"].search([("company_id", "=", other.id)])
            other_id, other_warehouse_id = other.id, other_warehouse.id
            # The admin's companies do not include the new one.
            admin = env.ref("base.user_admin")
            admin.company_ids -= other
        server = odoo_server()
        status, first = server.levels(key, warehouse_id=warehouse_id, limit=1)
        assert status == 200, first
        snap = first["snapshot"]
        path = "/api/stock/levels"
        cases = [
            (server.get(path, "limit=0", key), 400, "bad_parameter"),
            (server.get(path, "limit=10001", key), 400, "bad_parameter"),
            (server.get(path, "limit=-1", key), 400, "bad_parameter"),
            (server.get(path, "limit=1e3", key), 400, "bad_parameter"),
            (server.get(path, "limit=" + "9" * 5000, key), 400, "bad_parameter"),
            (server.get(path, "warehouse_id=99999999999", key), 400, "bad_parameter"),
            (server.get(path, "warehouse_id=", key), 400, "bad_parameter"),
            (server.get(path, "warehouse_id=%D9%A3", key), 400, "bad_parameter"),
            (server.get(path, "warehouse_id=%FF%FE", key), 400, "bad_parameter"),
            (server.get(path, "warehouse_id=1%00", key), 400, "bad_parameter"),
            (server.get(path, "limit=5&limit=5", key), 400, "bad_parameter"),
            (server.get(path, "entrep%C3%B4t=1", key), 400, "bad_parameter"),
            (server.get(path, "self=1", key), 400, "bad_parameter"),
            (server.get(path, f"warehouse_id={warehouse_id}&company_id=1", key), 400, None),
            (server.get(path, "after=1.2", key), 400, "bad_parameter"),
            (server.get(path, f"snapshot={snap}", key), 400, "bad_parameter"),
            (server.get(path, f"snapshot={snap}&after=x", key), 400, "bad_parameter"),
            (server.get(path, "snapshot=nope&after=1.1", key), 400, "bad_parameter"),
            (
                server.get(path, f"snapshot={snap}&after=1.1&warehouse_id=1", key),
                400,
                "bad_parameter",
            ),
            (
                server.get(path, "snapshot=00000000-0000-4000-8000-000000000000&after=1.1", key),
                404,
                "unknown_snapshot",
            ),
            # Another user's snapshot is unknown to this one; a user without
            # Inventory rights is refused first.
            (
                server.get(path, f"snapshot={snap}&after={first['next']}", stock_key),
                404,
                "unknown_snapshot",
            ),
            (
                server.get(path, f"snapshot={snap}&after={first['next']}", clerk_key),
                403,
                "forbidden",
            ),
            (server.get(path, "warehouse_id=2000000000", key), 404, "unknown_warehouse"),
            (server.get(path, "company_id=2000000000", key), 404, "unknown_company"),
            (server.get(path, f"warehouse_id={other_warehouse_id}", key), 403, "forbidden"),
            (server.get(path, f"company_id={other_id}", key), 403, "forbidden"),
            (server.get(path, "", clerk_key), 403, "forbidden"),
            (server.get(path, "", None), 401, "unauthorized"),
            (server.get(path, "", "wrong-key"), 401, "unauthorized"),
            (server.post(path, {}, key), 405, "method_not_allowed"),
            (server.get(path, "", key, method="OPTIONS"), 405, "method_not_allowed"),
            (server.get(path, "", None, method="DELETE"), 405, "method_not_allowed"),
            # An Idempotency-Key header is not echoed: idempotency_key is null.
            (
                server.post(
                    path, None, None, raw=b"", method="GET", headers={"Idempotency-Key": "k-1"}
                ),
                401,
                "unauthorized",
            ),
            (server.get("/api/stock/levels/x", "", key), 404, "not_found"),
        ]
        for (status, answer), expected_status, code in cases:
            assert isinstance(answer, dict), (expected_status, code, str(answer)[:300])
            assert status == expected_status, (code, answer)
            assert answer["status"] == "error" and answer["error"]["message"], answer
            assert answer["error"]["code"] == (code or "bad_parameter"), answer
            assert answer["idempotency_key"] is None, answer
            snaplib.validate(answer, "error")
        # A 404 names both routes of the API.
        message = cases[-1][0][1]["error"]["message"]
        assert "GET /api/stock/levels " in message, message
        assert "POST /api/stock/commands " in message, message
        # The snapshot is still there after all that; HEAD has no body.
        status, page = server.levels(key, snapshot=snap, after=first["next"], limit=1)
        assert status == 200, page
        assert server.get(path, "", key, method="HEAD")[0] == 405


@tagged("-at_install", "post_install", "sscale_committed")
class TestLevelSnapshotAmqp:
    def test_command_publishes_the_snapshot(self, committed_db, harness, amqp_channel, tmp_path):
        """``odoo stock_level_snapshot --queue Q``: one LEVEL_SNAPSHOT message
        per key, in key order, then LEVEL_SNAPSHOT_END with the total; every
        body follows the schema; the levels equal Odoo's. A missing queue is
        refused before anything is published, unless --declare."""
        product_ids, _codes, warehouse_id, _stock = new_products(committed_db, 5, qty=4)
        conf = odoo_conf.copy_conf(harness["conf"], tmp_path / "snap.conf")
        queue = amqp_channel.declare_queue("snap.test")

        def run(*args):
            return subprocess.run(
                stack.dispatch_command(
                    conf, committed_db.name, *args, command="stock_level_snapshot"
                ),
                capture_output=True,
                text=True,
                env=stack.odoo_env(),
                timeout=600,
                check=False,
            )

        done = run("--warehouse", str(warehouse_id), "--queue", queue, "--page-size", "2")
        assert done.returncode == 0, done.stderr[-3000:]
        messages = amqp_channel.drain(queue)
        assert messages, done.stderr[-3000:]
        *levels, (_m, end_props, end_body) = messages
        end = json.loads(end_body)
        snaplib.validate(end, "snapshot_end")
        assert end_props.type == "LEVEL_SNAPSHOT_END" and end["total"] == len(levels)
        bodies = []
        for _method, props, body in levels:
            assert props.type == "LEVEL_SNAPSHOT" and props.delivery_mode == 2
            assert props.headers == {"schema_version": "1.0"}
            payload = json.loads(body)
            snaplib.validate(payload, "snapshot_level")
            assert payload["snapshot"] == end["snapshot"]
            assert payload["warehouse_id"] == warehouse_id
            bodies.append(payload)
        keys = [(b["warehouse_id"], b["product_id"]) for b in bodies]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        mine = {b["product_id"]: b for b in bodies if b["product_id"] in product_ids}
        assert set(mine) == set(product_ids)
        for pid in product_ids:
            on_hand, free = odoo_level(committed_db, pid, warehouse_id)
            assert (mine[pid]["on_hand"], mine[pid]["available"]) == (on_hand, free) == (4, 4)
        missing = f"{queue}.missing"
        refused = run("--queue", missing)
        assert refused.returncode != 0 and "--declare" in refused.stderr, refused.stderr[-2000:]
        amqp_channel.queues.append(missing)  # deleted at the end, whatever happens
        declared = run("--warehouse", str(warehouse_id), "--queue", missing, "--declare")
        assert declared.returncode == 0, declared.stderr[-3000:]
        again = amqp_channel.drain(missing)
        assert again[-1][1].type == "LEVEL_SNAPSHOT_END"
        assert len(again) == len(messages)
