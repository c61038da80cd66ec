# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The stock reports on committed data: each report's read_group equals a
ground truth computed here, in Python, from the done move lines, whatever
was posted before or after the last refresh, during a refresh, back-dated,
or committed out of id order; a refresh blocks neither readers nor postings.
"""

import collections
import datetime
import random

import pytest

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from tests.harness import stock_flows

MEASURES = ["qty_in", "qty_out", "qty_net", "move_count"]


def _ground_truth(env, groupby, keep=lambda fact: True):
    """Movement facts from stock_move_line, classified independently of the
    reports' SQL; summed per ``groupby``."""
    env.cr.execute(
        """
        SELECT ml.date::date, ml.company_id, ml.product_id, t.categ_id, ml.quantity_product_uom,
               src.id, src.usage, src.warehouse_id, src.scrap_location,
               dst.id, dst.usage, dst.warehouse_id, dst.scrap_location
          FROM stock_move_line ml
          JOIN product_product p ON p.id = ml.product_id
          JOIN product_template t ON t.id = p.product_tmpl_id
          JOIN stock_location src ON src.id = ml.location_id
          JOIN stock_location dst ON dst.id = ml.location_dest_id
         WHERE ml.state = 'done'
        """
    )
    totals = collections.defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    for day, company, product, categ, qty, *ends in env.cr.fetchall():
        src, dst = ends[:4], ends[4:]
        for here, there, incoming in ((dst, src, True), (src, dst, False)):
            if here[1] != "internal":
                continue
            usage, scrap = there[1], there[3]
            if scrap:
                kind = "scrap"
            elif usage in ("inventory", "production"):
                kind = {"inventory": "adjustment", "production": "production"}[usage]
            elif usage == "supplier":
                kind = "receipt" if incoming else "return"
            elif usage == "customer":
                kind = "return" if incoming else "sale"
            elif usage == "internal" and there[2] == here[2]:
                kind = "internal"
            else:
                kind = "transfer_in" if incoming else "transfer_out"
            fact = {
                "date": day,
                "company_id": company,
                "warehouse_id": here[2],
                "location_id": here[0],
                "product_id": product,
                "categ_id": categ,
                "movement_type": kind,
            }
            if not keep(fact):
                continue
            key = tuple(fact[g] for g in groupby)
            row = totals[key]
            row["qty_in"] += qty if incoming else 0.0
            row["qty_out"] += 0.0 if incoming else qty
            row["qty_net"] += qty if incoming else -qty
            row["move_count"] += 1
    return {k: v for k, v in totals.items() if any(abs(x) > 1e-9 for x in v.values())}


def _report(env, groupby, domain=()):
    rows = env["stock.movement.report"].read_group(
        list(domain), [f"{m}:sum" for m in MEASURES], groupby, lazy=False
    )
    result = {}
    for row in rows:
        key = tuple(row[g][0] if isinstance(row[g], tuple) else row[g] for g in groupby)
        values = {m: float(row[m] or 0.0) for m in MEASURES}
        if any(abs(x) > 1e-9 for x in values.values()):
            result[key] = values
    return result


def _assert_same(report, truth):
    assert set(report) == set(truth), set(report) ^ set(truth)
    for key, values in truth.items():
        for measure, value in values.items():
            assert report[key][measure] == pytest.approx(value), (key, measure)


def _check_random_views(env, rng, rounds=6):
    """Random groupings and filters: read_group == ground truth."""
    dims = ["warehouse_id", "location_id", "product_id", "movement_type", "company_id"]
    env.cr.execute("SELECT DISTINCT product_id FROM stock_move_line WHERE state = 'done'")
    products = [r[0] for r in env.cr.fetchall()]
    types = [
        "receipt",
        "sale",
        "return",
        "adjustment",
        "scrap",
        "internal",
        "transfer_in",
        "transfer_out",
    ]
    for _round in range(rounds):
        groupby = rng.sample(dims, rng.randint(1, 3))
        domain, checks = [], []
        if rng.random() < 0.5:
            chosen = rng.sample(products, max(1, len(products) // 3))
            domain.append(("product_id", "in", chosen))
            checks.append(lambda f, c=set(chosen): f["product_id"] in c)
        if rng.random() < 0.5:
            chosen = rng.sample(types, 3)
            domain.append(("movement_type", "in", chosen))
            checks.append(lambda f, c=set(chosen): f["movement_type"] in c)
        if rng.random() < 0.5:
            since = datetime.date.today() - datetime.timedelta(days=rng.randint(1, 40))
            domain.append(("date", ">=", since))
            checks.append(lambda f, s=since: f["date"] >= s)
        truth = _ground_truth(env, groupby, lambda f, cs=checks: all(c(f) for c in cs))
        _assert_same(_report(env, groupby, domain), truth)


def _refresh(committed_db):
    with committed_db.env() as env:
        logs = env["stock.report.refresh"]._refresh_reports()
        assert set(logs.mapped("state")) == {"done"}


def _backdate(env, picking, days):
    when = datetime.datetime.now() - datetime.timedelta(days=days)
    picking.move_ids.write({"date": when})
    picking.move_line_ids.write({"date": when})


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestReportingExactness:
    def test_reports_equal_the_ledger_around_refreshes(self, committed_db):
        rng = random.Random(7)
        with committed_db.env() as env:
            other_id = env["stock.warehouse"].create({"name": "Report WH2", "code": "RW2"}).id
            products = [stock_flows.create_product(env, f"Report P{i}", 20) for i in range(4)]
            ids = [p.id for p in products]
            stock_flows.deliver(env, [(ids[0], 3), (ids[1], 2)])
            stock_flows.receive(env, [(ids[2], 5)])
        _refresh(committed_db)
        with committed_db.env() as env:
            _check_random_views(env, rng)
            # After the refresh: more postings, a back-dated one, a transfer.
            wh = stock_flows.main_warehouse(env)
            other = env["stock.warehouse"].browse(other_id)
            stock_flows.deliver(env, [(ids[3], 4)])
            late = stock_flows.create_picking(env, wh.in_type_id, [(ids[0], 7)])
            stock_flows.validate_all(late)
            _backdate(env, late, 20)
            stock_flows.validate_all(
                stock_flows.create_picking(
                    env, wh.int_type_id, [(ids[1], 1)], dest=other.lot_stock_id
                )
            )
            scrap = env["stock.scrap"].create(
                {"product_id": ids[2], "scrap_qty": 1, "location_id": wh.lot_stock_id.id}
            )
            scrap.action_validate()
        with committed_db.env() as env:
            _check_random_views(env, rng)
            day = (datetime.datetime.now() - datetime.timedelta(days=20)).date()
            backdated = _report(
                env, ["movement_type"], [("date", "=", day), ("product_id", "=", ids[0])]
            )
            assert backdated == {
                ("receipt",): {"qty_in": 7.0, "qty_out": 0.0, "qty_net": 7.0, "move_count": 1.0}
            }
        _refresh(committed_db)
        with committed_db.env() as env:
            _check_random_views(env, rng)
            env.cr.execute("SELECT COUNT(*) FROM sscale_rpt_journal")
            assert env.cr.fetchone()[0] == 0, "the refresh left journal rows it holds"

    def test_posting_during_refresh_and_out_of_order_commits(self, committed_db):
        """T1 posts first (lower ids) but commits after a refresh that began
        meanwhile; T2 commits during the refresh: both are in the reports."""
        with committed_db.env() as env:
            a = stock_flows.create_product(env, "Order A", 10).id
            b = stock_flows.create_product(env, "Order B", 10).id
        _refresh(committed_db)
        t1 = committed_db.cursor()
        env1 = api.Environment(t1, SUPERUSER_ID, {})
        stock_flows.deliver(env1, [(a, 2)])
        env1.flush_all()
        refresh_cr = committed_db.cursor()
        try:
            refresh_env = api.Environment(refresh_cr, SUPERUSER_ID, {})
            logs = refresh_env["stock.report.refresh"]._refresh_reports()  # not committed yet
            assert set(logs.mapped("state")) == {"done"}
            with committed_db.env() as env2:  # commits while the refresh is open
                stock_flows.deliver(env2, [(b, 3)])
            with committed_db.env() as reader:  # reports read during the refresh
                _check_random_views(reader, random.Random(5), rounds=4)
            refresh_cr.commit()
        finally:
            refresh_cr.close()
        t1.commit()
        t1.close()
        with committed_db.env() as env:
            report = _report(
                env, ["product_id"], [("product_id", "in", [a, b]), ("movement_type", "=", "sale")]
            )
            assert report[(a,)]["qty_out"] == 2 and report[(b,)]["qty_out"] == 3
            _check_random_views(env, random.Random(3), rounds=4)

    def test_inventory_at_date_equals_the_ledger(self, committed_db):
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            product = stock_flows.create_product(env, "Dated", 30)
            old = stock_flows.create_picking(env, wh.out_type_id, [(product.id, 5)])
            stock_flows.validate_all(old)
            _backdate(env, old, 10)
            stock_flows.deliver(env, [(product.id, 4)])
            env["stock.move.line"].search(
                [
                    ("product_id", "=", product.id),
                    ("state", "=", "done"),
                    ("location_id.usage", "=", "inventory"),
                ]
            ).write({"date": datetime.datetime.now() - datetime.timedelta(days=30)})
        _refresh(committed_db)
        with committed_db.env() as env:
            stock_flows.receive(env, [(product.id, 6)])
        with committed_db.env() as env:
            for days in (40, 20, 5, 0):
                day = datetime.date.today() - datetime.timedelta(days=days)
                Report = env["stock.inventory.date.report"].with_context(inventory_date=str(day))
                rows = Report.search(
                    [("product_id", "=", product.id), ("warehouse_id", "=", wh.id)]
                )
                env.cr.execute(
                    """
                    SELECT COALESCE(
                               SUM(CASE WHEN dst.warehouse_id = %(wh)s AND dst.usage = 'internal'
                                        THEN ml.quantity_product_uom ELSE 0 END)
                             - SUM(CASE WHEN src.warehouse_id = %(wh)s AND src.usage = 'internal'
                                        THEN ml.quantity_product_uom ELSE 0 END), 0)
                      FROM stock_move_line ml
                      JOIN stock_location src ON src.id = ml.location_id
                      JOIN stock_location dst ON dst.id = ml.location_dest_id
                     WHERE ml.state = 'done' AND ml.product_id = %(p)s AND ml.date::date <= %(day)s
                    """,
                    {"wh": wh.id, "p": product.id, "day": day},
                )
                expected = float(env.cr.fetchone()[0])
                assert sum(rows.mapped("quantity")) == pytest.approx(expected), (days, expected)

    def test_levels_match_the_quants(self, committed_db):
        with committed_db.env() as env:
            product = stock_flows.create_product(env, "Leveled", 12)
            stock_flows.reserve(env, [(product.id, 5)])
        with committed_db.env() as env:
            levels = env["stock.level.report"].search([("product_id", "=", product.id)])
            assert sum(levels.mapped("quantity")) == 12
            assert sum(levels.mapped("reserved_quantity")) == 5
            assert sum(levels.mapped("available_quantity")) == 7
            assert all(levels.mapped("last_movement_date"))
            assert levels.mapped("days_since_last_movement") == [0] * len(levels)

    def test_last_movement_follows_edited_dates(self, committed_db):
        """A done line's date edited backwards after the refresh: the last
        movement date is the ledger's again, before the next refresh too."""

        def ledger_last(env, level):
            env.cr.execute(
                """
                SELECT MAX(date) FROM stock_move_line
                 WHERE state = 'done' AND product_id = %s
                   AND %s IN (location_id, location_dest_id)
                """,
                (level.product_id.id, level.location_id.id),
            )
            return env.cr.fetchone()[0]

        with committed_db.env() as env:
            # One receipt: the only line of its key.
            product = stock_flows.create_product(env, "Edited back")
            wh = stock_flows.main_warehouse(env)
            picking = stock_flows.create_picking(env, wh.in_type_id, [(product.id, 4)])
            stock_flows.validate_all(picking)
        _refresh(committed_db)
        for days in (30, 200):
            with committed_db.env() as env:
                _backdate(env, env["stock.picking"].browse(picking.id), days)
            with committed_db.env() as env:
                levels = env["stock.level.report"].search([("product_id", "=", product.id)])
                assert levels
                for level in levels:
                    last = level.last_movement_date.replace(microsecond=0)
                    assert last == ledger_last(env, level).replace(microsecond=0)
                    expected = (datetime.date.today() - ledger_last(env, level).date()).days
                    assert level.days_since_last_movement == expected == days

    def test_refresh_blocks_neither_readers_nor_postings(self, committed_db):
        """While a refresh holds its lock (its transaction is open), a reader
        and a posting both finish (each with a 5 s lock timeout)."""
        with committed_db.env() as env:
            product_id = stock_flows.create_product(env, "Unblocked", 10).id
        refresh_cr = committed_db.cursor()
        try:
            api.Environment(refresh_cr, SUPERUSER_ID, {})[
                "stock.report.refresh"
            ]._refresh_reports()

            def read():
                with committed_db.env() as env:
                    env.cr.execute("SET LOCAL lock_timeout = '5s'")
                    return len(
                        env["stock.movement.report"].read_group(
                            [], ["qty_net:sum"], ["warehouse_id"]
                        )
                    )

            def post():
                with committed_db.env() as env:
                    env.cr.execute("SET LOCAL lock_timeout = '5s'")
                    return stock_flows.deliver(env, [(product_id, 1)])

            def refresh_again():
                with committed_db.env() as env:
                    return env["stock.report.refresh"]._refresh_reports().mapped("state")

            outcomes = committed_db.run_concurrently([read, post, refresh_again])
            assert outcomes[0][0] == "ok" and outcomes[0][1] > 0, outcomes[0]
            assert outcomes[1] == ("ok", "done"), outcomes[1]
            assert outcomes[2] == ("ok", ["skipped"]), "a second refresh must not wait"
            refresh_cr.commit()
        finally:
            refresh_cr.close()

    def test_each_user_sees_only_their_companies(self, committed_db):
        with committed_db.env() as env:
            main = env.company
            other = env["res.company"].create({"name": "Report Co B"})
            other_wh = env["stock.warehouse"].search([("company_id", "=", other.id)], limit=1)
            product = stock_flows.create_product(env, "Shared", 5)
            stock_flows.set_inventory(env, product, 4, location=other_wh.lot_stock_id)
            user = env["res.users"].create(
                {
                    "name": "Report User A",
                    "login": "report_user_a",
                    "company_id": main.id,
                    "company_ids": [(6, 0, [main.id])],
                    "groups_id": [(6, 0, [env.ref("stock.group_stock_user").id])],
                }
            )
            uid, other_id, main_id = user.id, other.id, main.id
        with committed_db.env(uid=uid) as env:
            for model in ("stock.movement.report", "stock.level.report"):
                companies = {
                    row["company_id"][0]
                    for row in env[model].read_group([], ["company_id"], ["company_id"])
                    if row["company_id"]
                }
                assert companies == {main_id}, (model, companies)
            at_date = env["stock.inventory.date.report"].with_context(
                inventory_date=str(datetime.date.today())
            )
            assert set(at_date.search([]).mapped("company_id").ids) <= {main_id}
        with committed_db.env() as env:
            seen = env["stock.level.report"].search([("company_id", "=", other_id)])
            assert sum(seen.mapped("quantity")) == 4


def _month_report(env, groupby, domain, model="stock.movement.report"):
    """read_group by month as the pivot asks it: {(month start, *keys): sums}."""
    rows = env[model].read_group(
        domain, [f"{m}:sum" for m in MEASURES], ["date:month", *groupby], lazy=False
    )
    result = {}
    for row in rows:
        month = datetime.date.fromisoformat(row["__range"]["date:month"]["from"][:10])
        key = (month,) + tuple(row[g][0] if isinstance(row[g], tuple) else row[g] for g in groupby)
        values = {m: float(row[m] or 0.0) for m in MEASURES}
        if any(abs(x) > 1e-9 for x in values.values()):
            result[key] = values
    return result


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestReportingMonths:
    def test_monthly_questions_equal_the_ledger(self, committed_db):
        """Questions by month are answered from the monthly facts, and give
        the ledger's figures: before and after a refresh, back-dated lines."""
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            ids = [stock_flows.create_product(env, f"Monthly {i}", 40).id for i in range(3)]
            old = stock_flows.create_picking(env, wh.out_type_id, [(ids[0], 4)])
            stock_flows.validate_all(old)
            _backdate(env, old, 45)
        _refresh(committed_db)
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            stock_flows.deliver(env, [(ids[1], 2)])
            late = stock_flows.create_picking(env, wh.in_type_id, [(ids[2], 5)])
            stock_flows.validate_all(late)
            _backdate(env, late, 70)
        with committed_db.env() as env:
            start = (datetime.date.today() - datetime.timedelta(days=365)).replace(day=1)
            domain = [("date", ">=", start), ("product_id", "in", ids)]
            Report = env["stock.movement.report"]
            assert (
                Report._sscale_rollup(domain, ["product_id", "date:month"], ["qty_net:sum"], [])
                == "stock.movement.company.product.month.report"
            )
            assert (
                Report._sscale_rollup(domain, ["warehouse_id", "date:month"], ["qty_net:sum"], [])
                == "stock.movement.product.month.report"
            )
            assert (
                Report._sscale_rollup(domain, ["movement_type", "date:month"], ["qty_net:sum"], [])
                == "stock.movement.month.report"
            )
            assert not Report._sscale_rollup(
                [("date", ">=", start + datetime.timedelta(days=3))], ["product_id"], [], []
            )
            for groupby in (
                ["product_id"],
                ["product_id", "movement_type"],
                ["warehouse_id"],
                ["warehouse_id", "product_id"],
            ):
                truth = _ground_truth(
                    env,
                    ["date", *groupby],
                    lambda f: f["date"] >= start and f["product_id"] in ids,
                )
                monthly = collections.defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
                for (day, *rest), values in truth.items():
                    for m in MEASURES:
                        monthly[(day.replace(day=1), *rest)][m] += values[m]
                _assert_same(_month_report(env, groupby, domain), dict(monthly))


def _monthly_truth(env, groupby, keep):
    """Ground truth by month: {(month start, *keys): sums}."""
    truth = _ground_truth(env, ["date", *groupby], keep)
    monthly = collections.defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    for (day, *rest), values in truth.items():
        for m in MEASURES:
            monthly[(day.replace(day=1), *rest)][m] += values[m]
    return {k: v for k, v in monthly.items() if any(abs(x) > 1e-9 for x in v.values())}


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestReportingPlanner:
    def test_every_view_the_planner_can_choose_equals_the_ledger(self, committed_db):
        """Groupings and filters by month over every dimension: each view
        that keeps the question's fields (not only the one the planner
        chooses) gives the ledger's figures, the planner chooses the one with
        the fewest rows, and a product that changes category keeps the
        category rollup out until the next refresh."""
        from odoo.addons.stock_scalable_reporting.tools import ledger  # noqa: PLC0415

        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            categs = [env["product.category"].create({"name": f"Planner {n}"}) for n in "AB"]
            ids = [
                stock_flows.create_product(env, f"Planner {i}", 30, categ_id=categs[i % 2].id).id
                for i in range(4)
            ]
            for days, product_id in ((80, ids[0]), (40, ids[1]), (40, ids[2])):
                old = stock_flows.create_picking(env, wh.out_type_id, [(product_id, 3)])
                stock_flows.validate_all(old)
                _backdate(env, old, days)
            categ_ids = [c.id for c in categs]
        _refresh(committed_db)
        with committed_db.env() as env:
            stock_flows.deliver(env, [(ids[3], 2)])
            stock_flows.receive(env, [(ids[0], 5)])

        start = (datetime.date.today() - datetime.timedelta(days=365)).replace(day=1)
        filters = [
            ([], lambda f: True),
            ([("product_id", "in", ids[:3])], lambda f: f["product_id"] in ids[:3]),
            ([("categ_id", "=", categ_ids[0])], lambda f: f["categ_id"] == categ_ids[0]),
            ([("movement_type", "=", "sale")], lambda f: f["movement_type"] == "sale"),
        ]
        groupings = [
            [],
            ["warehouse_id"],
            ["movement_type"],
            ["warehouse_id", "movement_type"],
            ["categ_id"],
            ["categ_id", "movement_type"],
            ["product_id"],
            ["location_id", "product_id"],
        ]

        def check(env, expect_category):
            Report = env["stock.movement.report"]
            env.cr.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relname LIKE 'sscale\\_rpt\\_%'"
            )
            sizes = dict(env.cr.fetchall())
            chosen = collections.Counter()
            for domain, keep in filters:
                domain = [("date", ">=", start), *domain]
                for groupby in groupings:
                    truth = _monthly_truth(
                        env,
                        groupby,
                        lambda f, k=keep: f["date"] >= start
                        and f["company_id"] == env.company.id
                        and k(f),
                    )
                    used = {g for g in groupby} | {leaf[0] for leaf in domain} - {"date"}
                    covering = [
                        model
                        for model, (_v, grain, dims, _s) in ledger.REPORT_VIEWS.items()
                        if grain == "month" and used <= dims
                    ]
                    usable = [
                        m
                        for m in covering
                        if expect_category or m != "stock.movement.category.month.report"
                    ]
                    for model in usable:
                        _assert_same(_month_report(env, groupby, domain, model), truth)
                    choice = Report._sscale_rollup(
                        domain, ["date:month", *groupby], ["qty_net:sum"], []
                    )
                    assert choice in usable, (groupby, domain, choice)
                    smallest = min(sizes[ledger.REPORT_VIEWS[m][0]] for m in usable)
                    assert sizes[ledger.REPORT_VIEWS[choice][0]] == smallest, (groupby, choice)
                    chosen[choice] += 1
                    # What the user reads: the planner's answer.
                    _assert_same(_month_report(env, groupby, domain), truth)
            return chosen

        with committed_db.env() as env:
            chosen = check(env, expect_category=True)
            # Each rollup answers some question.
            assert set(chosen) >= {
                "stock.movement.warehouse.month.report",
                "stock.movement.category.month.report",
                "stock.movement.company.product.month.report",
                "stock.movement.month.report",
            }, chosen
        with committed_db.env() as env:
            env["product.product"].browse(ids[0]).categ_id = categ_ids[1]
        with committed_db.env() as env:
            check(env, expect_category=False)
        _refresh(committed_db)
        with committed_db.env() as env:
            assert "stock.movement.category.month.report" in check(env, expect_category=True)


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestReportingRows:
    def test_postings_since_the_refresh_are_summed_per_daily_key(self, committed_db):
        """The Stock Movements list shows the postings since the last refresh
        as one row per day, location, product and movement type (not one per
        move line), beside the view's row of that key until the next
        refresh, which folds them into it."""
        with committed_db.env() as env:
            old = stock_flows.create_product(env, "One Row Old", 20)
            stock_flows.deliver(env, [(old.id, 1)])
            new = stock_flows.create_product(env, "One Row New")
            ids = old.id, new.id
        _refresh(committed_db)
        for _n in range(2):
            with committed_db.env() as env:
                stock_flows.deliver(env, [(ids[0], 2)])
                stock_flows.receive(env, [(ids[1], 3)])

        def rows(env):
            found = env["stock.movement.report"].search_read(
                [("product_id", "in", ids), ("movement_type", "in", ["sale", "receipt"])],
                ["product_id", "movement_type", "qty_in", "qty_out", "move_count"],
            )
            return sorted(
                (
                    r["product_id"][0],
                    r["movement_type"],
                    r["qty_in"],
                    r["qty_out"],
                    r["move_count"],
                )
                for r in found
            )

        def counts_agree(env):
            # The list's count is its rows, whichever view answers a count.
            Report = env["stock.movement.report"]
            domain = [("product_id", "in", ids)]
            assert Report.search_count(domain) == len(Report.search(domain))
            by_month = Report.read_group(domain, ["__count"], ["date:month"], lazy=False)
            assert sum(g["__count"] for g in by_month) == Report.search_count(domain)

        with committed_db.env() as env:
            assert rows(env) == sorted(
                [
                    (ids[0], "sale", 0, 1, 1),  # the view's row
                    (ids[0], "sale", 0, 4, 2),  # the two deliveries since
                    (ids[1], "receipt", 6, 0, 2),
                ]
            )
            counts_agree(env)
        _refresh(committed_db)
        with committed_db.env() as env:
            assert rows(env) == [(ids[0], "sale", 0, 5, 3), (ids[1], "receipt", 6, 0, 2)]
            counts_agree(env)


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestReportingUpgrade:
    def test_upgrade_rebuilds_views_dropped_by_a_column_change(self, committed_db, odoo_cli):
        """A column change elsewhere drops the views (CASCADE), and a view
        was built from an older definition; upgrading the module builds them
        again, with the same figures."""
        with committed_db.env() as env:
            stock_flows.create_product(env, "Rebuilt", 9)
            before = _report(env, ["product_id"])
            # What PostgreSQL does when Odoo changes a column that a view reads.
            env.cr.execute("DROP MATERIALIZED VIEW sscale_rpt_movement CASCADE")
            env.cr.execute("SELECT to_regclass('stock_movement_report')")
            assert env.cr.fetchone()[0] is None, "the report view went with it"
            # A view built by an older version (its definition changed since).
            env.cr.execute("COMMENT ON MATERIALIZED VIEW sscale_rpt_last_move IS 'older'")
        result = odoo_cli(
            "-d", committed_db.name, "-u", "stock_scalable_reporting", "--stop-after-init"
        )
        assert result.returncode == 0, result.stderr[-3000:]
        for name in (
            "movement",
            "movement_month",
            "product_month",
            "company_product_month",
            "last_move",
        ):
            assert f"building sscale_rpt_{name} from" in result.stderr
        with committed_db.env() as env:
            assert _report(env, ["product_id"]) == before
            env.cr.execute("SELECT obj_description('sscale_rpt_last_move'::regclass)")
            assert env.cr.fetchone()[0].startswith("stock_scalable_reporting ")
