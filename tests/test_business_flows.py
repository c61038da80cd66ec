# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Writes that Odoo accepts on done stock, and posting invariants that Odoo
itself does not keep, on committed data (issue: real Odoo databases).

* a move line inserted already done (``stock.move.create`` with done lines,
  as Odoo's own code, imports and data corrections do), a done line edited,
  its unit changed, deleted: the write succeeds, on-hand follows, and the
  movement report equals the ledger;
* a done line in another unit than the product's moves the converted
  quantity, even when it rounds to zero in the line's unit;
* a serial number is on hand at most once per company;
* two requests validating the same transfer at once post it once.
"""

import pytest

from odoo.exceptions import UserError
from odoo.tests import tagged

from tests.harness import stock_flows


def _on_hand(env, product, location):
    quants = env["stock.quant"].search(
        [("product_id", "=", product.id), ("location_id", "=", location.id)]
    )
    return sum(quants.mapped("quantity"))


def _report_net(env, product, location=None):
    """Net quantity of ``product`` in the movement report (views + live
    journal), in ``location`` when given."""
    domain = [("product_id", "=", product.id)]
    if location:
        domain.append(("location_id", "=", location.id))
    rows = env["stock.movement.report"].read_group(domain, ["qty_net:sum"], [], lazy=False)
    return rows[0]["qty_net"] or 0.0


def _ledger_is_clean(env, product):
    assert env["stock.quant"]._sscale_ledger_drift(product_ids=product.ids) == []


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestDoneStockWrites:
    def test_move_created_done_with_done_lines(self, committed_db):
        """stock.move.create({... 'state': 'done', done lines}) is accepted:
        on-hand 7, the report shows 7 (before and after a refresh)."""

        def create_done(env):
            product = stock_flows.create_product(env, "Created Done")
            stock = stock_flows.main_warehouse(env).lot_stock_id
            supplier = env.ref("stock.stock_location_suppliers")
            env["stock.move"].create(
                {
                    "name": "created done",
                    "product_id": product.id,
                    "product_uom": product.uom_id.id,
                    "product_uom_qty": 7,
                    "location_id": supplier.id,
                    "location_dest_id": stock.id,
                    "state": "done",
                    "move_line_ids": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_id": product.uom_id.id,
                                "quantity": 7,
                                "location_id": supplier.id,
                                "location_dest_id": stock.id,
                                "state": "done",
                            },
                        )
                    ],
                }
            )
            return product.id

        product_id, _tries = committed_db.call(create_done)
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            stock = stock_flows.main_warehouse(env).lot_stock_id
            assert product.qty_available == 7
            assert _on_hand(env, product, stock) == 7
            assert _report_net(env, product, stock) == 7
            env.cr.execute("SELECT COUNT(*) FROM sscale_rpt_journal WHERE qty IS NULL")
            assert env.cr.fetchone()[0] == 0
            _ledger_is_clean(env, product)
        committed_db.call(lambda env: env["stock.report.refresh"]._refresh_reports())
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert _report_net(env, product, stock_flows.main_warehouse(env).lot_stock_id) == 7

    def test_done_line_edited_unit_changed_deleted(self, committed_db):
        """A done receipt's line is edited (10 -> 4), its unit changed to
        dozens (4 dozens = 48 units), then deleted: each write is accepted,
        and on-hand, the ledger and the report agree after each."""
        with committed_db.env() as env:
            product = stock_flows.create_product(env, "Edited After Done")
            stock_flows.receive(env, [(product.id, 10)])
            product_id = product.id
        committed_db.call(lambda env: env["stock.report.refresh"]._refresh_reports())

        def line(env):
            return env["stock.move.line"].search(
                [("product_id", "=", product_id), ("state", "=", "done")]
            )

        steps = [
            ("quantity 4", lambda env: line(env).write({"quantity": 4}), 4),
            (
                "unit dozens",
                lambda env: line(env).write(
                    {"product_uom_id": env.ref("uom.product_uom_dozen").id}
                ),
                48,
            ),
            ("deleted", lambda env: line(env).with_context(force_delete=True).unlink(), 0),
        ]
        for label, write, expected in steps:
            try:
                committed_db.call(write)
            except UserError:
                # Odoo refuses this write itself (not us): same as vanilla.
                continue
            with committed_db.env() as env:
                product = env["product.product"].browse(product_id)
                stock = stock_flows.main_warehouse(env).lot_stock_id
                assert _on_hand(env, product, stock) == expected, label
                assert _report_net(env, product, stock) == expected, label
                _ledger_is_clean(env, product)


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestPostingInvariants:
    def test_line_in_grams_of_a_product_in_kg(self, committed_db):
        """1 kg on hand (kg rounded to 0.001), a delivery of 300 g (g rounded
        to 1) reserved and validated: 0.7 kg stay, 0.3 kg at the customer
        (Odoo alone leaves 1 kg: it tests 0.3 against the gram's rounding)."""

        def flow(env):
            kg, gram = env.ref("uom.product_uom_kgm"), env.ref("uom.product_uom_gram")
            kg.rounding, gram.rounding = 0.001, 1
            product = stock_flows.create_product(
                env, "Flour", qty=1, uom_id=kg.id, uom_po_id=kg.id
            )
            wh = stock_flows.main_warehouse(env)
            customers = env.ref("stock.stock_location_customers")
            picking = env["stock.picking"].create(
                {
                    "picking_type_id": wh.out_type_id.id,
                    "location_id": wh.lot_stock_id.id,
                    "location_dest_id": customers.id,
                    "move_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "flour",
                                "product_id": product.id,
                                "product_uom": gram.id,
                                "product_uom_qty": 300,
                                "location_id": wh.lot_stock_id.id,
                                "location_dest_id": customers.id,
                            },
                        )
                    ],
                }
            )
            picking.action_confirm()
            picking.action_assign()
            picking.move_ids.picked = True
            picking.button_validate()
            return product.id, picking.id

        (product_id, picking_id), _tries = committed_db.call(flow)
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            picking = env["stock.picking"].browse(picking_id)
            wh = stock_flows.main_warehouse(env)
            assert picking.state == "done"
            assert picking.move_line_ids.quantity_product_uom == pytest.approx(0.3)
            assert _on_hand(env, product, wh.lot_stock_id) == pytest.approx(0.7)
            assert _on_hand(env, product, env.ref("stock.stock_location_customers")) == (
                pytest.approx(0.3)
            )
            assert sum(
                env["stock.quant"]
                .search([("product_id", "=", product_id)])
                .mapped("reserved_quantity")
            ) == pytest.approx(0.0)
            _ledger_is_clean(env, product)

    def _serial_setup(self, committed_db):
        with committed_db.env() as env:
            stock = stock_flows.main_warehouse(env).lot_stock_id
            product = env["product.product"].create(
                {"name": "Serial Scanner SN", "is_storable": True, "tracking": "serial"}
            )
            lot = env["stock.lot"].create({"name": "SN1", "product_id": product.id})
            shelves = env["stock.location"].create(
                [{"name": f"Shelf {n}", "location_id": stock.id} for n in (1, 2)]
            )
            return product.id, lot.id, shelves.ids

    @staticmethod
    def _count(product_id, lot_id, location_id):
        def flow(env):
            quant = (
                env["stock.quant"]
                .with_context(inventory_mode=True)
                .create(
                    {
                        "product_id": product_id,
                        "location_id": location_id,
                        "lot_id": lot_id,
                        "inventory_quantity": 1,
                    }
                )
            )
            quant.action_apply_inventory()

        return flow

    def test_serial_counted_in_two_shelves(self, committed_db):
        """SN1 counted as 1 in Shelf 1, then as 1 in Shelf 2: the second apply
        is refused, naming the serial and the product; a receipt of SN1 is
        refused too; moving SN1 from Shelf 1 to Shelf 2 is fine."""
        product_id, lot_id, (shelf1, shelf2) = self._serial_setup(committed_db)
        committed_db.call(self._count(product_id, lot_id, shelf1))
        with pytest.raises(UserError) as refused:
            committed_db.call(self._count(product_id, lot_id, shelf2))
        message = str(refused.value)
        assert "SN1" in message and "Serial Scanner SN" in message, message
        assert "Shelf 1" in message and "Shelf 2" in message, message

        def receive_again(env):
            wh = stock_flows.main_warehouse(env)
            picking = stock_flows.create_picking(env, wh.in_type_id, [(product_id, 1)])
            picking.move_ids.move_line_ids.unlink()
            env["stock.move.line"].create(
                {
                    "move_id": picking.move_ids.id,
                    "picking_id": picking.id,
                    "product_id": product_id,
                    "lot_id": lot_id,
                    "quantity": 1,
                    "location_id": picking.location_id.id,
                    "location_dest_id": picking.location_dest_id.id,
                }
            )
            picking.move_ids.picked = True
            picking.button_validate()

        with pytest.raises(UserError, match="SN1"):
            committed_db.call(receive_again)

        def move_to_shelf2(env):
            wh = stock_flows.main_warehouse(env)
            src = env["stock.location"].browse(shelf1)
            dest = env["stock.location"].browse(shelf2)
            picking = stock_flows.create_picking(
                env, wh.int_type_id, [(product_id, 1)], src=src, dest=dest
            )
            picking.action_assign()
            picking.move_ids.picked = True
            picking.button_validate()
            return picking.state

        assert committed_db.call(move_to_shelf2)[0] == "done"
        with committed_db.env() as env:
            quants = env["stock.quant"].search(
                [("lot_id", "=", lot_id), ("location_id.usage", "=", "internal")]
            )
            assert {(q.location_id.id, q.quantity) for q in quants if q.quantity} == {(shelf2, 1)}
            _ledger_is_clean(env, env["product.product"].browse(product_id))

    def test_serial_racing_counts(self, committed_db):
        """Two counts putting SN1 in two shelves at the same moment: one
        commits, the other is refused; SN1 is on hand once."""
        product_id, lot_id, shelves = self._serial_setup(committed_db)
        outcomes = committed_db.run_concurrently(
            [
                lambda shelf=shelf: committed_db.call(self._count(product_id, lot_id, shelf))
                for shelf in shelves
            ]
        )
        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["error", "ok"], outcomes
        error = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(error, UserError) and "SN1" in str(error), repr(error)
        with committed_db.env() as env:
            env.cr.execute(
                """
                SELECT SUM(q.quantity) FROM stock_quant q
                  JOIN stock_location l ON l.id = q.location_id
                 WHERE q.lot_id = %s AND l.usage = 'internal'
                """,
                [lot_id],
            )
            assert env.cr.fetchone()[0] == 1

    def test_double_validation_posts_once(self, committed_db):
        """Two requests validate the same ready delivery at once (a double
        click): it is posted once, the other request waits, then passes over
        the done transfer as Odoo does; on-hand dropped by the quantity once."""
        with committed_db.env() as env:
            product = stock_flows.create_product(env, "Double Click", qty=10)
            wh = stock_flows.main_warehouse(env)
            picking = stock_flows.create_picking(env, wh.out_type_id, [(product.id, 3)])
            picking.action_assign()
            picking.move_ids.picked = True
            picking_id, product_id = picking.id, product.id

        def validate(env):
            return env["stock.picking"].browse(picking_id).button_validate()

        outcomes = committed_db.run_concurrently(
            [lambda: committed_db.call(validate)[0] for _ in range(2)]
        )
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        assert committed_db.retry_errors, "the validations never raced: the test proves nothing"
        with committed_db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 7
            lines = env["stock.move.line"].search(
                [("product_id", "=", product_id), ("picking_id", "=", picking_id)]
            )
            assert len(lines) == 1 and lines.state == "done" and lines.quantity == 3
            _ledger_is_clean(env, product)


def _event_sides(env, line_ids):
    """{(line, warehouse, report type)} from the outbox's events."""
    from odoo.addons.stock_scalable.lib import movement_types  # noqa: PLC0415

    sides = set()
    for event in env["stock.event.outbox"].search([]):
        payload = event.payload
        if payload["move_line_id"] not in line_ids:
            continue
        kind, sign = payload["event_type"], 1 if payload["quantity"] >= 0 else -1
        if kind == movement_types.INTERNAL:
            sides.add((payload["move_line_id"], payload["warehouse_id"], "internal"))
        else:
            sides.add(
                (
                    payload["move_line_id"],
                    payload["warehouse_id"],
                    movement_types.report_type(kind, incoming=sign > 0),
                )
            )
    return sides


def _report_sides(env, line_ids):
    """{(line, warehouse, movement type)} from the reports' SQL."""
    from odoo.tools import SQL  # noqa: PLC0415

    from odoo.addons.stock_scalable_reporting.tools import ledger  # noqa: PLC0415

    lines = SQL("%s AND ml.id IN %s", ledger.DONE_LINES, tuple(line_ids))
    env.cr.execute(
        SQL(
            "SELECT line_key, warehouse_id, movement_type FROM (%s) s"
            " WHERE warehouse_id IS NOT NULL",
            ledger.movement_sides(lines),
        )
    )
    return set(env.cr.fetchall())


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestBusinessFlows:
    def test_purchase_sale_manufacturing_events_and_reports_agree(self, committed_db):
        """A purchase receipt, a sale delivery, a manufacturing order, an
        internal move to a shelf, a transfer to a second warehouse, a scrap, a
        count and a customer return: receipts and deliveries carry their
        order as origin, the manufacturing order emits PRODUCTION events for
        its components (out) and finished goods (in), and the events and the
        movement report classify every line of the run the same way."""

        def run(env):
            wh = stock_flows.main_warehouse(env)
            wh2 = env["stock.warehouse"].create({"name": "Flows Second", "code": "FLW2"})
            partner = env["res.partner"].create({"name": "Flows Partner"})
            comp1 = stock_flows.create_product(env, "Flows Component A", qty=50)
            comp2 = stock_flows.create_product(env, "Flows Component B", qty=50)
            finished = stock_flows.create_product(env, "Flows Finished")
            bought = stock_flows.create_product(env, "Flows Bought")
            first_line = env["stock.move.line"].search([], order="id desc", limit=1).id
            # Purchase: a receipt whose origin is the order.
            po = env["purchase.order"].create(
                {
                    "partner_id": partner.id,
                    "order_line": [
                        (0, 0, {"product_id": bought.id, "product_qty": 20, "price_unit": 3})
                    ],
                }
            )
            po.button_confirm()
            stock_flows.validate_all(po.picking_ids)
            # Sale: a delivery whose origin is the order.
            so = env["sale.order"].create(
                {
                    "partner_id": partner.id,
                    "order_line": [(0, 0, {"product_id": bought.id, "product_uom_qty": 6})],
                }
            )
            so.action_confirm()
            stock_flows.validate_all(so.picking_ids)
            # Manufacturing: 3 finished from 2 A + 1 B each.
            bom = env["mrp.bom"].create(
                {
                    "product_tmpl_id": finished.product_tmpl_id.id,
                    "product_qty": 1,
                    "bom_line_ids": [
                        (0, 0, {"product_id": comp1.id, "product_qty": 2}),
                        (0, 0, {"product_id": comp2.id, "product_qty": 1}),
                    ],
                }
            )
            mo = env["mrp.production"].create(
                {"product_id": finished.id, "product_qty": 3, "bom_id": bom.id}
            )
            mo.action_confirm()
            mo.action_assign()
            mo.qty_producing = 3
            mo._set_qty_producing()
            mo.move_raw_ids.picked = True
            mo.button_mark_done()
            assert mo.state == "done", mo.state
            # Internal move to a shelf, transfer to the second warehouse.
            shelf = env["stock.location"].create(
                {"name": "Flows Shelf", "location_id": wh.lot_stock_id.id}
            )
            move_in = stock_flows.create_picking(env, wh.int_type_id, [(comp1.id, 5)], dest=shelf)
            stock_flows.validate_all(move_in)
            transfer = stock_flows.create_picking(
                env, wh.int_type_id, [(comp2.id, 4)], dest=wh2.lot_stock_id
            )
            stock_flows.validate_all(transfer)
            # Scrap, count, and a customer return of the sale.
            scrap = env["stock.scrap"].create(
                {"product_id": comp1.id, "scrap_qty": 1, "location_id": wh.lot_stock_id.id}
            )
            scrap.action_validate()
            stock_flows.set_inventory(env, comp2, 30)
            delivery = so.picking_ids
            wizard = (
                env["stock.return.picking"]
                .with_context(active_id=delivery.id, active_model="stock.picking")
                .create({"picking_id": delivery.id})
            )
            wizard.product_return_moves.quantity = 2
            returned = env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
            stock_flows.validate_all(returned)
            return {
                "first_line": first_line,
                "products": [comp1.id, comp2.id, finished.id, bought.id],
                "po": po.name,
                "so": so.name,
                "mo": mo.name,
                "finished": finished.id,
                "components": [comp1.id, comp2.id],
            }

        facts, _tries = committed_db.call(run)
        with committed_db.env() as env:
            lines = env["stock.move.line"].search(
                [
                    ("id", ">", facts["first_line"]),
                    ("state", "=", "done"),
                    ("product_id", "in", facts["products"]),
                ]
            )
            events = env["stock.event.outbox"].search([("product_id", "in", facts["products"])])
            by_line = {}
            for event in events:
                by_line.setdefault(event.payload["move_line_id"], []).append(event.payload)
            receipts = [p for ps in by_line.values() for p in ps if p["event_type"] == "RECEIPT"]
            assert {p["origin"] for p in receipts} >= {facts["po"]}, receipts
            sales = [p for ps in by_line.values() for p in ps if p["event_type"] == "SALE"]
            assert {p["origin"] for p in sales} == {facts["so"]}, sales
            production = [
                p for ps in by_line.values() for p in ps if p["event_type"] == "PRODUCTION"
            ]
            produced = {p["product_id"]: 0.0 for p in production}
            for p in production:
                produced[p["product_id"]] += p["quantity"]
            assert produced == {
                facts["components"][0]: -6.0,
                facts["components"][1]: -3.0,
                facts["finished"]: 3.0,
            }, produced
            assert {p["origin"] for p in production} == {facts["mo"]}, production
            kinds = {p["event_type"] for ps in by_line.values() for p in ps}
            assert kinds >= {
                "RECEIPT",
                "SALE",
                "PRODUCTION",
                "INTERNAL",
                "TRANSFER",
                "SCRAP",
                "ADJUSTMENT",
                "RETURN",
            }, kinds
            # One event per line and warehouse, and the same types as the report.
            for line_id, payloads in by_line.items():
                keys = [p["warehouse_id"] for p in payloads]
                assert len(keys) == len(set(keys)), (line_id, payloads)
            report = _report_sides(env, lines.ids)
            assert report, "the report has no side for the run's lines"
            assert _event_sides(env, set(lines.ids)) == report
