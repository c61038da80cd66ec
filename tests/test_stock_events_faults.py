# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Downstream sync under faults (issue 27, tests 1 and 2): a real
``odoo-bin`` (the snapshot), real dispatchers (``stock_event_dispatch``), a
RabbitMQ node of the test's own (tests/harness/rabbit_cluster.py: it is
killed and started again, the machine's broker is not touched), and
``stock-events sync`` processes on a SQLite projection whose table carries
an audit (tests/harness/stock_events.py: every change logged with its
sequence, every update that would lower a key's sequence recorded).

1. Postings, reservations, unreservations, cancellations and counts over
   three warehouses and 50 products from several threads while the
   dispatcher is SIGKILLed and restarted, the sync is SIGKILLed after a
   batch and mid-batch (a batch delivered, not acked) and restarted, the
   broker node is SIGKILLed and restarted, and two dispatchers run at once.
   Each fault waits for a state (events sent, a batch applied, deliveries
   unacked), never for time. At the end: the projection equals Odoo for
   every key (sequence, on hand, reserved, available), no key's sequence
   ever went backwards in it, every level event was sent, on hand equals
   the ledger of done move lines, and no request failed (serialization
   failures retried as Odoo's RPC layer does are counted and printed).
2. A sync started after 1,000 postings (posted move lines, in validations
   of 10 lines) and while more come bootstraps
   page by page and converges; rows tampered behind its back (other
   quantities, a sequence ahead of Odoo, a row deleted) are reported and
   repaired by ``stock-events reconcile`` (exit code 1, then 0), and the
   sync goes on following the repaired keys."""

import collections
import random
import threading
import time
import uuid

import pytest

from odoo.tests import tagged

from tests.harness import amqp, processes, stock_flows
from tests.harness.event_bus import dispatcher_rows, levels_pending
from tests.harness.levels import converged, differences, level_operation, odoo_view
from tests.harness.processes import wait_for, wait_for_text
from tests.harness.rabbit_cluster import RabbitCluster, first_free_port
from tests.harness.stock_events import StockEventsClient
from tests.inventory_commands import api_key

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.http, pytest.mark.slow]

PRODUCTS = 50
WORKERS = 3
MIN_REQUESTS = 25  # per worker, whatever the faults' pace
BOOTSTRAP_POSTINGS = 1000  # posted move lines before the late sync starts,
POSTING_LINES = 10  # in validations of 10 lines each


@pytest.fixture
def rabbit_node():
    """A RabbitMQ node of the test's own (ports of its own), to kill and
    start again; removed after the test."""
    node = RabbitCluster(
        f"/tmp/sscale-rmq-{uuid.uuid4().hex[:8]}", size=1, first_port=first_free_port(1)
    )
    try:
        yield node.start()
    finally:
        node.close()


def _scalar(committed_db, query, params=()):
    with committed_db.cursor() as cr:
        cr.execute(query, params)
        return cr.fetchone()[0]


def level_events_sent(committed_db):
    return _scalar(
        committed_db,
        "SELECT COUNT(*) FROM stock_event_outbox WHERE event_type = 'LEVEL' AND state = 'sent'",
    )


def outbox_states(committed_db):
    """``{state: count}`` of the outbox's events."""
    with committed_db.cursor() as cr:
        cr.execute("SELECT state, COUNT(*) FROM stock_event_outbox GROUP BY state")
        return dict(cr.fetchall())


def make_stock(committed_db, tag, warehouses, products, quantity):
    """``warehouses - 1`` new warehouses besides the main one and
    ``products`` storable products with ``quantity`` counted in each
    warehouse's stock; returns ``(warehouse ids, product ids)``."""
    with committed_db.env() as env:
        found = [stock_flows.main_warehouse(env)]
        for i in range(warehouses - 1):
            found.append(
                env["stock.warehouse"].create(
                    {"name": f"Faults {tag} {i}", "code": f"F{i}{uuid.uuid4().hex[:3]}"}
                )
            )
        made = env["product.product"].create(
            [
                {"name": f"Faults {tag} {i}", "is_storable": True, "default_code": f"{tag}-{i}"}
                for i in range(products)
            ]
        )
        quants = (
            env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                [
                    {
                        "product_id": product.id,
                        "location_id": warehouse.lot_stock_id.id,
                        "inventory_quantity": quantity,
                    }
                    for product in made
                    for warehouse in found
                ]
            )
        )
        quants.action_apply_inventory()
        return [w.id for w in found], made.ids


class Load(threading.Thread):
    """Worker threads, each running requests (level_operation) in
    committed transactions through ``committed_db.call`` (serialization
    failures retried as Odoo's RPC layer does) until :meth:`finish` and at
    least ``minimum`` requests each. A request that still fails is
    recorded in ``failed``, the load goes on."""

    def __init__(self, committed_db, warehouses, product_ids, workers, minimum):
        super().__init__(daemon=True)
        self.committed_db = committed_db
        self.warehouses = warehouses
        self.product_ids = product_ids
        self.workers = workers
        self.minimum = minimum
        self.done = collections.Counter()
        self.retried = collections.Counter()  # requests that needed more than one try
        self.extra_tries = 0
        self.failed = []
        self.outcomes = None
        self._finish = threading.Event()

    def worker(self, seed):
        rng = random.Random(seed)
        mine = []
        count = 0
        while count < self.minimum or not self._finish.is_set():
            kind, run = level_operation(rng, self.warehouses, self.product_ids, mine)
            count += 1
            try:
                picking_id, tries = self.committed_db.call(run)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.failed.append((kind, repr(exc)))
                continue
            if picking_id:
                mine.append(picking_id)
            if tries > 1:
                self.retried[kind] += 1
                self.extra_tries += tries - 1
            self.done[kind] += 1

    def run(self):
        self.outcomes = self.committed_db.run_concurrently(
            [lambda s=s: self.worker(s) for s in range(self.workers)]
        )

    def total(self):
        return sum(self.done.values()) + len(self.failed)

    def finish(self, timeout=300):
        self._finish.set()
        self.join(timeout)
        assert not self.is_alive(), "the load did not end"


def sigkill(process):
    process.kill()
    process.wait()


@tagged("-at_install", "post_install", "sscale_committed")
class TestStockEventsFaults:
    def test_projection_converges_under_faults(
        self, committed_db, bus, odoo_server, rabbit_node, tmp_path
    ):
        started = time.monotonic()
        b = bus(amqp_url=rabbit_node.url(0))  # the dispatchers publish to the test's node
        # A queue of the node takes the movements (published with mandatory:
        # unroutable ones would be marked failed); the sync binds its own.
        amqp.declare_demo_queue(b.exchange, f"{b.exchange}.all", rabbit_node.url(0))
        tag = uuid.uuid4().hex[:6]
        warehouses, product_ids = make_stock(committed_db, tag, 3, PRODUCTS, 50)
        keys = [(p, w) for p in product_ids for w in warehouses]
        server = odoo_server()
        client = StockEventsClient(
            tmp_path,
            odoo_url=server.url,
            api_key=api_key(committed_db),
            exchange=b.exchange,
            amqp_url=rabbit_node.url(0),
            extra=["--page-size", "100"],
        )
        client.audit()  # before any sync writes
        phases = {}
        load = Load(committed_db, warehouses, product_ids, WORKERS, MIN_REQUESTS)
        try:
            sync = client.start()
            assert wait_for_text(sync.log_path, "following queue", 120), client.log()
            dispatcher = b.start()
            load.start()
            phases["setup"] = time.monotonic() - started

            # A. The dispatcher, SIGKILLed once it has sent level events,
            # and started again.
            sent = level_events_sent(committed_db)
            wait_for(
                lambda: level_events_sent(committed_db) >= sent + 30,
                180,
                "level events sent by the first dispatcher",
            )
            sigkill(dispatcher)
            dispatcher = b.start()
            phases["dispatcher killed at"] = time.monotonic() - started

            # B. The sync, SIGKILLed once it applied a batch (between its
            # commit and its ack, or just after), started again (snapshot
            # first, then its queue).
            applied = client.changes()
            wait_for(lambda: client.changes() > applied, 120, "a batch applied by the sync")
            sigkill(sync)
            sync = client.start()
            assert wait_for_text(sync.log_path, "following queue", 120), client.log()
            phases["sync killed after a batch at"] = time.monotonic() - started

            # C. The broker node crashes (SIGKILL) while both publish and
            # consume, and is started again.
            sent = level_events_sent(committed_db)
            wait_for(
                lambda: level_events_sent(committed_db) >= sent + 10,
                180,
                "level events of the restarted dispatcher",
            )
            rabbit_node.kill_node(0)
            rabbit_node.start_node(0)
            phases["broker restarted at"] = time.monotonic() - started
            wait_for(
                lambda: "reconnected to the broker" in dispatcher.log_path.read_text(),
                120,
                "the dispatcher's reconnection",
            )
            applied = client.changes()
            wait_for(lambda: client.changes() > applied, 120, "the sync applying again")
            assert "connection to the broker lost" in client.log(), client.log()

            # D. Two dispatchers at once, both publishing.
            second = b.start()
            before = dispatcher_rows(committed_db, dispatcher)[0][1]
            wait_for(
                lambda: _both_sent(committed_db, dispatcher, second, before),
                180,
                "both dispatchers publishing",
            )

            # E. The sync, SIGKILLed mid-batch: a batch delivered to it and
            # not acked while it waits for the projection's write lock;
            # started again on its queue alone.
            with client.write_locked():
                wait_for(
                    lambda: (rabbit_node.queue_counts(0, client.queue) or (0, 0))[1] > 0,
                    120,
                    "a batch delivered to the sync and not acked",
                )
                unacked = rabbit_node.queue_counts(0, client.queue)[1]
                sigkill(sync)
            sync = client.start("--no-bootstrap")
            assert wait_for_text(sync.log_path, "following queue", 120), client.log()
            applied = client.changes()
            wait_for(lambda: client.changes() > applied, 120, "the sync applying again")
            phases["sync killed mid-batch at"] = time.monotonic() - started

            # The second dispatcher stops; the load ends; everything drains.
            assert processes.stop(second, 60) == 0, second.log_path.read_text()
            load.finish()
            phases["load ended at"] = time.monotonic() - started
            wait_for(lambda: levels_pending(committed_db) == 0, 180, "the outbox to drain")
            assert processes.wait_until(lambda: converged(client, committed_db, keys), 180), (
                differences(client, committed_db, keys),
                client.log(),
            )
            phases["converged at"] = time.monotonic() - started

            assert sync.poll() is None, client.log()
            assert dispatcher.poll() is None, dispatcher.log_path.read_text()
            assert processes.stop(sync, 30) == 0, client.log()
            stopped = [line for line in client.log().splitlines() if "stopped:" in line]
        finally:
            if load.is_alive():
                load.finish()
            client.close()  # its queues go with the test's node

        # No request failed; every worker ended normally.
        assert [kind for kind, _value in load.outcomes] == ["ok"] * WORKERS, load.outcomes
        assert load.failed == [], load.failed
        # The projection equals Odoo for every key, sequences included, and
        # no key's sequence ever went backwards in it (trigger, and the
        # change log read again in order).
        assert odoo_view(committed_db, keys) == {
            k: v for k, v in client.levels().items() if k in keys
        }
        assert client.regressions() == []
        assert client.logged_regressions() == []
        # Every event was published: none failed, none left pending.
        assert set(outbox_states(committed_db)) == {"sent"}, outbox_states(committed_db)
        with committed_db.env() as env:
            drift = env["stock.quant"]._sscale_ledger_drift(product_ids)
        assert drift == [], drift
        sent = level_events_sent(committed_db)
        print(  # noqa: T201 - the figures of the run
            f"faults: {load.total()} requests {dict(load.done)}, {len(load.failed)} failed,"
            f" {sum(load.retried.values())} retried {dict(load.retried)}"
            f" ({load.extra_tries} extra tries, as Odoo's RPC layer retries serialization"
            f" failures and deadlocks; SQLSTATEs raised inside the requests:"
            f" {dict(collections.Counter(committed_db.retry_errors))}, the others at commit);"
            f" {sent} level events sent; {client.changes()} projection changes,"
            f" {len(client.regressions())} regressions; {unacked} deliveries unacked"
            f" when the sync was killed mid-batch; last sync: {stopped[-1] if stopped else '?'};"
            f" phases {', '.join(f'{k} {v:.0f} s' for k, v in phases.items())}"
        )

    def test_late_sync_bootstraps_then_reconcile_repairs(
        self, committed_db, bus, odoo_server, tmp_path
    ):
        b = bus()
        tag = uuid.uuid4().hex[:6]
        warehouses, product_ids = make_stock(committed_db, tag, 2, 20, 500)
        keys = [(p, w) for p in product_ids for w in warehouses]
        dispatcher = b.start()

        def postings(count, seed, lines=1):
            """``count`` receipts and deliveries of ``lines`` products each,
            validated from 2 threads."""
            rng = random.Random(seed)
            plan = [
                (rng.choice(warehouses), rng.sample(product_ids, lines), rng.choice(["in", "out"]))
                for _i in range(count)
            ]

            def post(env, wh_id, products, way):
                wh = env["stock.warehouse"].browse(wh_id)
                kind = wh.in_type_id if way == "in" else wh.out_type_id
                lines = [(product_id, rng.randint(1, 3)) for product_id in products]
                stock_flows.validate_all(stock_flows.create_picking(env, kind, lines))

            def worker(part):
                for item in part:
                    self._call(committed_db, post, *item)

            outcomes = committed_db.run_concurrently(
                [lambda: worker(plan[0::2]), lambda: worker(plan[1::2])]
            )
            assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes

        started = time.monotonic()
        postings(BOOTSTRAP_POSTINGS // POSTING_LINES, 1, POSTING_LINES)
        posted_in = time.monotonic() - started
        posted = _scalar(
            committed_db,
            "SELECT COUNT(*) FROM stock_move_line WHERE state = 'done' AND product_id = ANY(%s)"
            " AND picking_id IS NOT NULL",
            [product_ids],
        )
        assert posted == BOOTSTRAP_POSTINGS, posted
        wait_for(lambda: levels_pending(committed_db) == 0, 180, "the level events")
        server = odoo_server()
        client = StockEventsClient(
            tmp_path,
            odoo_url=server.url,
            api_key=api_key(committed_db),
            exchange=b.exchange,
            extra=["--page-size", "10"],
        )
        client.audit()
        try:
            # The sync starts while more postings come: the bootstrap's
            # pages and the events queued meanwhile both reach the table.
            more = threading.Thread(target=postings, args=(40, 2))
            more.start()
            sync = client.start()
            more.join()
            assert wait_for_text(sync.log_path, "bootstrap done", 120), client.log()
            wait_for(lambda: levels_pending(committed_db) == 0, 180, "the level events")
            assert processes.wait_until(lambda: converged(client, committed_db, keys), 120), (
                differences(client, committed_db, keys),
                client.log(),
            )
            log = client.log()
            pages = [line for line in log.splitlines() if "bootstrap: snapshot" in line]
            assert len(pages) > 1 and "keys/s" in pages[-1], log
            assert client.regressions() == []

            # Tampered behind the sync's back: other quantities at the same
            # sequence, a sequence ahead of Odoo, a row deleted.
            same, ahead, gone = keys[0], keys[1], keys[2]
            view = odoo_view(committed_db, keys)
            client.execute(
                "UPDATE stock_levels SET reserved = reserved + 5, available = available - 5"
                " WHERE product_id = ? AND warehouse_id = ?",
                same,
            )
            client.execute(
                "UPDATE stock_levels SET sequence = sequence + 1000, on_hand = 999"
                " WHERE product_id = ? AND warehouse_id = ?",
                ahead,
            )
            client.execute(
                "DELETE FROM stock_levels WHERE product_id = ? AND warehouse_id = ?", gone
            )
            result = client.reconcile()
            assert result.returncode == 1, result.stdout + result.stderr
            differed = [line for line in result.stdout.splitlines() if "->" in line]
            assert len(differed) == 3, result.stdout
            found = {
                key: next(
                    line
                    for line in differed
                    if line.startswith(f"product {key[0]} [{tag}-")
                    and f" warehouse {key[1]}:" in line
                )
                for key in (same, ahead, gone)
            }
            seq, on_hand, reserved, available = view[same]
            assert (
                f"projection seq {seq} on_hand {on_hand:g} reserved {reserved + 5:g}"
                f" available {available - 5:g} | Odoo seq {seq}"
            ) in found[same]
            assert found[same].endswith("-> repaired")
            assert f"projection seq {view[ahead][0] + 1000} on_hand 999" in found[ahead]
            assert found[ahead].endswith("-> replaced")
            assert "projection missing" in found[gone]
            assert found[gone].endswith("-> repaired")
            assert "3 differed, 3 repaired" in result.stdout, result.stdout
            assert converged(client, committed_db, keys), differences(client, committed_db, keys)
            again = client.reconcile()
            assert again.returncode == 0, again.stdout + again.stderr
            assert "0 differed, 0 repaired" in again.stdout

            # The one sequence lowered is reconcile's replacement of the row
            # ahead of Odoo; the sync then follows that key again.
            assert client.regressions() == [(*ahead, view[ahead][0] + 1000, view[ahead][0])]
            self._call(
                committed_db,
                lambda env: stock_flows.validate_all(
                    stock_flows.create_picking(
                        env, env["stock.warehouse"].browse(ahead[1]).in_type_id, [(ahead[0], 7)]
                    )
                ),
            )
            wait_for(
                lambda: client.levels()[ahead][1] == view[ahead][1] + 7,
                60,
                "the sync following the replaced key",
            )
            assert processes.wait_until(lambda: converged(client, committed_db, keys), 60)
            assert sync.poll() is None, client.log()
        finally:
            processes.stop(dispatcher, 30)
            # A new connection: one left idle for minutes may be dropped.
            connection, channel = amqp.open_channel()
            try:
                client.close(channel)  # and delete its queues
            finally:
                connection.close()
        print(  # noqa: T201 - the figures of the run
            f"late sync: {BOOTSTRAP_POSTINGS} posted move lines"
            f" ({BOOTSTRAP_POSTINGS // POSTING_LINES} validations) in {posted_in:.0f} s"
            f" ({len(committed_db.retry_errors)} retried), then 40 validations during the"
            f" bootstrap;"
            f" bootstrap: {pages[-1].split('INFO ')[-1]}; {len(keys)} keys compared"
        )

    @staticmethod
    def _call(committed_db, func, *args):
        result, _tries = committed_db.call(lambda env: func(env, *args))
        return result


def _both_sent(committed_db, first, second, before):
    """Whether both dispatchers run and each sent events: the first more
    than ``before``, the second any."""
    rows = dispatcher_rows(committed_db, first), dispatcher_rows(committed_db, second)
    return all(len(r) == 1 and r[0][0] == "running" for r in rows) and (
        rows[0][0][1] > before and rows[1][0][1] > 0
    )
