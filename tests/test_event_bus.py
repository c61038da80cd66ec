# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox and its dispatcher, end to end: committed postings in a
throwaway database, the dispatcher as the Odoo command it is
(``odoo --addons-path=... stock_event_dispatch``), the real RabbitMQ, and the
addon's consumer receiving. Each test publishes to its own exchange.
"""

import collections
import configparser
import datetime
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import config as bus_config
from odoo.addons.stock_event_bus.lib import consumer as consumer_lib
from odoo.addons.stock_event_bus.lib import events

from tests.harness import stack, stock_flows
from tests.harness.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------


class Bus:
    """One test's exchange, consumer queue and dispatcher runs."""

    def __init__(self, harness, db_name, tmp_path, amqp_url=None):
        self.db_name = db_name
        self.exchange = f"sscale.test.events.{uuid.uuid4().hex[:10]}"
        self.queue = f"{self.exchange}.q"
        self.amqp_url = amqp_url or stack.amqp_url()
        parser = configparser.RawConfigParser()
        parser.read(harness["conf"])
        if not parser.has_section("stock_event_bus"):
            parser.add_section("stock_event_bus")
        parser.set("stock_event_bus", "exchange", self.exchange)
        parser.set("stock_event_bus", "amqp_url", self.amqp_url)
        self.conf = tmp_path / f"dispatch-{uuid.uuid4().hex[:6]}.conf"
        with self.conf.open("w") as handle:
            parser.write(handle)
        # The events of the template's demo postings (Manufacturing, Sales,
        # ...) are not this test's: this copy of the template starts without.
        conn = stack.connect(db_name)
        try:
            with conn.cursor() as cr:
                cr.execute("DELETE FROM stock_event_outbox")
        finally:
            conn.close()
        self.consumer = consumer_lib.StockEventConsumer(
            stack.amqp_url(), self.queue, exchange=self.exchange, prefetch=200
        )
        self.consumer.connect()
        self.received = []
        self.processes = []

    def command(self, *args):
        return stack.dispatch_command(self.conf, self.db_name, *args)

    def dispatch_once(self, *args, env=None, timeout=300):
        return subprocess.run(
            self.command("--once", *args),
            capture_output=True,
            text=True,
            env=dict(stack.odoo_env(), **(env or {})),
            timeout=timeout,
            check=False,
        )

    def start(self, *args, env=None):
        """A long-running dispatcher; its log goes to a file."""
        log = self.conf.with_suffix(f".{len(self.processes)}.log")
        handle = log.open("w")
        process = subprocess.Popen(
            self.command("--poll-interval=1", *args),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=dict(stack.odoo_env(), **(env or {})),
        )
        process.log_path = log
        self.processes.append(process)
        return process

    def receive(self, expected, timeout=60):
        """Consume until ``expected`` deliveries arrived (or timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < expected and time.monotonic() < deadline:
            self.consumer.run(
                self._handle, max_messages=expected - len(self.received), inactivity_timeout=1
            )
        return self.received

    def _handle(self, event):
        self.received.append(event)

    def deliveries(self):
        """Every delivery, duplicates included (the consumer drops them)."""
        return self.consumer.stats["handled"] + self.consumer.stats["duplicates"]

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
        channel = self.consumer._channel
        if channel is not None and channel.is_open:
            for queue in (self.queue, self.consumer.dead_letter_queue):
                channel.queue_delete(queue)
            for exchange in (self.exchange, self.consumer.dead_letter_exchange):
                channel.exchange_delete(exchange)
        self.consumer.close()


@pytest.fixture
def bus(harness, committed_db, tmp_path):
    made = []

    def make(**kwargs):
        bus = Bus(harness, committed_db.name, tmp_path, **kwargs)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


def _outbox(committed_db, where="TRUE", params=()):
    with committed_db.cursor() as cr:
        # ``where`` is a literal condition of the calling test, never input.
        cr.execute(
            "SELECT id, event_uuid, state, product_id, warehouse_id, event_type, quantity,"  # noqa: S608
            " sequence, last_error FROM stock_event_outbox WHERE " + where + " ORDER BY id",
            params,
        )
        return cr.fetchall()


def _wait_until(predicate, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _pending(committed_db):
    return len(_outbox(committed_db, "state = 'pending'"))


def _fill_outbox(committed_db, product_ids, rounds):
    """Write ``rounds`` × (done lines of the products) real events through
    the posting hook, without posting again (fast pre-fill)."""
    with committed_db.env() as env:
        lines = env["stock.move.line"].search(
            [("product_id", "in", product_ids), ("state", "=", "done")]
        )
        for _round in range(rounds):
            env["stock.event.outbox"].sudo()._record_move_lines(lines)
        env.cr.execute("SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'pending'")
        return env.cr.fetchone()[0]


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


# ----------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestEventBus:
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
        assert _pending(committed_db) == 0
        sent = _outbox(committed_db, "state = 'sent'")
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
        before = len(_outbox(committed_db))
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
        rows = _outbox(committed_db, "product_id = %s AND event_type = 'SALE'", [product_id])
        assert len(rows) == 1 and len(_outbox(committed_db)) == before + 1
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
        ids = {row[3]: row[0] for row in _outbox(committed_db, "event_type = 'SALE'")}
        assert ids[first] < ids[second]

    def test_broker_outage_loses_nothing(self, committed_db, bus):
        """The broker becomes unreachable while postings go on: the
        dispatcher logs one line per retry and publishes everything once
        the broker is back."""
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        proxy = TcpProxy(parsed.hostname, parsed.port or 5672).start()
        url = parsed._replace(netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:{proxy.port}")
        b = bus(amqp_url=urllib.parse.urlunsplit(url))
        try:
            with committed_db.env() as env:
                product_id = stock_flows.create_product(env, "Bus Outage", 50).id
            dispatcher = b.start()
            assert len(b.receive(1, timeout=30)) == 1
            # The consumer can get a message before the dispatcher has its
            # confirm and marks it sent: cut the broker only after that.
            assert _wait_until(lambda: _pending(committed_db) == 0, 30)
            proxy.stop()
            for _i in range(5):
                committed_db.call(lambda env: stock_flows.deliver(env, [(product_id, 1)]))
            assert _wait_until(lambda: "retrying in" in dispatcher.log_path.read_text(), 30)
            assert _pending(committed_db) == 5, dispatcher.log_path.read_text()[-3000:]
            proxy.start()
            assert _wait_until(lambda: _pending(committed_db) == 0, 90)
            received = b.receive(6)
        finally:
            proxy.stop()
        assert len({e["event_id"] for e in received}) == 6
        assert sum(e["quantity"] for e in received) == 45
        errors = [
            line for line in dispatcher.log_path.read_text().splitlines() if " ERROR " in line
        ]
        assert errors and all("stock_event_dispatch" in line for line in errors)
        assert all("Traceback" not in line for line in errors)

    def test_postings_commit_pending_events_without_the_broker(self, committed_db, monkeypatch):
        """A broker that does not answer: committed postings leave their
        events in the outbox, pending, one per done line, and neither the
        postings nor their commits (the dispatchers' wake-up) connect to
        it. Publishing is the dispatcher's job alone."""
        # Accepts TCP connections and never speaks AMQP: a connection from
        # the posting (inline publishing, a post-commit hook) would wait here.
        broker = socket.create_server(("127.0.0.1", 0))
        broker.setblocking(False)
        try:
            monkeypatch.setenv(
                bus_config.ENV_AMQP_URL,
                f"amqp://guest:guest@127.0.0.1:{broker.getsockname()[1]}/%2F",
            )
            with committed_db.env() as env:
                product_id = stock_flows.create_product(env, "Bus Unpublished").id
            committed_db.call(lambda env: stock_flows.receive(env, [(product_id, 5)]))
            committed_db.call(lambda env: stock_flows.deliver(env, [(product_id, 2)]))
            rows = _outbox(committed_db, "product_id = %s", (product_id,))
            assert [(r[5], r[2], r[6]) for r in rows] == [
                ("RECEIPT", "pending", 5.0),
                ("SALE", "pending", -2.0),
            ]
            with pytest.raises(BlockingIOError):
                broker.accept()
        finally:
            broker.close()

    def test_idle_dispatcher_keeps_its_broker_connection(self, committed_db, bus):
        """With a 2-second AMQP heartbeat, the dispatcher idles for several
        heartbeat intervals (the broker closes a connection after two missed
        heartbeats), then a posting's event is published on the same
        connection: no reconnection, no ERROR line in the log. The event's
        latency is printed, not asserted (the machine is noisy)."""
        b = bus(amqp_url=stack.amqp_url() + "?heartbeat=2")
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Bus Idle", 20).id
        dispatcher = b.start()
        assert len(b.receive(1, timeout=60)) == 1
        assert _wait_until(lambda: _pending(committed_db) == 0, 30)
        time.sleep(15)  # 7 heartbeat intervals without a posting
        started = time.monotonic()
        committed_db.call(lambda env: stock_flows.deliver(env, [(product_id, 2)]))
        received = b.receive(2, timeout=60)
        latency = time.monotonic() - started
        print(f"event after 15 s idle arrived in {latency * 1000:.0f} ms")
        assert [e["quantity"] for e in received] == [20.0, -2.0]
        log = dispatcher.log_path.read_text()
        assert [line for line in log.splitlines() if " ERROR " in line] == [], log[-3000:]
        assert "reconnected to the broker" not in log, log[-3000:]
        assert log.count("connected to the broker") == 1, log[-3000:]
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT state, last_seen FROM stock_event_dispatcher WHERE name LIKE %s",
                [f"%:{dispatcher.pid}"],
            )
            state, last_seen = cr.fetchone()
        # The status row is refreshed while idle (its heartbeat for admins).
        assert state == "running"
        assert last_seen > datetime.datetime.utcnow() - datetime.timedelta(seconds=30)

    def test_database_connection_loss_is_survived(self, committed_db, bus):
        """The dispatcher's database sessions are killed (a failover, a
        restart): it logs the loss, reconnects and goes on publishing."""
        b = bus()
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Bus Failover", 5).id
        dispatcher = b.start()
        assert len(b.receive(1, timeout=30)) == 1
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'stock_event_dispatch'",
                [committed_db.name],
            )
            assert cr.rowcount == 2  # the work connection and the LISTEN one
        committed_db.call(lambda env: stock_flows.deliver(env, [(product_id, 1)]))
        assert _wait_until(lambda: _pending(committed_db) == 0, 60)
        received = b.receive(2)
        assert [e["event_type"] for e in received] == ["ADJUSTMENT", "SALE"]
        assert "database unavailable" in dispatcher.log_path.read_text()

    def test_sigkill_mid_batch_loses_nothing(self, committed_db, bus):
        """A dispatcher killed with SIGKILL while publishing, then restarted:
        every event arrives; the duplicates carry the same event id."""
        b = bus()
        with committed_db.env() as env:
            product_ids = [
                stock_flows.create_product(env, f"Bus Kill {i}", 1).id for i in range(5)
            ]
        total = _fill_outbox(committed_db, product_ids, 600)
        victim = b.start("--batch-size=200")
        assert _wait_until(lambda: b.deliveries() > 0 or _pending(committed_db) < total, 60, 0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        published_before_restart = total - _pending(committed_db)
        assert published_before_restart < total, "the dispatcher finished before the kill"
        assert b.dispatch_once().returncode == 0
        received = b.receive(total, timeout=120)
        while b.consumer.run(b._handle, inactivity_timeout=1):
            pass
        ids = collections.Counter(e["event_id"] for e in received)
        assert len(ids) == total, "events were lost"
        duplicates = b.consumer.stats["duplicates"]
        print(f"SIGKILL: {total} events, {duplicates} duplicate deliveries after the crash")
        assert _pending(committed_db) == 0

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
            with committed_db.cursor() as cr:
                cr.execute(
                    "SELECT COUNT(*) FROM stock_event_dispatcher"
                    " WHERE state = 'running' AND (name LIKE %s OR name LIKE %s)",
                    [f"%:{first.pid}", f"%:{second.pid}"],
                )
                return cr.fetchone()[0] == 2

        # Both are up before the outbox fills (on a busy machine one process
        # can take seconds longer to start than the other needs to drain it).
        assert _wait_until(both_running, 120)

        def sent_by_each():
            with committed_db.cursor() as cr:
                cr.execute(
                    "SELECT events_sent FROM stock_event_dispatcher WHERE name LIKE %s"
                    " OR name LIKE %s",
                    [f"%:{first.pid}", f"%:{second.pid}"],
                )
                return [row[0] for row in cr.fetchall()]

        # Which one takes a batch is the scheduler's choice: on a busy machine
        # one dispatcher can drain a few hundred events alone. Keep posting
        # (bounded) until both have published, each round drained first.
        for _round in range(10):
            for _chunk in range(8):
                _fill_outbox(committed_db, product_ids, 50)
            assert _wait_until(lambda: _pending(committed_db) == 0, 120)
            counts = sent_by_each()
            if len(counts) == 2 and min(counts) > 0:
                break
        total = len(_outbox(committed_db))
        for process in (first, second):
            process.terminate()
            assert process.wait(30) == 0
        sent_counts = [
            int(re.search(r"stopped, (\d+) events sent", p.log_path.read_text()).group(1))
            for p in (first, second)
        ]
        received = b.receive(total, timeout=120)
        b.consumer.run(b._handle, inactivity_timeout=1)
        assert len(received) == total == len({e["event_id"] for e in received})
        assert b.consumer.stats["duplicates"] == 0
        assert sum(sent_counts) == total and min(sent_counts) > 0, sent_counts
        last = {}
        for event in received:
            key = (event["product_id"], event["warehouse_id"])
            assert event["sequence"] > last.get(key, 0), f"out of order for {key}"
            last[key] = event["sequence"]

    def test_bad_url_and_wrong_credentials(self, committed_db, bus):
        """A wrong password or an unreachable broker: one clear line, the
        state on the admin screen, events still pending; a bad URL: a clear
        message. Postings are never affected."""
        b = bus()
        with committed_db.env() as env:
            stock_flows.create_product(env, "Bus Bad", 3)
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        wrong = urllib.parse.urlunsplit(
            parsed._replace(
                netloc=f"{parsed.username}:wrong-{uuid.uuid4().hex[:4]}"
                f"@{parsed.hostname}:{parsed.port or 5672}"
            )
        )
        result = b.dispatch_once(env={"STOCK_EVENT_BUS_AMQP_URL": wrong})
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
        assert len(errors) == 1 and "access refused" in errors[0], result.stderr
        assert "wrong-" not in result.stderr and "***" in errors[0]
        assert _pending(committed_db) == 1
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT state, last_error FROM stock_event_dispatcher ORDER BY id DESC LIMIT 1"
            )
            state, error = cr.fetchone()
        assert "access refused" in error and "wrong-" not in error
        closed = urllib.parse.urlunsplit(
            parsed._replace(netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:1")
        )
        result = b.dispatch_once(env={"STOCK_EVENT_BUS_AMQP_URL": closed})
        assert result.returncode == 1 and "cannot connect" in result.stderr
        result = b.dispatch_once(env={"STOCK_EVENT_BUS_AMQP_URL": "http://broker.invalid/"})
        assert result.returncode != 0
        assert "amqp_url must start with amqp:// or amqps://" in result.stderr
        with committed_db.env() as env:  # postings still work meanwhile
            stock_flows.create_product(env, "Bus Still Posting", 1)
        assert _pending(committed_db) == 2
        assert b.dispatch_once().returncode == 0
        assert len(b.receive(2)) == 2

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
                [("product_id", "=", product.id)], order="id"
            )
            env.cr.execute(
                "UPDATE stock_event_outbox SET payload = payload - 'quantity' WHERE id = %s",
                [damaged.id],
            )
            env.invalidate_all()
            (damaged | intact).action_replay()
        assert b.dispatch_once().returncode == 0
        rows = {row[0]: row for row in _outbox(committed_db, "product_id = %s", [product.id])}
        assert rows[damaged.id][2] == "failed"
        assert "malformed payload" in rows[damaged.id][8] and "quantity" in rows[damaged.id][8]
        assert rows[intact.id][2] == "sent"
        b.consumer.run(b._handle, inactivity_timeout=2)
        assert b.consumer.stats["duplicates"] == 1  # the intact one, same event id

    def test_unroutable_events_fail_with_the_reason(self, committed_db, bus):
        b = bus()
        b.consumer._channel.queue_unbind(b.queue, b.exchange, "stock.#")
        with committed_db.env() as env:
            stock_flows.create_product(env, "Bus Nowhere", 1)
        assert b.dispatch_once().returncode == 0
        (row,) = _outbox(committed_db)[-1:]
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
        assert _wait_until(
            lambda: [r[2] for r in _outbox(committed_db)] == ["sent", "pending", "pending"]
            and "did not take 2 event(s)" in dispatcher.log_path.read_text(),
            timeout=60,
        ), (_outbox(committed_db), dispatcher.log_path.read_text()[-3000:])
        pending = [r for r in _outbox(committed_db) if r[2] == "pending"]
        assert all("basic.nack" in r[8] for r in pending), pending
        # The queue has room again: the next rounds publish the two.
        amqp_channel.channel.queue_purge(full)
        amqp_channel.channel.queue_unbind(full, b.exchange, "stock.#")
        b.consumer._channel.queue_bind(b.queue, b.exchange, "stock.#")
        assert _wait_until(lambda: {r[2] for r in _outbox(committed_db)} == {"sent"}, timeout=90)
        assert dispatcher.poll() is None
        assert {e["event_id"] for e in b.receive(2)} == {r[1] for r in pending}

    def test_consumer_dead_letters_poison_messages(self, bus, amqp_channel):
        """Malformed JSON, a schema violation and a handler's refusal go to
        the dead-letter exchange with their reason; good events are handled."""
        b = bus()
        channel = amqp_channel.channel
        good = events.build_payload(
            {
                "date": datetime.datetime(2026, 1, 1),
                "company_id": 1,
                "product_id": 1,
                "default_code": None,
                "barcode": None,
                "quantity": 1.0,
                "uom": "Units",
                "location_id": 1,
                "location": "A",
                "location_dest_id": 2,
                "location_dest": "B",
                "lot": None,
                "package": None,
                "result_package": None,
                "move_id": 1,
                "move_line_id": 1,
                "picking": None,
                "origin": None,
            },
            event_id=str(uuid.uuid4()),
            warehouse_id=1,
            event_type="RECEIPT",
            sign=1,
            sequence=1,
        )
        refused = dict(good, event_id=str(uuid.uuid4()), product_id=666)
        bodies = [
            b"{not json",
            json.dumps(dict(good, event_type="THEFT")).encode(),
            json.dumps(refused).encode(),
            json.dumps(good).encode(),
            json.dumps(good).encode(),  # a duplicate
        ]
        for body in bodies:
            channel.basic_publish(b.exchange, "stock.1.1.receipt", body)

        def handler(event):
            if event["product_id"] == 666:
                raise consumer_lib.PoisonMessage("unknown product 666")
            b.received.append(event)

        b.consumer.run(handler, max_messages=5, inactivity_timeout=5)
        assert [e["event_id"] for e in b.received] == [good["event_id"]]
        assert b.consumer.stats["duplicates"] == 1
        dead = amqp_channel.drain(b.consumer.dead_letter_queue)
        reasons = [props.headers["x-poison-reason"] for _m, props, _b in dead]
        assert len(reasons) == 3
        assert "not JSON" in reasons[0]
        assert "event_type" in reasons[1]
        assert reasons[2] == "unknown product 666"
        assert all(p.headers["x-original-exchange"] == b.exchange for _m, p, _b in dead)

    def test_consumer_module_imports_no_odoo(self):
        """Downstream services can use the consumer without Odoo."""
        lib = ROOT / "stock_event_bus" / "lib"
        code = (
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location(\n"
            f"    'stock_events', {str(lib / '__init__.py')!r},\n"
            f"    submodule_search_locations=[{str(lib)!r}])\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "sys.modules['stock_events'] = module\n"
            "spec.loader.exec_module(module)\n"
            "import stock_events.consumer, stock_events.dispatcher\n"
            "odoo = [m for m in sys.modules if m == 'odoo' or m.startswith('odoo.')]\n"
            "assert not odoo, 'odoo imported'\n"
            "print('ok')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.stdout.strip() == "ok", result.stderr
