# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The dispatcher through outages: the broker cut off or silent, idle
heartbeats, its database sessions killed, SIGKILL mid-batch, a wrong URL or
password. Nothing is lost, postings never wait for the broker, and each
failure is one clear log line. Each test publishes to its own exchange.
"""

import collections
import datetime
import signal
import socket
import time
import urllib.parse
import uuid

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import config as bus_config

from tests.harness import stack, stock_flows
from tests.harness.event_bus import dispatcher_rows, fill_outbox, outbox, pending
from tests.harness.processes import wait_until
from tests.harness.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.committed, pytest.mark.amqp]


@tagged("-at_install", "post_install", "sscale_committed")
class TestEventDispatchOutages:
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
            assert wait_until(lambda: pending(committed_db) == 0, 30)
            proxy.stop()
            for _i in range(5):
                committed_db.call(lambda env: stock_flows.deliver(env, [(product_id, 1)]))
            assert wait_until(lambda: "retrying in" in dispatcher.log_path.read_text(), 30)
            assert pending(committed_db) == 5, dispatcher.log_path.read_text()[-3000:]
            proxy.start()
            assert wait_until(lambda: pending(committed_db) == 0, 90)
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
            rows = outbox(committed_db, "product_id = %s", (product_id,))
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
        assert wait_until(lambda: pending(committed_db) == 0, 30)
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
        ((state, _sent, last_seen),) = dispatcher_rows(committed_db, dispatcher)
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
        assert wait_until(lambda: pending(committed_db) == 0, 60)
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
        total = fill_outbox(committed_db, product_ids, 600)
        victim = b.start("--batch-size=200")
        assert wait_until(lambda: b.deliveries() > 0 or pending(committed_db) < total, 60, 0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        published_before_restart = total - pending(committed_db)
        assert published_before_restart < total, "the dispatcher finished before the kill"
        assert b.dispatch_once().returncode == 0
        received = b.receive(total, timeout=120)
        while b.consumer.run(b.handle, inactivity_timeout=1):
            pass
        ids = collections.Counter(e["event_id"] for e in received)
        assert len(ids) == total, "events were lost"
        duplicates = b.consumer.stats["duplicates"]
        print(f"SIGKILL: {total} events, {duplicates} duplicate deliveries after the crash")
        assert pending(committed_db) == 0

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
        assert pending(committed_db) == 1
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
        assert pending(committed_db) == 2
        assert b.dispatch_once().returncode == 0
        assert len(b.receive(2)) == 2
