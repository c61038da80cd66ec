# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The valuation reports of stock_scalable_reporting_account (installed by
itself beside stock_account), on committed data: every question the planner
can send to a view, and valuation at a date, equal to Odoo's own grouping of
``stock.valuation.layer`` for the same question, whether the layers are in
the views, in the journal, or both (FIFO's updates of older layers, a
product moved to another category, layers re-dated after the refresh)."""

import datetime
import random

import pytest

from odoo.tests import tagged

from odoo.addons.stock_scalable_reporting_account.tools import valuation

from tests.harness import stock_flows

MEASURES = ["quantity:sum", "value:sum", "remaining_qty:sum", "remaining_value:sum"]
TODAY = datetime.date.today()
MONTHS = [
    (TODAY.replace(day=1) - datetime.timedelta(days=31 * n)).replace(day=1) for n in range(5)
]


def _refresh(committed_db):
    with committed_db.env() as env:
        env["stock.report.refresh"]._refresh_reports()


def _post(env, picking_type, product, qty, price=None, src=None, dest=None):
    picking = stock_flows.create_picking(env, picking_type, [(product.id, qty)], src, dest)
    if price is not None:
        picking.move_ids.price_unit = price
    stock_flows.validate_all(picking)
    assert picking.state == "done"
    return picking


def _redate(env, pickings, day):
    """Date the valuation layers of ``pickings`` at noon (UTC) on ``day``."""
    layers = pickings.move_ids.stock_valuation_layer_ids
    env.flush_all()
    env.cr.execute(
        "UPDATE stock_valuation_layer SET create_date = %s WHERE id = ANY(%s)",
        [datetime.datetime.combine(day, datetime.time(12)), layers.ids],
    )
    layers.invalidate_recordset(["create_date"])


def _history(env, rng, products, warehouses, steps):
    """Random receipts at random prices and deliveries (FIFO takes the
    older layers' remaining quantity), spread over the months of MONTHS."""
    for _step in range(steps):
        product = rng.choice(products)
        wh = rng.choice(warehouses)
        on_hand = product.with_context(warehouse_id=wh.id).qty_available
        if on_hand >= 2 and rng.random() < 0.4:
            picking = _post(env, wh.out_type_id, product, rng.randint(1, int(on_hand) // 2))
        else:
            picking = _post(env, wh.in_type_id, product, rng.randint(1, 9), rng.randint(1, 50))
        month = rng.choice(MONTHS)
        _redate(env, picking, month + datetime.timedelta(days=rng.randint(0, 27)))


def _odoo_question(domain, groupby):
    """The same question to stock.valuation.layer (its date is create_date)."""
    odoo_domain = []
    for name, operator, value in domain:
        if name == "date":
            day = datetime.date.fromisoformat(value)
            if operator in ("<=", ">"):
                day += datetime.timedelta(days=1)
                operator = "<" if operator == "<=" else ">="
            odoo_domain.append(
                ("create_date", operator, datetime.datetime.combine(day, datetime.time()))
            )
        else:
            odoo_domain.append((name, operator, value))
    return odoo_domain, [spec.replace("date:", "create_date:") for spec in groupby]


def _rows(result, width):
    """{group key: rounded measures} of a _read_group result."""

    def key(value):
        if isinstance(value, datetime.datetime):
            return value.date()
        return getattr(value, "id", value)

    return {
        tuple(key(v) for v in row[:width]): tuple(round(m or 0.0, 4) for m in row[width:])
        for row in result
        if any(round(m or 0.0, 4) for m in row[width:])
    }


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestValuationReports:
    def test_planner_answers_equal_odoo(self, committed_db):
        """Groupings and filters by product, category, month and day, each
        answered by the view the planner picks, equal to Odoo's grouping of
        the layers: after a first history (in the views), after more
        postings, a category change and a re-dated layer (in the journal),
        and after the next refresh."""
        rng = random.Random(16)
        with committed_db.env() as env:
            fifo = env["product.category"].create(
                {"name": "Valued FIFO", "property_cost_method": "fifo"}
            )
            avco = env["product.category"].create(
                {"name": "Valued AVCO", "property_cost_method": "average"}
            )
            products = [
                stock_flows.create_product(env, f"Valued {n}", categ_id=categ.id)
                for n, categ in enumerate([fifo, fifo, avco, avco])
            ]
            warehouses = [stock_flows.main_warehouse(env)]
            _history(env, rng, products, warehouses, 24)
            ids = [p.id for p in products], fifo.id, avco.id
        _refresh(committed_db)
        with committed_db.env() as env:
            products = env["product.product"].browse(ids[0])
            _history(env, rng, products, [stock_flows.main_warehouse(env)], 12)
            # A product moves to the other category: Odoo rewrites its
            # layers' stored category, which the journal records.
            products[0].categ_id = ids[2]
            # A layer in the views re-dated into another month.
            layer = env["stock.valuation.layer"].search(
                [("product_id", "in", ids[0])], order="id", limit=1
            )
            env.cr.execute(
                "UPDATE stock_valuation_layer SET create_date = create_date - interval '40 days'"
                " WHERE id = %s",
                [layer.id],
            )
        first = MONTHS[2]
        questions = [
            ([], []),
            ([], ["product_id"]),
            ([], ["categ_id"]),
            ([], ["categ_id", "date:month"]),
            ([], ["product_id", "date:month"]),
            ([], ["date:day"]),
            ([("date", ">=", first.isoformat())], ["categ_id"]),
            ([("date", "<", first.isoformat())], ["product_id"]),
            ([("categ_id", "=", ids[1])], ["date:month"]),
            ([("product_id", "in", ids[0][:2])], ["date:month"]),
            ([("date", ">=", (first + datetime.timedelta(days=9)).isoformat())], ["categ_id"]),
        ]
        expected_views = {
            1: "stock.valuation.month.report",
            2: "stock.valuation.category.month.report",
            3: "stock.valuation.category.month.report",
            5: None,
            10: None,
        }
        for state in ("journal", "refreshed"):
            if state == "refreshed":
                _refresh(committed_db)
            with committed_db.env() as env:
                env.cr.execute("SELECT COUNT(*) FROM sscale_rpt_val_journal")
                # Before the refresh the new layers, FIFO's updates, the
                # category change and the re-dating are in the journal only.
                assert bool(env.cr.fetchone()[0]) == (state == "journal")
                report = env["stock.valuation.report"]
                layers = env["stock.valuation.layer"].with_context(tz="UTC")
                # No row that stands for nothing: a new layer is journaled
                # without its category, then with it (Odoo writes it after).
                figures = ["quantity", "value", "remaining_qty", "remaining_value", "layer_count"]
                empty = [
                    row
                    for row in report.search_read([], figures)
                    if not any(round(row[name], 6) for name in figures)
                ]
                assert empty == [], state
                for number, (domain, groupby) in enumerate(questions):
                    aggregates = MEASURES + ["__count"]
                    if number in expected_views:
                        assert (
                            report._sscale_rollup(domain, groupby, aggregates, ())
                            == expected_views[number]
                        ), (number, domain, groupby)
                    ours = report._read_group(domain, groupby, MEASURES)
                    odoo_domain, odoo_groupby = _odoo_question(domain, groupby)
                    theirs = layers._read_group(odoo_domain, odoo_groupby, MEASURES)
                    assert _rows(ours, len(groupby)) == _rows(theirs, len(groupby)), (
                        state,
                        domain,
                        groupby,
                    )
                    # The number of layers, whichever view answered.
                    counted = report._read_group(domain, [], ["layer_count:sum"])[0][0]
                    assert (counted or 0) == layers.search_count(odoo_domain), (state, domain)
            with committed_db.env() as env:
                logs = env["stock.report.refresh"].search([], order="id desc", limit=20)
                assert set(valuation.MATERIALIZED_VIEWS) <= set(logs.mapped("view_name"))
                assert all(log.summary for log in logs)

    def test_valuation_at_date(self, committed_db):
        """Valuation at the end of past days, by product and by category and
        warehouse, equal to the layers created up to then (Odoo's Valuation
        at Date), with layers in the views and in the journal; the wizard
        opens the report on its day."""
        rng = random.Random(7)
        with committed_db.env() as env:
            categ = env["product.category"].create(
                {"name": "At Date FIFO", "property_cost_method": "fifo"}
            )
            main = stock_flows.main_warehouse(env)
            other = env["stock.warehouse"].create({"name": "Valued WH2", "code": "VWH2"})
            products = [
                stock_flows.create_product(env, f"At date {n}", categ_id=categ.id)
                for n in range(3)
            ]
            _history(env, rng, products, [main, other], 20)
            ids, wh_ids = [p.id for p in products], [main.id, other.id]
            in_views = env["stock.valuation.layer"].search([("product_id", "in", ids)])
            # A product with one layer, which will leave the past after the
            # refresh.
            lonely = stock_flows.create_product(env, "At date lonely", categ_id=categ.id)
            _redate(env, _post(env, main.in_type_id, lonely, 2, 10), MONTHS[3])
            lonely_layer = lonely.stock_valuation_layer_ids.id
            # Products the journal will not touch after the refresh (their
            # keys are counted by the views alone), and one that will only
            # change category. One layer has no create_date (some migrations
            # leave it empty): Odoo's Valuation at Date never counts it.
            still = stock_flows.create_product(env, "At date still", categ_id=categ.id)
            moved = stock_flows.create_product(env, "At date moved", categ_id=categ.id)
            _redate(env, _post(env, main.in_type_id, still, 3, 7), MONTHS[4])
            _redate(env, _post(env, other.in_type_id, still, 4, 8), MONTHS[2])
            _redate(env, _post(env, main.in_type_id, moved, 5, 9), MONTHS[3])
            undated = _post(env, other.in_type_id, moved, 1, 4)
            env.flush_all()
            env.cr.execute(
                "UPDATE stock_valuation_layer SET create_date = NULL WHERE id = ANY(%s)",
                [undated.move_ids.stock_valuation_layer_ids.ids],
            )
            moved_id = moved.id
        _refresh(committed_db)
        with committed_db.env() as env:
            products = env["product.product"].browse(ids)
            _history(env, rng, products, list(env["stock.warehouse"].browse(wh_ids)), 10)
            # Products move to another category after the refresh, one with
            # no other change: their keys leave the category the views
            # counted them in.
            (products[1] | env["product.product"].browse(moved_id)).categ_id = env[
                "product.category"
            ].create({"name": "At Date FIFO 2", "property_cost_method": "fifo"})
            # The first layer of the key (product, warehouse) that the views
            # saw begin last, re-dated 400 days back: the journal takes it
            # from one day to another, so the key's first day (the count by
            # category) is then read from the layers.
            firsts = {}
            for layer in (
                env["stock.valuation.layer"]
                .browse(in_views.ids)
                .sorted(lambda layer: (layer.create_date, layer.id))
            ):
                firsts.setdefault((layer.product_id.id, layer.warehouse_id.id), layer)
            layer = max(firsts.values(), key=lambda layer: layer.create_date)
            env.flush_all()
            env.cr.execute(
                "UPDATE stock_valuation_layer SET create_date = create_date - interval '400 days'"
                " WHERE id = %s",
                [layer.id],
            )
            # The lonely product's only layer re-dated a year ahead: until the
            # next refresh, the views still see it in the past.
            env.cr.execute(
                "UPDATE stock_valuation_layer SET create_date = create_date + interval '400 days'"
                " WHERE id = %s",
                [lonely_layer],
            )
        days = [
            MONTHS[3] + datetime.timedelta(days=11),
            MONTHS[1],
            MONTHS[1] - datetime.timedelta(days=1),
            TODAY,
        ]
        with committed_db.env() as env:
            layers = env["stock.valuation.layer"].search([])
            layers.invalidate_recordset(["create_date"])
            for day in days:
                end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
                # Per group: quantity, value and the keys (product, warehouse)
                # with layers up to the day, i.e. the rows by product.
                truth = {}
                for layer in layers.filtered(
                    lambda layer, end=end: layer.create_date and layer.create_date < end
                ):
                    for key in (
                        ("product", layer.product_id.id, layer.warehouse_id.id),
                        ("categ", layer.categ_id.id, layer.warehouse_id.id),
                    ):
                        qty, value, keys = truth.get(key, (0.0, 0.0, set()))
                        keys.add((layer.product_id.id, layer.warehouse_id.id))
                        truth[key] = (qty + layer.quantity, value + layer.value, keys)
                truth = {k: (round(q, 4), round(v, 4), len(n)) for k, (q, v, n) in truth.items()}
                report = env["stock.valuation.date.report"].with_context(
                    valuation_date=day.isoformat()
                )
                measures = ["quantity:sum", "value:sum", "__count"]
                by_product = report._read_group([], ["product_id", "warehouse_id"], measures)
                by_categ = report._read_group([], ["categ_id", "warehouse_id"], measures)
                ours = {
                    ("product", p.id, w.id): (round(q, 4), round(v, 4), n)
                    for p, w, q, v, n in by_product
                } | {
                    ("categ", c.id, w.id): (round(q, 4), round(v, 4), n)
                    for c, w, q, v, n in by_categ
                }
                assert ours == truth, day
                # The list (by product) has as many rows as the count says.
                assert report.search_count([]) == sum(
                    n
                    for _q, _v, n in dict(
                        (k, val) for k, val in ours.items() if k[0] == "categ"
                    ).values()
                ), day
            wizard = env["stock.valuation.date.wizard"].create({"date": days[0]})
            action = wizard.action_open()
            assert action["context"]["valuation_date"] == days[0].isoformat()
            assert action["res_model"] == "stock.valuation.date.report"
