# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level events end to end (issue 27, item 1): committed postings,
reservations, unreservations, cancellations and counts over two warehouses
from several threads, two real dispatchers (``stock_event_dispatch``), the
real RabbitMQ, and a consumer bound to ``stock_level.#``. Per (product,
warehouse): sequences strictly increase, and the last level equals Odoo's
on-hand, reserved and free quantity. A sale order's reservation lowers
``available``, not ``on_hand``; its cancellation gives it back."""

import collections
import random
import uuid

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import events

from tests.harness import processes, stack, stock_flows
from tests.harness.event_bus import dispatcher_rows, levels_pending, outbox
from tests.harness.levels import level_operation, odoo_levels
from tests.harness.processes import wait_until

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.slow]


def last_levels(received):
    """Per (product, warehouse): the last level received, after checking
    that the key's sequences strictly increase in arrival order."""
    last = {}
    for event in received:
        events.validate(event)
        key = (event["product_id"], event["warehouse_id"])
        if key in last:
            assert event["sequence"] > last[key]["sequence"], f"out of order for {key}"
        assert event["available"] == pytest.approx(event["on_hand"] - event["reserved"])
        last[key] = event
    return last


def drain(b, committed_db):
    """Let the dispatchers write and publish every level event; return how
    many LEVEL events were sent."""
    assert wait_until(lambda: levels_pending(committed_db) == 0, 180)
    return len(outbox(committed_db, "event_type = 'LEVEL' AND state = 'sent'", levels=True))


@tagged("-at_install", "post_install", "sscale_committed")
class TestLevelEvents:
    def test_levels_converge_under_concurrent_changes(self, committed_db, bus):
        b = bus()
        with committed_db.env() as env:
            main = stock_flows.main_warehouse(env)
            second = env["stock.warehouse"].create(
                {"name": f"Levels {uuid.uuid4().hex[:6]}", "code": f"L{uuid.uuid4().hex[:4]}"}
            )
            product_ids = []
            for i in range(4):
                product = stock_flows.create_product(env, f"Level {i}", 50)
                stock_flows.set_inventory(env, product, 30, second.lot_stock_id)
                product_ids.append(product.id)
            warehouses = [main.id, second.id]
        dispatchers = [b.start("--batch-size=50"), b.start("--batch-size=50")]
        # Both dispatch while the workers post (not after them).
        assert wait_until(
            lambda: [r[0] for r in dispatcher_rows(committed_db, *dispatchers)].count("running")
            == 2,
            120,
        )
        done = collections.Counter()

        def worker(seed):
            rng = random.Random(seed)
            mine = []
            for _i in range(12):
                kind, run = level_operation(rng, warehouses, product_ids, mine)
                picking_id, _tries = committed_db.call(run)
                if picking_id:
                    mine.append(picking_id)
                done[kind] += 1

        outcomes = committed_db.run_concurrently([lambda s=s: worker(s) for s in range(4)])
        assert [kind for kind, _value in outcomes] == ["ok"] * 4, outcomes
        sent = drain(b, committed_db)
        for process in dispatchers:
            assert processes.stop(process, 30) == 0
        received = b.receive_levels(sent, timeout=120)
        assert len(received) == sent == len({e["event_id"] for e in received})
        last = last_levels(received)
        with committed_db.env() as env:
            expected_keys = {(p, w) for p in product_ids for w in warehouses}
            assert expected_keys <= set(last)
            for product_id, warehouse_id in expected_keys:
                warehouse = env["stock.warehouse"].browse(warehouse_id)
                event = last[product_id, warehouse_id]
                got = {k: event[k] for k in ("on_hand", "reserved", "available")}
                assert got == odoo_levels(env, product_id, warehouse), (product_id, warehouse_id)
        print(
            f"levels: {dict(done)} -> {sent} level events,"
            f" {len(committed_db.retry_errors)} retried requests"
        )

    def test_sale_order_reservation_changes_available_only(self, committed_db, bus):
        b = bus()
        with committed_db.env() as env:
            warehouse = stock_flows.main_warehouse(env)
            product_id = stock_flows.create_product(env, "Level Sold", 10).id
            partner_id = env["res.partner"].create({"name": "Level Shop"}).id
        assert b.dispatch_once().returncode == 0
        key = (product_id, warehouse.id)

        def level():
            sent = drain(b, committed_db)
            events_ = [
                e for e in b.receive_levels(sent) if (e["product_id"], e["warehouse_id"]) == key
            ]
            event = events_[-1]
            return event["sequence"], (event["on_hand"], event["reserved"], event["available"])

        first_seq, first = level()
        assert first == (10.0, 0.0, 10.0)
        with committed_db.env() as env:
            order = env["sale.order"].create(
                {
                    "partner_id": partner_id,
                    "order_line": [(0, 0, {"product_id": product_id, "product_uom_qty": 3})],
                }
            )
            order.action_confirm()
            order_id = order.id
        assert b.dispatch_once().returncode == 0
        reserved_seq, reserved = level()
        assert reserved == (10.0, 3.0, 7.0)
        with committed_db.env() as env:
            env["sale.order"].browse(order_id)._action_cancel()
        assert b.dispatch_once().returncode == 0
        released_seq, released = level()
        assert released == (10.0, 0.0, 10.0)
        assert first_seq < reserved_seq < released_seq
        with committed_db.env() as env:
            expected = odoo_levels(env, product_id, env["stock.warehouse"].browse(warehouse.id))
            assert expected == dict(
                zip(("on_hand", "reserved", "available"), released, strict=True)
            )

    def test_reservations_never_wait_on_level_rows(self, committed_db, bus):
        """While a dispatcher holds a key's level sequence and the pending
        markers (between its lock and its commit), reservations of that key
        from several threads still commit at once (lock_timeout 2 s): the
        user's transaction only appends a marker row."""
        b = bus()
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Level Hot", 20).id
        assert b.dispatch_once().returncode == 0  # the key's sequence row exists
        holder = stack.connect(committed_db.name)
        holder.autocommit = False  # hold the locks until the rollback below
        try:
            with holder.cursor() as cr:
                cr.execute(
                    "SELECT 1 FROM stock_level_sequence WHERE product_id = %s FOR UPDATE",
                    [product_id],
                )
                assert cr.rowcount == 1
                cr.execute("SELECT 1 FROM stock_level_change FOR UPDATE")

            def reserve(env):
                env.cr.execute("SET LOCAL lock_timeout = '2s'")
                return stock_flows.reserve(env, [(product_id, 2)])

            outcomes = committed_db.run_concurrently(
                [lambda: committed_db.call(reserve) for _i in range(4)]
            )
            assert [kind for kind, _value in outcomes] == ["ok"] * 4, outcomes
        finally:
            holder.rollback()
            holder.close()
        assert b.dispatch_once().returncode == 0
        sent = drain(b, committed_db)
        last = last_levels(b.receive_levels(sent))
        with committed_db.env() as env:
            warehouse = stock_flows.main_warehouse(env)
            event = last[product_id, warehouse.id]
            assert (event["on_hand"], event["reserved"], event["available"]) == (20.0, 8.0, 12.0)
            got = {k: event[k] for k in ("on_hand", "reserved", "available")}
            assert got == odoo_levels(env, product_id, warehouse)

    def test_manufacturing_levels(self, committed_db, bus):
        """A manufacturing order: reserving its components lowers their
        available quantity; producing consumes them and stocks the finished
        product."""
        b = bus()
        with committed_db.env() as env:
            warehouse_id = stock_flows.main_warehouse(env).id
            component = stock_flows.create_product(env, "Level Component", 10)
            finished = stock_flows.create_product(env, "Level Finished")
            bom = env["mrp.bom"].create(
                {
                    "product_tmpl_id": finished.product_tmpl_id.id,
                    "product_qty": 1,
                    "bom_line_ids": [(0, 0, {"product_id": component.id, "product_qty": 2})],
                }
            )
            order = env["mrp.production"].create(
                {"product_id": finished.id, "product_qty": 3, "bom_id": bom.id}
            )
            order.action_confirm()
            order.action_assign()
            ids = order.id, component.id, finished.id
        order_id, component_id, finished_id = ids

        def levels_of(product_id):
            assert b.dispatch_once().returncode == 0
            last = last_levels(b.receive_levels(drain(b, committed_db)))
            event = last[product_id, warehouse_id]
            return event["on_hand"], event["reserved"], event["available"]

        assert levels_of(component_id) == (10.0, 6.0, 4.0)
        with committed_db.env() as env:
            order = env["mrp.production"].browse(order_id)
            order.qty_producing = 3
            order._set_qty_producing()
            order.move_raw_ids.picked = True
            order.button_mark_done()
            assert order.state == "done", order.state
        assert levels_of(component_id) == (4.0, 0.0, 4.0)
        assert levels_of(finished_id) == (3.0, 0.0, 3.0)
        with committed_db.env() as env:
            warehouse = env["stock.warehouse"].browse(warehouse_id)
            for product_id in (component_id, finished_id):
                expected = odoo_levels(env, product_id, warehouse)
                names = ("on_hand", "reserved", "available")
                got = dict(zip(names, levels_of(product_id), strict=True))
                assert got == expected
