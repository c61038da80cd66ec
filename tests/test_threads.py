# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Safe in a threaded Odoo server: what requests do in threads of one process
leaves process-wide state (loggers, the garbage collector) as it was; state
that belongs to a transaction ends with it; report row ids never collide.
"""

import datetime
import gc
import logging

import pytest

from odoo.tests import tagged

from tests.harness import stock_flows


def _logger_state(name):
    logger = logging.getLogger(name)
    return (list(logger.handlers), logger.propagate, logger.level, logger.disabled)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestThreadedServer:
    def test_first_receipts_in_16_threads_leave_the_sql_logger_alone(self, committed_db):
        """16 threads each post the first receipt of a new product, then 16
        threads race to create the same new key: every request commits, the
        odoo.sql_db logger keeps its handlers, level and propagation, and a
        deliberate SQL error afterwards is still logged."""
        before = _logger_state("odoo.sql_db")
        with committed_db.env() as env:
            products = [stock_flows.create_product(env, f"Thread First {i}").id for i in range(16)]
            shared = stock_flows.create_product(env, "Thread Shared Key").id
        outcomes = committed_db.run_concurrently(
            [
                lambda p=p: committed_db.call(lambda env: stock_flows.receive(env, [(p, 2)]))
                for p in products
            ]
            + [
                lambda: committed_db.call(lambda env: stock_flows.receive(env, [(shared, 1)]))
                for _ in range(16)
            ]
        )
        assert [kind for kind, _value in outcomes] == ["ok"] * 32, outcomes
        assert _logger_state("odoo.sql_db") == before
        assert gc.isenabled()
        with committed_db.env() as env:
            assert env["stock.quant"]._sscale_ledger_drift(products + [shared]) == []
            stock = stock_flows.main_warehouse(env).lot_stock_id
            quants = env["stock.quant"].search(
                [("product_id", "=", shared), ("location_id", "=", stock.id)]
            )
            assert len(quants) == 1 and quants.quantity == 16
        # pytest-odoo sets the "odoo" logger to CRITICAL: let the test see
        # ERROR records of odoo.sql_db, then put its level back.
        capture = _Capture()
        logger = logging.getLogger("odoo.sql_db")
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(capture)
        try:
            with committed_db.cursor() as cr, pytest.raises(Exception, match="no_such_column"):
                cr.execute("SELECT no_such_column FROM stock_quant")
        finally:
            logger.removeHandler(capture)
            logger.setLevel(level)
        assert any("bad query" in message for message in capture.messages), capture.messages

    def test_reports_in_threads_leave_the_garbage_collector_on(self, committed_db):
        """Reports read in 8 threads at once: the collector stays enabled
        throughout (it is the whole process's)."""
        with committed_db.env() as env:
            stock_flows.create_product(env, "Thread Report", 5)
        seen = []

        def report(env):
            rows = env["stock.movement.report"].read_group(
                [], ["qty_in:sum"], ["product_id", "date:month"], lazy=False
            )
            seen.append(gc.isenabled())
            return len(rows)

        outcomes = committed_db.run_concurrently(
            [lambda: committed_db.call(report)[0] for _ in range(8)]
        )
        assert all(kind == "ok" for kind, _value in outcomes), outcomes
        assert seen == [True] * 8 and gc.isenabled()

    def test_commit_inside_a_posting_block_then_post_again(self, committed_db):
        """A flow that commits between batches inside one lock scope (as a
        cron does): after the commit the scope holds no row any more (the
        commit released them), so the next posting locks its rows again and
        waits for a concurrent holder; the ledger stays exact."""
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Thread Batches", 10).id
        with committed_db.cursor() as cr:
            from odoo import SUPERUSER_ID, api  # noqa: PLC0415

            env = api.Environment(cr, SUPERUSER_ID, {})
            Quant = env["stock.quant"]
            with Quant._sscale_lock_scope() as scope:
                stock_flows.deliver(env, [(product_id, 1)])
                assert scope["keys"], "the first batch locked its quants"
                cr.commit()
                assert scope["keys"] == {} and scope["reservations"] == set()
                # Another request changes the quant between the batches.
                committed_db.call(lambda other: stock_flows.deliver(other, [(product_id, 2)]))
                stock_flows.deliver(env, [(product_id, 3)])
                assert scope["keys"], "the second batch locked its quants again"
                cr.commit()
                assert scope["keys"] == {}, "cleared at every commit, not only the first"
                stock_flows.deliver(env, [(product_id, 1)])
                cr.rollback()
                assert scope["keys"] == {}, "and at rollback"
            cr.commit()
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 4
            assert env["stock.quant"]._sscale_ledger_drift([product_id]) == []

    def test_inventory_at_date_ids_at_the_edges(self, committed_db):
        """Warehouse id 1,000 and product id 100,000,000, a day before 2000
        and today: every row id is positive, below 2**53, and different for
        different (warehouse, product); a product of warehouse 1 and one of
        warehouse 1,000 with the old packing's colliding ids are apart."""
        with committed_db.env() as env:
            env.cr.execute("SELECT setval('stock_warehouse_id_seq', 999)")
            far = env["stock.warehouse"].create({"name": "Edge Warehouse", "code": "EDGE"})
            assert far.id == 1000
            env.cr.execute("SELECT setval('product_product_id_seq', 99999999)")
            big = stock_flows.create_product(env, "Edge Product", 3, location=far.lot_stock_id)
            assert big.id == 100_000_000
            small = stock_flows.create_product(env, "Edge Small", 2)
            stock_flows.set_inventory(env, small, 4, far.lot_stock_id)
        with committed_db.env() as env:
            Report = env["stock.inventory.date.report"]
            for day in (datetime.date(1999, 12, 31), datetime.date.today()):
                rows = (
                    Report.with_context(inventory_date=day.isoformat())
                    .search([])
                    .read(["warehouse_id", "product_id", "quantity"])
                )
                keys = {(r["warehouse_id"][0], r["product_id"][0]) for r in rows}
                ids = [r["id"] for r in rows]
                assert len(set(ids)) == len(ids) == len(keys), day
                assert all(0 < i < 2**53 for i in ids), day
            today = {
                (r["warehouse_id"][0], r["product_id"][0]): r["quantity"]
                for r in Report.with_context(inventory_date=datetime.date.today().isoformat())
                .search([])
                .read(["warehouse_id", "product_id", "quantity"])
            }
            assert today[(1000, 100_000_000)] == 3
            assert today[(1000, small.id)] == 4
            # A day before any of these postings: not in stock (the report
            # answers that day, not the cached figures of today).
            past = Report.with_context(inventory_date="1999-12-31").search(
                [("product_id", "=", 100_000_000)]
            )
            assert sum(past.mapped("quantity")) == 0


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestTurnstileDeadlock:
    def test_posting_gate_against_a_replay_is_a_detected_deadlock(self, committed_db):
        """A replay holds product B's turnstile (exclusive) and waits on A's
        quant row, which a posting holds; the posting then takes B's gate
        (shared). PostgreSQL detects the cycle, one of them is rolled back
        with a deadlock error, Odoo's retry runs it again, and both commit."""
        import threading  # noqa: PLC0415
        import time  # noqa: PLC0415

        from odoo.addons.stock_scalable.lib.quant_key import QuantKey  # noqa: PLC0415
        from odoo.addons.stock_scalable.locking import turnstile  # noqa: PLC0415

        with committed_db.env() as env:
            a = stock_flows.create_product(env, "Gate A", 10).id
            b = stock_flows.create_product(env, "Gate B", 10).id
            stock = stock_flows.main_warehouse(env).lot_stock_id.id
        key_a, key_b = QuantKey(a, stock), QuantKey(b, stock)
        posting_holds_a = threading.Event()
        tries = {"replay": 0, "posting": 0}

        def replay(env):
            tries["replay"] += 1
            Quant = env["stock.quant"]
            if tries["replay"] == 1:
                # As after a lost race on B: the next statement, the first
                # of the transaction, takes B's turnstile exclusively.
                turnstile.mark(env.cr, [b])
                assert posting_holds_a.wait(30)
            with Quant._sscale_lock_scope():
                Quant._sscale_lock_keys([key_b])  # enters B's turnstile
                Quant._sscale_lock_keys([key_a])  # waits for the posting
            return "replay"

        def posting(env):
            tries["posting"] += 1
            Quant = env["stock.quant"]
            with Quant._sscale_lock_scope():
                Quant._sscale_lock_keys([key_a])
                if tries["posting"] == 1:
                    posting_holds_a.set()
                    time.sleep(1.5)  # the replay now holds B and waits on A
                Quant._sscale_lock_keys([key_b])  # B's gate: the cycle
            return "posting"

        outcomes = committed_db.run_concurrently(
            [
                lambda: committed_db.call(replay)[0],
                lambda: committed_db.call(posting)[0],
            ]
        )
        assert outcomes == [("ok", "replay"), ("ok", "posting")], outcomes
        assert "40P01" in committed_db.retry_errors, committed_db.retry_errors
        assert tries["replay"] + tries["posting"] >= 3

    def test_only_the_marked_cursor_changes_until_its_replay_starts(self, committed_db):
        """A lost race marks its own cursor, not Odoo: that cursor gets an
        ``execute`` of its own, whose first statement of the next transaction
        takes the product's turnstile exclusively at transaction level; the
        attribute is gone afterwards, and the lock with the commit. Another
        cursor open meanwhile runs Odoo's ``Cursor.execute``."""
        from odoo import sql_db  # noqa: PLC0415

        from odoo.addons.stock_scalable.locking import turnstile  # noqa: PLC0415

        locks_sql = """
            SELECT mode FROM pg_locks
             WHERE locktype = 'advisory' AND classid = %s AND objid = %s
               AND pid = pg_backend_pid()
        """
        with committed_db.cursor() as cr, committed_db.cursor() as other:
            cr.execute("SELECT 1")
            turnstile.mark(cr, [424242])
            assert turnstile.marked(cr) == {424242}
            assert "execute" in vars(cr) and "execute" not in vars(other)
            assert type(other).execute is sql_db.Cursor.execute
            # Still inside the transaction that lost: nothing is entered yet.
            cr.execute("SELECT 1")
            assert turnstile.marked(cr) == {424242}
            cr.rollback()
            cr.execute(locks_sql, [turnstile.LOCK_CLASS, 424242])
            assert cr.fetchall() == [("ExclusiveLock",)]
            assert "execute" not in vars(cr) and not turnstile.marked(cr)
            cr.commit()
            cr.execute(locks_sql, [turnstile.LOCK_CLASS, 424242])
            assert cr.fetchall() == [], "the transaction's end releases the turnstile"
