# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox and its dispatcher, end to end: committed postings in a
throwaway database, the dispatcher as the Odoo command it is
(``odoo --addons-path=... stock_event_dispatch``), the real RabbitMQ, and the
addon's consumer receiving: one event per posting, its routing key and
properties, in sequence, once, whatever the commit order; failed, nacked or
unroutable events. Each test publishes to its own exchange (tests.harness.event_bus).
"""

import collections
import json
import re
import time

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import events

from tests.harness import processes, stock_flows
from tests.harness.event_bus import dispatcher_rows, fill_outbox, outbox, pending
from tests.harness.processes import wait_until

pytestmark = [pytest.mark.committed, pytest.mark.amqp]


def _mixed_postings(env):
    """K single-warehouse postings of every kind; returns the expected
    (product, event type, quantity) of each, in order."""
    warehouse = stock_flows.main_warehouse(env)
    stock = warehouse.lot_stock_id
    a = stock_flows.create_product(env, "Bus A", 10)
    b = stock_flows.create_product(env, "Bus B", 4)
    expected = [(a.id, "ADJUSTMENT", 10.0), (b.id, "ADJUSTMENT", 4.0)]
    stock_flows.receive(env, [(a.id, 5)])
    expected.append((a.id, "RECEIPT", 5.0))
    stock_flows.deliver(env, [(a.id, 3)])
    expected.append((a.id, "SALE", -3.0))
    delivery_b = stock_flows.create_picking(env, warehouse.out_type_id, [(b.id, 2)])
    stock_flows.validate_all(delivery_b)
    expected.append((b.id, "SALE", -2.0))
    wizard = (
        env["stock.return.picking"]
        .with_context(active_id=delivery_b.id, active_model="stock.picking")
        .create({})
    )
    wizard.product_return_moves.quantity = 1
    returned = env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
    stock_flows.validate_all(returned)
    expected.append((b.id, "RETURN", 1.0))
    shelf = env["stock.location"].create(
        {"name": "Bus Shelf", "location_id": stock.id, "usage": "internal"}
    )
    stock_flows.validate_all(
        stock_flows.create_picking(env, warehouse.int_type_id, [(a.id, 2)], dest=shelf)
    )
    expected.append((a.id, "INTERNAL", 0.0))
    scrap = env["stock.scrap"].create(
        {"product_id": a.id, "scrap_qty": 1, "location_id": stock.id}
    )
    scrap.action_validate()
    expected.append((a.id, "SCRAP", -1.0))
    stock_flows.set_inventory(env, b, 6)
    expected.append((b.id, "ADJUSTMENT", 3.0))
    return warehouse.id, expected


@tagged("-at_install", "post_install", "sscale_committed")
class TestEventDispatch:
    def test_every_posting_becomes_one_event(self, committed_db, bus):
        """K postings of mixed types: the consumer receives exactly K
        distinct event ids with the right types, signs and routing keys,
        and the quantities add up to the on-hand of the quants."""
        b = bus()
        with committed_db.env() as env:
            warehouse_id, expected = _mixed_postings(env)
        result = b.dispatch_once()
        assert result.returncode == 0, result.stdout + result.stderr
        received = b.receive(len(expected))
        assert len(received) == len(expected) == len({e["event_id"] for e in received})
        products = {p for p, _t, _q in expected}
        ours = sorted(
            (e for e in received if e["product_id"] in products),
            key=lambda e: (e["occurred_at"], e["sequence"], e["product_id"]),
        )
        by_product = collections.defaultdict(list)
        for event in ours:
            by_product[event["product_id"]].append((event["event_type"], event["quantity"]))
        for product in products:
            want = [(t, q) for p, t, q in expected if p == product]
            assert sorted(by_product[product]) == sorted(want)
            sequences = sorted(e["sequence"] for e in ours if e["product_id"] == product)
            assert sequences == list(range(1, len(want) + 1))
        with committed_db.env() as env:
            company_id = env["stock.warehouse"].browse(warehouse_id).company_id.id
            for product in products:
                on_hand = (
                    env["product.product"]
                    .browse(product)
                    .with_context(warehouse_id=warehouse_id)
                    .qty_available
                )
                assert sum(q for _t, q in by_product[product]) == on_hand
        assert {e["warehouse_id"] for e in ours} == {warehouse_id}
        assert {e["company_id"] for e in ours} == {company_id}
        assert pending(committed_db) == 0
        sent = outbox(committed_db, "state = 'sent'")
        assert len(sent) == len(expected)

    def test_routing_keys_and_message_properties(self, committed_db, bus, amqp_channel):
        b = bus()
        queue = amqp_channel.declare_queue()
        amqp_channel.channel.queue_bind(queue, b.exchange, "stock.*.*.receipt")
        with committed_db.env() as env:
            product = stock_flows.create_product(env, "Routed", 0)
            stock_flows.receive(env, [(product.id, 2)])
            warehouse = stock_flows.main_warehouse(env)
            key = f"stock.{warehouse.company_id.id}.{warehouse.id}.receipt"
        assert b.dispatch_once().returncode == 0
        ((method, props, body),) = amqp_channel.drain(queue)
        payload = json.loads(body)
        assert method.routing_key == key
        assert props.message_id == payload["event_id"]
        assert props.type == "RECEIPT" and props.content_type == "application/json"
        assert props.delivery_mode == 2
        assert props.headers == {"schema_version": events.SCHEMA_VERSION}
        assert abs(props.timestamp - time.time()) < 600
        events.validate(payload)

    def test_transfer_between_warehouses_gives_two_events(self, committed_db, bus):
        b = bus()
        with committed_db.env() as env:
            main = stock_flows.main_warehouse(env)
            other = env["stock.warehouse"].create({"name": "Bus WH2", "code": "BW2"})
            product = stock_flows.create_product(env, "Bus Moved", 5)
            stock_flows.validate_all(
                stock_flows.create_picking(
                    env, main.int_type_id, [(product.id, 2)], dest=other.lot_stock_id
                )
            )
            main_id, other_id = main.id, other.id
        assert b.dispatch_once().returncode == 0
        received = b.receive(3)
        transfer = sorted(
            (e["warehouse_id"], e["quantity"]) for e in received if e["event_type"] == "TRANSFER"
        )
        assert transfer == sorted([(main_id, -2.0), (other_id, 2.0)])

    def test_retried_and_rolled_back_requests_leave_no_extra_event(self, committed_db, bus):
        """A request replayed after a real serialization failure writes its
        event once; a rolled-back posting writes none."""
        b = bus()
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Bus Retried", 5).id
            env.cr.execute("CREATE TABLE sscale_test_bump (id int PRIMARY KEY, n int)")
            env.cr.execute("INSERT INTO sscale_test_bump VALUES (1, 0)")
        before = len(outbox(committed_db))
        attempts = []

        def post_then_conflict(env):
            attempts.append(1)
            stock_flows.deliver(env, [(product_id, 1)])
            if len(attempts) == 1:
                # Another transaction changes a row after our snapshot began:
                # updating it now is a real serialization failure.
                with committed_db.cursor() as other:
                    other.execute("UPDATE sscale_test_bump SET n = n + 1 WHERE id = 1")
                env.cr.execute("UPDATE sscale_test_bump SET n = n + 1 WHERE id = 1")
            return True

        _result, tries = committed_db.call(post_then_conflict)
        assert tries == 2 and "40001" in committed_db.retry_errors

        class Abort(Exception):
            pass

        with pytest.raises(Abort), committed_db.env() as env:
            stock_flows.deliver(env, [(product_id, 1)])
            raise Abort
        rows = outbox(committed_db, "product_id = %s AND event_type = 'SALE'", [product_id])
        assert len(rows) == 1 and len(outbox(committed_db)) == before + 1
        assert b.dispatch_once().returncode == 0
        sales = [e for e in b.receive(2) if e["event_type"] == "SALE"]
        assert len(sales) == 1 and sales[0]["event_id"] == rows[0][1]

    def test_late_commit_of_an_earlier_event_is_published(self, committed_db, bus):
        """T1 writes its event first (lower id) but commits after T2; the
        running dispatcher has already published T2 and still publishes T1."""
        b = bus()
        with committed_db.env() as env:
            first = stock_flows.create_product(env, "Bus Early", 5).id
            second = stock_flows.create_product(env, "Bus Late", 5).id
        b.start()
        assert b.receive(2, timeout=30) and len(b.received) == 2  # the adjustments
        cr1 = committed_db.cursor()
        try:
            from odoo import SUPERUSER_ID, api  # noqa: PLC0415

            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            stock_flows.deliver(env1, [(first, 1)])
            env1.flush_all()
            with committed_db.env() as env2:
                stock_flows.deliver(env2, [(second, 1)])
            got = b.receive(3, timeout=30)
            assert [e["product_id"] for e in got[2:]] == [second]
            cr1.commit()
        finally:
            cr1.close()
        got = b.receive(4, timeout=30)
        assert [e["product_id"] for e in got[2:]] == [second, first]
        ids = {row[3]: row[0] for row in outbox(committed_db, "event_type = 'SALE'")}
        assert ids[first] < ids[second]

    def test_two_dispatchers_share_the_outbox(self, committed_db, bus):
        """Two dispatchers at once while the outbox fills: no loss, no
        duplicate, both publish, and per (product, warehouse) the events
        arrive in sequence order."""
        b = bus()
        with committed_db.env() as env:
            product_ids = [
                stock_flows.create_product(env, f"Bus Two {i}", 1).id for i in range(10)
            ]
        first, second = b.start("--batch-size=100"), b.start("--batch-size=100")

        def both_running():
            states = [row[0] for row in dispatcher_rows(committed_db, first, second)]
            return states.count("running") == 2

        # Both are up before the outbox fills (on a busy machine one process
        # can take seconds longer to start than the other needs to drain it).
        assert wait_until(both_running, 120)

        # Which one takes a batch is the scheduler's choice: on a busy machine
        # one dispatcher can drain a few hundred events alone. Keep posting
        # (bounded) until both have published, each round drained first.
        for _round in range(10):
            for _chunk in range(8):
                fill_outbox(committed_db, product_ids, 50)
            assert wait_until(lambda: pending(committed_db) == 0, 120)
            counts = [row[1] for row in dispatcher_rows(committed_db, first, second)]
            if len(counts) == 2 and min(counts) > 0:
                break
        total = len(outbox(committed_db))
        for process in (first, second):
            assert processes.stop(process, 30) == 0
        sent_counts = [
            int(re.search(r"stopped, (\d+) events sent", p.log_path.read_text()).group(1))
            for p in (first, second)
        ]
        received = b.receive(total, timeout=120)
        b.consumer.run(b.handle, inactivity_timeout=1)
        assert len(received) == total == len({e["event_id"] for e in received})
        assert b.consumer.stats["duplicates"] == 0
        # The dispatchers also sent the level events of the products' counts.
        published = len(outbox(committed_db, levels=True))
        assert sum(sent_counts) == published and min(sent_counts) > 0, sent_counts
        last = {}
        for event in received:
            key = (event["product_id"], event["warehouse_id"])
            assert event["sequence"] > last.get(key, 0), f"out of order for {key}"
            last[key] = event["sequence"]

    def test_malformed_payload_replay_fails_alone(self, committed_db, bus):
        """A replayed event whose payload was damaged is marked failed with
        the reason; the rest of the batch is published."""
        b = bus()
        with committed_db.env() as env:
            product = stock_flows.create_product(env, "Bus Damaged", 2)
            stock_flows.receive(env, [(product.id, 1)])
        assert b.dispatch_once().returncode == 0
        assert len(b.receive(2)) == 2
        with committed_db.env() as env:
            damaged, intact = env["stock.event.outbox"].search(
                [("product_id", "=", product.id), ("event_type", "!=", "LEVEL")], order="id"
            )
            env.cr.execute(
                "UPDATE stock_event_outbox SET payload = payload - 'quantity' WHERE id = %s",
                [damaged.id],
            )
            env.invalidate_all()
            (damaged | intact).action_replay()
        assert b.dispatch_once().returncode == 0
        rows = {row[0]: row for row in outbox(committed_db, "product_id = %s", [product.id])}
        assert rows[damaged.id][2] == "failed"
        assert "malformed payload" in rows[damaged.id][8] and "quantity" in rows[damaged.id][8]
        assert rows[intact.id][2] == "sent"
        b.consumer.run(b.handle, inactivity_timeout=2)
        assert b.consumer.stats["duplicates"] == 1  # the intact one, same event id

    def test_unroutable_events_fail_with_the_reason(self, committed_db, bus):
        b = bus()
        b.consumer._channel.queue_unbind(b.queue, b.exchange, "stock.#")
        with committed_db.env() as env:
            stock_flows.create_product(env, "Bus Nowhere", 1)
        assert b.dispatch_once().returncode == 0
        (row,) = outbox(committed_db)[-1:]
        assert row[2] == "failed" and "unroutable" in row[8] and b.exchange in row[8]

    def test_nacked_events_stay_pending_and_go_out_later(self, committed_db, bus, amqp_channel):
        """An event the broker does not take (basic.nack: here a full queue
        with reject-publish; in a cluster, a quorum queue electing a new
        leader) is not failed: it stays pending and goes out once the broker
        takes it again, without an admin's Retry."""
        b = bus()
        b.consumer._channel.queue_unbind(b.queue, b.exchange, "stock.#")
        full = amqp_channel.declare_queue(**{"x-max-length": 1, "x-overflow": "reject-publish"})
        amqp_channel.channel.queue_bind(full, b.exchange, "stock.#")
        with committed_db.env() as env:
            for n in range(3):
                stock_flows.create_product(env, f"Bus Full {n}", 1)
        dispatcher = b.start()
        assert wait_until(
            lambda: [r[2] for r in outbox(committed_db)] == ["sent", "pending", "pending"]
            and "did not take 2 event(s)" in dispatcher.log_path.read_text(),
            timeout=60,
        ), (outbox(committed_db), dispatcher.log_path.read_text()[-3000:])
        waiting = [r for r in outbox(committed_db) if r[2] == "pending"]
        assert all("basic.nack" in r[8] for r in waiting), waiting
        # The queue has room again: the next rounds publish the two.
        amqp_channel.channel.queue_purge(full)
        amqp_channel.channel.queue_unbind(full, b.exchange, "stock.#")
        b.consumer._channel.queue_bind(b.queue, b.exchange, "stock.#")
        assert wait_until(lambda: {r[2] for r in outbox(committed_db)} == {"sent"}, timeout=90)
        assert dispatcher.poll() is None
        assert {e["event_id"] for e in b.receive(2)} == {r[1] for r in waiting}
