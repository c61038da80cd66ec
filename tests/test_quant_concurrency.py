# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Concurrent postings on committed data, through the ORM, each request in
its own real transaction and retried like Odoo's RPC layer retries it.

Invariants checked after every race: on-hand equals the ledger of done move
lines, one quant row per key, no internal quant below zero, and every request
either committed or was refused by the negative-stock guard.
"""

import collections

import pytest

from odoo.exceptions import UserError
from odoo.tests import tagged

from tests.harness import stock_flows


def _outcome_kinds(outcomes):
    kinds = {"ok": 0, "guard": 0}
    for kind, value in outcomes:
        if kind == "ok":
            kinds["ok"] += 1
        elif isinstance(value, UserError) and "Not enough stock" in str(value):
            kinds["guard"] += 1
        else:
            raise AssertionError(f"unexpected error: {value!r}") from value
    return kinds


def _check_invariants(env, products):
    """The ledger invariants of the quant table, for ``products``."""
    Quant = env["stock.quant"]
    assert Quant._sscale_ledger_drift(product_ids=products.ids) == []
    env.cr.execute(
        """
        SELECT q.product_id, q.location_id, q.quantity, q.reserved_quantity
          FROM stock_quant q JOIN stock_location l ON l.id = q.location_id
         WHERE q.product_id IN %s AND l.usage = 'internal'
           AND (q.quantity < 0 OR q.reserved_quantity > q.quantity + 0.0001)
        """,
        [tuple(products.ids)],
    )
    assert env.cr.fetchall() == [], "internal quant below zero or over-reserved"


def _setup(committed_db, specs):
    """Create products with on-hand quantities: specs = [(name, qty)]."""
    with committed_db.env() as env:
        return [stock_flows.create_product(env, name, qty).id for name, qty in specs]


def _stock_quants(env, product_id):
    """The product's quants in the main warehouse's stock location."""
    stock = stock_flows.main_warehouse(env).lot_stock_id
    return env["stock.quant"].search(
        [("product_id", "=", product_id), ("location_id", "=", stock.id)]
    )


def _call(committed_db, flow, *args):
    """A request that runs ``flow(env, *args)`` and returns its result."""
    return lambda: committed_db.call(lambda env: flow(env, *args))[0]


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestQuantConcurrency:
    def test_hot_sku_race_never_oversells(self, committed_db):
        """20 one-unit deliveries race for 10 units: exactly 10 commit, 10 are
        refused by the guard, on-hand ends at 0 on one quant row."""
        (product_id,) = _setup(committed_db, [("Hot SKU", 10)])
        outcomes = committed_db.run_concurrently(
            [_call(committed_db, stock_flows.deliver, [(product_id, 1)]) for _ in range(20)]
        )
        assert _outcome_kinds(outcomes) == {"ok": 10, "guard": 10}
        refusals = [str(v) for kind, v in outcomes if kind == "error"]
        assert all("Hot SKU" in r and "WH/Stock" in r for r in refusals), refusals[0]
        assert all("1.00 Units requested, only 0.00 Units available" in r for r in refusals)
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 0
            quants = _stock_quants(env, product_id)
            assert len(quants) == 1 and quants.quantity == 0
            _check_invariants(env, product)

    def test_many_skus_race(self, committed_db):
        """40 deliveries over 10 SKUs of 3 units each: 30 commit, 10 refused."""
        product_ids = _setup(committed_db, [(f"Race SKU {i}", 3) for i in range(10)])
        outcomes = committed_db.run_concurrently(
            [
                _call(committed_db, stock_flows.deliver, [(product_ids[i % 10], 1)])
                for i in range(40)
            ]
        )
        assert _outcome_kinds(outcomes) == {"ok": 30, "guard": 10}
        with committed_db.env() as env:
            products = env["product.product"].browse(product_ids)
            assert products.mapped("qty_available") == [0.0] * 10
            _check_invariants(env, products)

    def test_crossing_multi_line_pickings_do_not_deadlock(self, committed_db):
        """Pickings whose lines take A then B race pickings that take B then A:
        every one commits, and no deadlock was ever detected, even retried."""
        a, b = _setup(committed_db, [("Cross A", 50), ("Cross B", 50)])
        funcs = [
            _call(
                committed_db, stock_flows.deliver, [(a, 1), (b, 1)] if i % 2 else [(b, 1), (a, 1)]
            )
            for i in range(12)
        ]
        outcomes = committed_db.run_concurrently(funcs)
        assert _outcome_kinds(outcomes) == {"ok": 12, "guard": 0}
        assert committed_db.retry_errors.count("40P01") == 0, "a deadlock was detected"
        with committed_db.env() as env:
            products = env["product.product"].browse([a, b])
            assert products.mapped("qty_available") == [38.0, 38.0]
            _check_invariants(env, products)

    def test_reservations_race_never_exceed_on_hand(self, committed_db):
        """20 concurrent reservations of 1 unit with 10 on hand: exactly 10
        pickings are reserved, and the quant's reservation is 10."""
        (product_id,) = _setup(committed_db, [("Reserved SKU", 10)])
        outcomes = committed_db.run_concurrently(
            [_call(committed_db, stock_flows.reserve, [(product_id, 1)]) for _ in range(20)]
        )
        assert _outcome_kinds(outcomes) == {"ok": 20, "guard": 0}
        with committed_db.env() as env:
            pickings = env["stock.picking"].browse([value for _kind, value in outcomes])
            assert sorted(pickings.mapped("state")).count("assigned") == 10
            quant = _stock_quants(env, product_id)
            assert len(quant) == 1
            assert quant.quantity == 10 and quant.reserved_quantity == 10
            reserved_lines = env["stock.move.line"].search(
                [("product_id", "=", product_id), ("state", "!=", "done")]
            )
            assert sum(reserved_lines.mapped("quantity")) == 10
            _check_invariants(env, env["product.product"].browse(product_id))

    def test_inventory_apply_races_deliveries(self, committed_db):
        """An inventory count applied while deliveries post: every request
        commits or is refused by the guard, and the ledger stays exact."""
        (product_id,) = _setup(committed_db, [("Counted SKU", 5)])

        def count(env):
            product = env["product.product"].browse(product_id)
            stock_flows.set_inventory(env, product, 8)

        funcs = [_call(committed_db, stock_flows.deliver, [(product_id, 1)]) for _ in range(8)]
        funcs.insert(3, lambda: committed_db.call(count)[0])
        kinds = _outcome_kinds(committed_db.run_concurrently(funcs))
        assert kinds["ok"] + kinds["guard"] == 9
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available >= 0
            _check_invariants(env, product)

    def test_ledger_check_does_not_block_posting(self, committed_db):
        """While a reconciliation check's transaction is open (its reads and
        its findings written), a posting of a checked product commits at
        once: the check holds no lock that posting needs."""
        (product_id,) = _setup(committed_db, [("Checked SKU", 5)])
        admin = 2  # base.user_admin: an inventory administrator

        def post():
            with committed_db.env() as env:
                env.cr.execute("SET LOCAL lock_timeout = '3s'")
                return stock_flows.deliver(env, [(product_id, 1)])

        with committed_db.env(uid=admin) as check_env:
            check_env["stock.ledger.drift"].action_check_ledger()
            check_env.flush_all()
            outcomes = committed_db.run_concurrently([post])
        assert outcomes == [("ok", "done")]
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 4
            _check_invariants(env, product)

    def test_concurrent_first_receipts_create_one_quant(self, committed_db):
        """Eight receipts of a product that has no quant anywhere yet race to
        create its first quant: all commit (the losers are retried, never
        shown an IntegrityError) and the key has one quant of 8."""
        (product_id,) = _setup(committed_db, [("Brand New SKU", 0)])
        outcomes = committed_db.run_concurrently(
            [_call(committed_db, stock_flows.receive, [(product_id, 1)]) for _ in range(8)]
        )
        assert _outcome_kinds(outcomes) == {"ok": 8, "guard": 0}
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            quants = _stock_quants(env, product_id)
            assert len(quants) == 1 and quants.quantity == 8
            _check_invariants(env, product)

    def test_large_postings_in_opposite_order(self, committed_db):
        """Four 100-line postings over the same 100 products at once, two of
        them listing the lines in the opposite order: deliveries from
        WH/Stock (existing keys) and receipts into a new shelf (new keys,
        claimed together by the set-based step). Every request commits (a
        lost race is replayed by Odoo; no deadlock reaches the user), each
        product ends at 98 in WH/Stock and 2 on the shelf, on one quant row
        per key, equal to the ledger."""
        ids = _setup(committed_db, [(f"Wave SKU {i:03d}", 100) for i in range(100)])
        with committed_db.env() as env:
            stock = stock_flows.main_warehouse(env).lot_stock_id
            shelf = env["stock.location"].create({"name": "Wave shelf", "location_id": stock.id})
            shelf_id, stock_id = shelf.id, stock.id

        def receive_on_shelf(env, lines):
            picking_type = stock_flows.main_warehouse(env).in_type_id
            dest = env["stock.location"].browse(shelf_id)
            picking = stock_flows.create_picking(env, picking_type, lines, dest=dest)
            stock_flows.validate_all(picking)
            return picking.state

        forward = [(product_id, 1) for product_id in ids]
        backward = forward[::-1]
        outcomes = committed_db.run_concurrently(
            [
                _call(committed_db, stock_flows.deliver, forward),
                _call(committed_db, stock_flows.deliver, backward),
                _call(committed_db, receive_on_shelf, forward),
                _call(committed_db, receive_on_shelf, backward),
            ]
        )
        assert outcomes == [("ok", "done")] * 4, outcomes
        print("retried:", collections.Counter(committed_db.retry_errors))
        with committed_db.env() as env:
            products = env["product.product"].browse(ids)
            _check_invariants(env, products)
            env.cr.execute(
                """
                SELECT location_id, MIN(quantity), MAX(quantity), COUNT(*)
                  FROM stock_quant
                 WHERE product_id IN %s AND location_id IN %s
                 GROUP BY location_id
                """,
                [tuple(ids), (stock_id, shelf_id)],
            )
            assert sorted(env.cr.fetchall()) == sorted(
                [(stock_id, 98.0, 98.0, 100), (shelf_id, 2.0, 2.0, 100)]
            )

    def test_hot_sku_replays_go_first(self, committed_db):
        """Eight workers post deliveries and receipts of one product back to
        back, from the first postings that create its quants at Customers and
        Vendors on. A request that loses the lock race is replayed through the
        product's turnstile: every request commits (none fails after Odoo's 5
        tries, where 5% did without the turnstile in bench/quant_contention.py),
        and no turnstile lock is left behind. Odoo's ``Cursor.execute`` is
        never replaced: only a cursor that lost a race gets its own, until its
        replay's first statement."""
        from odoo import sql_db  # noqa: PLC0415

        odoo_execute = sql_db.Cursor.execute
        (product_id,) = _setup(committed_db, [("Turnstile SKU", 100)])
        flows = (stock_flows.deliver, stock_flows.receive)

        def worker(index):
            def run():
                return [
                    committed_db.call(
                        lambda env, n=n: flows[(index + n) % 2](env, [(product_id, 1)])
                    )[1]
                    for n in range(10)
                ]

            return run

        outcomes = committed_db.run_concurrently([worker(i) for i in range(8)])
        assert all(kind == "ok" for kind, _value in outcomes), outcomes
        tries = [t for _kind, value in outcomes for t in value]
        assert len(tries) == 80
        assert committed_db.retry_errors, "the workers never raced: the test proves nothing"
        # How many tries each request took (shown with -s): nearly all replays
        # commit at once; under a loaded machine a few have needed 3 or 4.
        print("tries per request:", collections.Counter(tries))
        with committed_db.env() as env:
            env.cr.execute(
                """
                SELECT COUNT(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = %s
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                [0x5353],
            )
            assert env.cr.fetchone()[0] == 0, "a turnstile lock was left held"
            assert sql_db.Cursor.execute is odoo_execute, "Odoo's Cursor.execute was patched"
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 100
            _check_invariants(env, product)
