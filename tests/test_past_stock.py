# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Past stock in Odoo's own fields (``qty_available`` with ``to_date``, as
Inventory > Reporting > Stock's "Inventory at Date" and every other caller
asks it), on committed data: exact per location with its children, per lot
and package, equal to the ledger of done move lines, whether the lines are
in the reports' views, in their journal, or both."""

import datetime
import random

import pytest

from odoo.tests import tagged

from odoo.addons.stock_scalable_reporting.tools import past_stock

from tests.harness import stock_flows


def _refresh(committed_db):
    with committed_db.env() as env:
        env["stock.report.refresh"]._refresh_reports()


def _validate(picking, lines_vals=None):
    """Reserve, take the full demand, write ``lines_vals`` on the lines,
    validate."""
    picking.action_assign()
    for move in picking.move_ids:
        move.quantity = move.product_uom_qty
    if lines_vals:
        picking.move_line_ids.write(lines_vals)
    picking.move_ids.picked = True
    picking.button_validate()
    assert picking.state == "done", picking.state
    return picking


def _date(records, when):
    """Date the done moves of ``records`` (pickings or moves) and their lines
    at ``when``."""
    moves = records if records._name == "stock.move" else records.move_ids
    moves.write({"date": when})
    moves.move_line_ids.write({"date": when})


def _ledger_truth(env, product, location, to_date, key=None):
    """On-hand of ``product`` in ``location`` and its children at
    ``to_date``, from the done move lines, in Python: what came in minus what
    went out, for the key ``{"lot_id": lot, "package_id": package}`` if
    given."""
    key = key or {}
    inside = set(
        env["stock.location"]
        .with_context(active_test=False)
        .search([("id", "child_of", location.id)])
        .ids
    )
    total = 0.0
    lines = env["stock.move.line"].search(
        [("product_id", "=", product.id), ("state", "=", "done"), ("date", "<=", to_date)]
    )
    for line in lines:
        lot_ok = "lot_id" not in key or line.lot_id == key["lot_id"]
        if (
            line.location_dest_id.id in inside
            and lot_ok
            and ("package_id" not in key or line.result_package_id == key["package_id"])
        ):
            total += line.quantity_product_uom
        if (
            line.location_id.id in inside
            and lot_ok
            and ("package_id" not in key or line.package_id == key["package_id"])
        ):
            total -= line.quantity_product_uom
    return total


def _odoo_at(product, location, to_date, **key):
    context = {"location": location.id, "to_date": to_date}
    context.update({name: record.id for name, record in key.items()})
    return product.with_context(context).qty_available


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestPastStock:
    def test_sub_location_between_receipt_and_delivery(self, committed_db):
        """The case Odoo gets wrong: a receipt of 5 into WH/Stock whose line
        puts the goods on Shelf A, then a delivery of 2 from WH/Stock whose
        line takes them from Shelf A. Between the two, Shelf A held 5 (Odoo's
        own walk through the moves says 3: the moves are WH/Stock's)."""
        now = datetime.datetime.now().replace(microsecond=0)
        t_receipt, t_between, t_delivery = (now - datetime.timedelta(minutes=m) for m in (3, 2, 1))
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            shelf = env["stock.location"].create(
                {"name": "Shelf A", "location_id": wh.lot_stock_id.id, "usage": "internal"}
            )
            product = stock_flows.create_product(env, "Shelved")
            receipt = stock_flows.create_picking(env, wh.in_type_id, [(product.id, 5)])
            _validate(receipt, {"location_dest_id": shelf.id})
            _date(receipt, t_receipt)
            delivery = stock_flows.create_picking(env, wh.out_type_id, [(product.id, 2)])
            _validate(delivery)
            assert delivery.move_line_ids.location_id == shelf
            assert delivery.move_ids.location_id == wh.lot_stock_id
            _date(delivery, t_delivery)
            ids = shelf.id, product.id, wh.lot_stock_id.id
        for refreshed in (False, True):
            with committed_db.env() as env:
                shelf, product, stock = (
                    env["stock.location"].browse(ids[0]),
                    env["product.product"].browse(ids[1]),
                    env["stock.location"].browse(ids[2]),
                )
                assert _odoo_at(product, shelf, t_between) == 5, refreshed
                assert _odoo_at(product, stock, t_between) == 5, refreshed
                assert _odoo_at(product, shelf, t_receipt - datetime.timedelta(seconds=1)) == 0
                assert _odoo_at(product, shelf, t_delivery) == 3
                # The Inventory at Date wizard's path: the product list with
                # to_date in its context.
                wizard = env["stock.quantity.history"].create({"inventory_datetime": t_between})
                action = wizard.open_at_date()
                listed = (
                    env["product.product"]
                    .with_context(action["context"], location=shelf.id)
                    .browse(product.id)
                )
                assert listed.qty_available == 5
            _refresh(committed_db)

    def test_random_history_equals_the_ledger(self, committed_db):
        """Receipts into shelves, internal transfers, deliveries and counts
        with lots and packages, dated at random over 90 days, some before the
        reports' last refresh and some after: on-hand at random moments per
        location (with its children), lot and package equals the ledger."""
        rng = random.Random(16)
        now = datetime.datetime.now().replace(microsecond=0)
        moments = []

        def when():
            moment = now - datetime.timedelta(days=rng.uniform(0.01, 90))
            moment = moment.replace(microsecond=0)
            moments.append(moment)
            return moment

        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            Location = env["stock.location"]
            shelf_a = Location.create({"name": "Past A", "location_id": wh.lot_stock_id.id})
            shelf_a1 = Location.create({"name": "Past A1", "location_id": shelf_a.id})
            shelf_b = Location.create({"name": "Past B", "location_id": wh.lot_stock_id.id})
            shelves = [wh.lot_stock_id, shelf_a, shelf_a1, shelf_b]
            plain = stock_flows.create_product(env, "Past Plain")
            lotted = stock_flows.create_product(env, "Past Lots", tracking="lot")
            lots = [
                env["stock.lot"].create({"name": f"PAST-{n}", "product_id": lotted.id})
                for n in (1, 2)
            ]
            package = env["stock.quant.package"].create({"name": "PAST-PACK"})
            ids = {
                "locations": [loc.id for loc in shelves],
                "plain": plain.id,
                "lotted": lotted.id,
                "lots": [lot.id for lot in lots],
                "package": package.id,
            }

        def post(env, step):
            wh = stock_flows.main_warehouse(env)
            shelves = env["stock.location"].browse(ids["locations"])
            plain = env["product.product"].browse(ids["plain"])
            lotted = env["product.product"].browse(ids["lotted"])
            kind = rng.choice(["receive", "receive", "move", "deliver", "count"])
            if kind == "receive":
                picking = stock_flows.create_picking(env, wh.in_type_id, [(plain.id, 10)])
                _validate(picking, {"location_dest_id": rng.choice(shelves).id})
            elif kind == "move":
                src, dest = rng.sample(list(shelves), 2)
                if not plain.with_context(location=src.id).qty_available:
                    return
                picking = stock_flows.create_picking(
                    env, wh.int_type_id, [(plain.id, 1)], src=src, dest=dest
                )
                _validate(picking)
            elif kind == "deliver":
                if plain.qty_available < 3:
                    return
                picking = stock_flows.create_picking(env, wh.out_type_id, [(plain.id, 3)])
                _validate(picking)
            else:
                # A count of a lot, in the package on Past A1 or loose.
                in_package = rng.random() < 0.5
                location = shelves[2] if in_package else rng.choice(list(shelves))
                quant = (
                    env["stock.quant"]
                    .with_context(inventory_mode=True)
                    .create(
                        {
                            "product_id": lotted.id,
                            "location_id": location.id,
                            "lot_id": rng.choice(ids["lots"]),
                            "package_id": ids["package"] if in_package else False,
                            "inventory_quantity": rng.randint(0, 9),
                        }
                    )
                )
                before = env["stock.move"].search([], order="id desc", limit=1).id
                quant.action_apply_inventory()
                moves = env["stock.move"].search([("id", ">", before)])
                _date(moves, when())
                return
            _date(picking, when())

        for step in range(30):
            with committed_db.env() as env:
                post(env, step)
            if step == 17:
                _refresh(committed_db)

        with committed_db.env() as env:
            shelves = env["stock.location"].browse(ids["locations"])
            plain = env["product.product"].browse(ids["plain"])
            lotted = env["product.product"].browse(ids["lotted"])
            lots = env["stock.lot"].browse(ids["lots"])
            package = env["stock.quant.package"].browse(ids["package"])
            # Just before, at and just after each posting, and a few others.
            probes = [now - datetime.timedelta(days=d) for d in (0.001, 30, 95)]
            for moment in moments:
                probes += [moment - datetime.timedelta(seconds=1), moment]
            checked = 0
            for moment in rng.sample(probes, min(len(probes), 24)):
                for location in shelves:
                    truth = _ledger_truth(env, plain, location, moment)
                    assert _odoo_at(plain, location, moment) == pytest.approx(truth), (
                        location.name,
                        moment,
                    )
                    for key in (
                        {"lot_id": lots[0]},
                        {"lot_id": lots[1], "package_id": package},
                        {"package_id": package},
                    ):
                        truth = _ledger_truth(env, lotted, location, moment, key)
                        got = _odoo_at(lotted, location, moment, **key)
                        assert got == pytest.approx(truth), (location.name, moment, key)
                    checked += 1
            assert checked >= 24 * len(shelves) // 2

    def test_views_and_ledger_paths_agree(self, committed_db):
        """Without a key, the views (with their journal) and the ledger give
        the same walk back, before and after a refresh."""
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            product = stock_flows.create_product(env, "Two Paths", 40)
            for days, qty in ((70, 3), (35, 4), (3, 5)):
                picking = stock_flows.create_picking(env, wh.out_type_id, [(product.id, qty)])
                _validate(picking)
                _date(picking, datetime.datetime.now() - datetime.timedelta(days=days))
            product_id, stock_id = product.id, wh.lot_stock_id.id
        for step in ("before the refresh", "views", "views and journal"):
            if step == "views":
                _refresh(committed_db)
            if step == "views and journal":
                with committed_db.env() as env:
                    stock_flows.receive(env, [(product_id, 6)])
            with committed_db.env() as env:
                locations = (
                    env["stock.location"]._search([("id", "child_of", stock_id)]).subselect()
                )
                for days in (100, 50, 10, 1, 0.0001):
                    after = datetime.datetime.now() - datetime.timedelta(days=days)
                    env.cr.execute(past_stock.ledger_moved_after(locations, [product_id], after))
                    ledger_rows = dict(env.cr.fetchall())
                    if past_stock.views_can_answer(env.cr, locations):
                        env.cr.execute(
                            past_stock.views_moved_after(locations, [product_id], after)
                        )
                        view_rows = dict(env.cr.fetchall())
                        assert {k: float(v) for k, v in view_rows.items() if v} == {
                            k: float(v) for k, v in ledger_rows.items() if v
                        }, (step, days)
                    else:
                        assert step == "before the refresh"

    def test_inventory_at_date_report_by_location(self, committed_db):
        """Our Inventory at Date report has a row per location: a shelf's
        stock at the end of a past day, and WH/Stock with its children."""
        today = datetime.date.today()
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            shelf = env["stock.location"].create(
                {"name": "Dated Shelf", "location_id": wh.lot_stock_id.id}
            )
            product = stock_flows.create_product(env, "Dated Shelved")
            receipt = stock_flows.create_picking(env, wh.in_type_id, [(product.id, 5)])
            _validate(receipt, {"location_dest_id": shelf.id})
            _date(receipt, datetime.datetime.now() - datetime.timedelta(days=3))
            delivery = stock_flows.create_picking(env, wh.out_type_id, [(product.id, 2)])
            _validate(delivery)
            _date(delivery, datetime.datetime.now() - datetime.timedelta(days=1))
            ids = shelf.id, product.id, wh.lot_stock_id.id
        for refreshed in (False, True):
            with committed_db.env() as env:
                for days, expected in ((4, 0), (2, 5), (0, 3)):
                    day = str(today - datetime.timedelta(days=days))
                    Report = env["stock.inventory.date.report"].with_context(inventory_date=day)
                    for location_id in ids[0], ids[2]:
                        rows = Report.search(
                            [("product_id", "=", ids[1]), ("location_id", "child_of", location_id)]
                        )
                        assert sum(rows.mapped("quantity")) == expected, (days, refreshed)
                        # Grouped with the location filter (the facts are cut
                        # to the locations before they are summed).
                        domain = [
                            ("product_id", "=", ids[1]),
                            ("location_id", "child_of", location_id),
                        ]
                        groups = Report.read_group(domain, ["quantity:sum"], ["location_id"])
                        assert sum(g["quantity"] for g in groups) == expected, (days, location_id)
                    assert set(rows.mapped("location_id").ids) <= {ids[0]}
                    # By warehouse (no location asked): the product × warehouse
                    # rollup answers, with the same figure.
                    groups = Report.read_group(
                        [("product_id", "=", ids[1])], ["quantity:sum"], ["warehouse_id"]
                    )
                    assert sum(g["quantity"] for g in groups) == expected, (days, refreshed)
                # The wizard's location filter.
                wizard = env["stock.inventory.date.wizard"].create(
                    {
                        "date": today - datetime.timedelta(days=2),
                        "location_ids": [(6, 0, [ids[2]])],
                    }
                )
                action = wizard.action_open()
                rows = (
                    env["stock.inventory.date.report"]
                    .with_context(action["context"])
                    .search(action["domain"] + [("product_id", "=", ids[1])])
                )
                assert sum(rows.mapped("quantity")) == 5
            _refresh(committed_db)
