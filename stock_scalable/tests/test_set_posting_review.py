# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""More postings run both ways (per line and batched, locking/quant_batch.py):
every quant, and what Odoo reads next (reservations of other moves), must be
the same."""

import logging

from odoo import Command
from odoo.tests.common import freeze_time

from ..lib import guard
from .test_set_posting import SetPostingCommon, _Rollback

_logger = logging.getLogger(__name__)


class ReviewCommon(SetPostingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.sscale_negative_stock_policy = guard.ALLOW
        cls.lot4, cls.lot5 = (
            cls.env["stock.lot"].create({"name": name, "product_id": cls.lotted.id})
            for name in ("L4", "L5")
        )

    # -- helpers -------------------------------------------------------------

    def _reservations(self):
        """Every move line not done of the test's products: what Odoo
        reserved (or freed) next."""
        self.env.flush_all()
        self.env.invalidate_all()
        lines = self.env["stock.move.line"].search(
            [("product_id", "in", self.products.ids), ("state", "not in", ("done", "cancel"))]
        )
        return sorted(
            (
                line.move_id.picking_type_id.name or "",
                line.product_id.name,
                line.location_id.complete_name,
                line.lot_id.name or "",
                line.package_id.name or "",
                line.owner_id.name or "",
                line.quantity,
            )
            for line in lines
        )

    def _run_flow(self, flow, per_line):
        original_env = self.env
        self.env = self.env(context=dict(self.env.context, stock_scalable_per_line=per_line))
        try:
            with self.env.cr.savepoint(), freeze_time("2026-12-01 10:00:00"):
                extra = flow()
                raise _Rollback((self._quants(), self._reservations(), extra))
        except _Rollback as done:
            return done.args[0]
        finally:
            self.env = original_env
            self.env.invalidate_all()

    def _compare(self, flow):
        per_line = self._run_flow(flow, True)
        batched = self._run_flow(flow, False)
        _logger.debug("per line: %s", per_line)
        _logger.debug("batched:  %s", batched)
        for name, a, b in zip(("quants", "reservations", "extra"), per_line, batched, strict=True):
            if name == "quants":
                self.assertEqual(set(b), set(a), "quant keys differ")
                for key, values in a.items():
                    self.assertEqual(b[key], values, f"quant {key}: per line vs batched")
            else:
                self.assertEqual(b, a, f"{name}: per line vs batched")
        return per_line

    def _count(self, product, location, qty, lot=None, package=None, owner=None):
        vals = {"product_id": product.id, "location_id": location.id, "inventory_quantity": qty}
        for name, record in (("lot_id", lot), ("package_id", package), ("owner_id", owner)):
            if record:
                vals[name] = record.id
        # _apply_inventory: action_apply_inventory asks to confirm a tracked
        # product counted without a lot (stock.track.confirmation) and
        # applies nothing.
        self.env["stock.quant"].with_context(inventory_mode=True).create(vals)._apply_inventory()

    def _move(self, product, qty, src, dest, picking_type=None, uom=None):
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": (picking_type or self.warehouse.out_type_id).id,
                "location_id": src.id,
                "location_dest_id": dest.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom": (uom or product.uom_id).id,
                            "product_uom_qty": qty,
                            "location_id": src.id,
                            "location_dest_id": dest.id,
                        }
                    )
                ],
            }
        )
        picking.action_confirm()
        return picking


class TestSetPostingReview(ReviewCommon):
    """Hypotheses that held: the batch gives what the per-line steps give."""

    def test_uom_dozens_and_grams(self):
        """Lines in another unit than the product's (dozens of units; grams of
        a product kept in kg, with a quantity the gram rounds to zero)."""
        kg = self.env.ref("uom.product_uom_kgm")
        gram = self.env.ref("uom.product_uom_gram")
        dozen = self.env.ref("uom.product_uom_dozen")
        flour = self.env["product.product"].create(
            {"name": "Flour", "is_storable": True, "uom_id": kg.id, "uom_po_id": kg.id}
        )
        self.products |= flour

        def flow():
            gram.rounding = 1
            self._count(flour, self.stock_location, 1)
            self._count(self.plain, self.stock_location, 30)
            pickings = self._move(
                self.plain, 2, self.stock_location, self.customer_location, uom=dozen
            ) | self._move(flour, 300, self.stock_location, self.customer_location, uom=gram)
            pickings.action_assign()
            for move in pickings.move_ids:
                move.quantity = move.product_uom_qty
            pickings.move_ids.picked = True
            pickings._action_done()

        self._compare(flow)

    def test_two_step_delivery_next_move_reserved(self):
        """Pick then ship: the ship's reservation (Odoo's _action_assign of
        the next moves, after the batch) is the same."""
        wh = self.warehouse

        def flow():
            wh.delivery_steps = "pick_ship"
            self._count(self.lotted, self.stock_location, 4, lot=self.lot1)
            self._count(self.lotted, self.stock_location, 4, lot=self.lot2)
            group = self.env["procurement.group"].create({"name": "PS"})
            self.env["procurement.group"].run(
                [
                    self.env["procurement.group"].Procurement(
                        self.lotted,
                        6,
                        self.lotted.uom_id,
                        self.customer_location,
                        "PS",
                        "PS",
                        wh.company_id,
                        {"warehouse_id": wh, "group_id": group},
                    )
                ]
            )
            pick = self.env["stock.picking"].search(
                [("group_id", "=", group.id), ("picking_type_id", "=", wh.pick_type_id.id)]
            )
            pick.action_assign()
            pick.move_ids.picked = True
            pick.button_validate()
            ship = self.env["stock.picking"].search(
                [("group_id", "=", group.id), ("picking_type_id", "=", wh.out_type_id.id)]
            )
            return ship.state, ship.move_ids.quantity

        self._compare(flow)

    def test_partial_with_backorder_and_return(self):
        def flow():
            self._count(self.plain, self.stock_location, 5)
            out = self._move(self.plain, 8, self.stock_location, self.customer_location)
            out.action_assign()
            out.move_ids.quantity = 3
            out.move_ids.picked = True
            out.with_context(cancel_backorder=False)._action_done()
            backorder = out.backorder_ids
            self._count(self.plain, self.stock_location, 10)
            backorder.action_assign()
            wizard = (
                self.env["stock.return.picking"]
                .with_context(active_id=out.id, active_model="stock.picking")
                .create({})
            )
            wizard.product_return_moves.quantity = 2
            ret = wizard._create_return()
            ret.move_ids.quantity = 2
            ret.move_ids.picked = True
            ret._action_done()
            return backorder.move_ids.quantity, ret.state

        self._compare(flow)

    def test_dropship_lot_and_owner(self):
        """Supplier to customer, lot and owner (both ends bypass the
        reservation)."""

        def flow():
            self._transfer(
                self.warehouse.in_type_id,
                self.supplier_location,
                self.customer_location,
                [
                    {"product": self.lotted, "qty": 3, "lot": self.lot1},
                    {"product": self.lotted, "qty": 2, "lot": self.lot1, "owner": self.owner},
                    {"product": self.plain, "qty": 2},
                    {"product": self.serial, "qty": 1, "lot": self.sn1},
                ],
            )._action_done()
            # A return of a lot the customer never received, with untracked
            # units at the customer.
            self._transfer(
                self.warehouse.in_type_id,
                self.customer_location,
                self.stock_location,
                [
                    {"product": self.lotted, "qty": 4, "lot": self.lot2},
                    {"product": self.lotted, "qty": 4, "lot": self.lot1},
                ],
            )._action_done()

        self._compare(flow)

    def test_lot_on_untracked_product(self):
        lot = self.env["stock.lot"].create({"name": "PL", "product_id": self.plain.id})

        def flow():
            self._count(self.plain, self.stock_location, 4)
            self._receipt([{"product": self.plain, "qty": 2, "lot": lot}])._action_done()
            self._delivery(
                [{"product": self.plain, "qty": 5, "lot": lot}, {"product": self.plain, "qty": 1}]
            )._action_done()

        self._compare(flow)

    def test_package_moved_whole_and_unpacked(self):
        def flow():
            self._receipt(
                [
                    {"product": self.plain, "qty": 3, "result_package": self.pack1},
                    {
                        "product": self.lotted,
                        "qty": 2,
                        "lot": self.lot1,
                        "result_package": self.pack1,
                    },
                ]
            )._action_done()
            self._transfer(
                self.warehouse.int_type_id,
                self.stock_location,
                self.shelf,
                [
                    {
                        "product": self.plain,
                        "qty": 3,
                        "package": self.pack1,
                        "result_package": self.pack1,
                    },
                    {
                        "product": self.lotted,
                        "qty": 2,
                        "lot": self.lot1,
                        "package": self.pack1,
                        "result_package": self.pack1,
                    },
                ],
            )._action_done()
            self._transfer(
                self.warehouse.int_type_id,
                self.shelf,
                self.shelf,
                [{"product": self.plain, "qty": 2, "package": self.pack1}],
            )._action_done()
            return self.pack1.location_id.complete_name, self.pack1.quant_ids.mapped("quantity")

        self._compare(flow)

    def test_scrap_and_count_below_reserved(self):
        def flow():
            self._count(self.plain, self.stock_location, 5)
            self._count(self.lotted, self.stock_location, 5, lot=self.lot1)
            out = self._move(self.plain, 5, self.stock_location, self.customer_location)
            out2 = self._move(self.lotted, 5, self.stock_location, self.customer_location)
            (out | out2).action_assign()
            self.env["stock.scrap"].create(
                {
                    "product_id": self.plain.id,
                    "scrap_qty": 2,
                    "location_id": self.stock_location.id,
                }
            ).action_validate()
            self._count(self.lotted, self.stock_location, 1, lot=self.lot1)
            return out.move_ids.quantity, out2.move_ids.quantity

        self._compare(flow)

    def test_least_packages(self):
        strategy = self.env.ref("stock.removal_least_packages")

        def flow():
            self.stock_location.removal_strategy_id = strategy
            self._count(self.plain, self.stock_location, 5, package=self.pack1)
            self._count(self.plain, self.stock_location, 2)
            self._delivery(
                [
                    {"product": self.plain, "qty": 3, "package": self.pack1},
                    {"product": self.plain, "qty": 4},
                ]
            )._action_done()

        self._compare(flow)

    def test_serial_received_twice(self):
        def flow():
            self._receipt([{"product": self.serial, "qty": 1, "lot": self.sn1}])._action_done()
            receipt = self._receipt([{"product": self.serial, "qty": 1, "lot": self.sn1}])
            try:
                with self.env.cr.savepoint():
                    receipt._action_done()
            except Exception as error:  # noqa: BLE001 - compared both ways
                return type(error).__name__
            return "done"

        self._compare(flow)

    def test_existing_flow_count_of_untracked_lotted_units(self):
        """The count of test_set_posting's case 4 (untracked units of the
        lotted product, for the lot compensation): action_apply_inventory
        returns the tracking confirmation wizard, nothing is applied."""
        result = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": self.lotted.id,
                    "location_id": self.stock_location.id,
                    "inventory_quantity": 5,
                }
            )
            .action_apply_inventory()
        )
        self.assertEqual(
            self.lotted.with_context(location=self.stock_location.id).qty_available, 0
        )
        self.assertEqual(result["res_model"], "stock.track.confirmation")

    def test_mrp_components_and_byproduct(self):
        """A production consuming a lot and a plain component (one short),
        making a finished product and a by-product."""
        if "mrp.production" not in self.env:
            self.skipTest("mrp is not installed")
        Product = self.env["product.product"]
        finished, byproduct = Product.create(
            [{"name": "Finished", "is_storable": True}, {"name": "Byproduct", "is_storable": True}]
        )
        self.products |= finished | byproduct
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": finished.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": self.lotted.id, "product_qty": 2}),
                    Command.create({"product_id": self.plain.id, "product_qty": 3}),
                ],
                "byproduct_ids": [Command.create({"product_id": byproduct.id, "product_qty": 1})],
            }
        )

        def flow():
            self._count(self.lotted, self.stock_location, 5, lot=self.lot1)
            self._count(self.plain, self.stock_location, 4)
            other = self._move(self.plain, 4, self.stock_location, self.customer_location)
            other.action_assign()
            production = self.env["mrp.production"].create(
                {"product_id": finished.id, "bom_id": bom.id, "product_qty": 2}
            )
            production.action_confirm()
            production.action_assign()
            production.qty_producing = 2
            for move in production.move_raw_ids:
                move.quantity = move.product_uom_qty
                if move.product_id == self.lotted:
                    move.move_line_ids.lot_id = self.lot1
            production.move_raw_ids.picked = True
            production.button_mark_done()
            return production.state, other.move_ids.quantity

        self._compare(flow)

    def test_edit_done_line_and_consignment(self):
        def flow():
            self._count(self.plain, self.stock_location, 3)
            self._receipt([{"product": self.plain, "qty": 4, "owner": self.owner}])._action_done()
            out = self._move(self.plain, 6, self.stock_location, self.customer_location)
            out.action_assign()
            out.move_ids.picked = True
            out._action_done()
            out.move_ids.move_line_ids[:1].quantity += 1
            return out.move_ids.move_line_ids.mapped("owner_id.name")

        self._compare(flow)

    def test_other_company(self):
        company = self.env["res.company"].create({"name": "Second"})
        self.env.user.company_ids |= company
        wh = self.env["stock.warehouse"].search([("company_id", "=", company.id)])

        company.sscale_negative_stock_policy = guard.ALLOW

        def flow():
            # Restored by _run_flow.
            self.env = self.env(context=dict(self.env.context, allowed_company_ids=[company.id]))
            self._transfer(
                wh.in_type_id,
                self.supplier_location,
                wh.lot_stock_id,
                [
                    {"product": self.plain, "qty": 2},
                    {"product": self.lotted, "qty": 2, "lot": self.lot1},
                ],
            )._action_done()
            self._transfer(
                wh.out_type_id,
                wh.lot_stock_id,
                self.customer_location,
                [{"product": self.plain, "qty": 3}],
            )._action_done()

        self._compare(flow)


class TestSetPostingCreatedInWalk(ReviewCommon):
    """Quants created during the walk, found diverging in review and fixed:
    Odoo's create adds them to the walk's quants_cache (a lot short of units
    received in the same posting takes the rest from the untracked quant),
    and their ids follow the walk's order (FIFO ties are broken by id)."""

    def test_lot_short_of_units_received_in_same_posting(self):
        """A receipt brings 5 of lot L1 into WH/Stock (a new quant), a
        delivery validated with it takes 7 of L1: Odoo compensates the lot's
        shortage from the untracked units of WH/Stock (the new quant is in the
        walk's quants_cache, Odoo's create adds it)."""

        def flow():
            self._count(self.lotted, self.stock_location, 10)
            receipt = self._receipt([{"product": self.lotted, "qty": 5, "lot": self.lot1}])
            delivery = self._delivery([{"product": self.lotted, "qty": 7, "lot": self.lot1}])
            (receipt | delivery)._action_done()

        self._compare(flow)

    def test_lot_short_untracked_received_in_same_posting(self):
        """Untracked units of a lotted product arrive (a picking type without
        lots) in the same posting as a delivery of a lot short of units: Odoo
        takes the shortage from those new untracked units."""

        def flow():
            no_lots = self.warehouse.in_type_id.copy(
                {"use_create_lots": False, "use_existing_lots": False, "sequence_code": "NL"}
            )
            self._receipt([{"product": self.lotted, "qty": 2, "lot": self.lot1}])._action_done()
            receipt = self._transfer(
                no_lots,
                self.supplier_location,
                self.stock_location,
                [{"product": self.lotted, "qty": 10}],
            )
            delivery = self._delivery([{"product": self.lotted, "qty": 5, "lot": self.lot1}])
            (receipt | delivery)._action_done()

        self._compare(flow)

    def test_fifo_among_lots_received_together(self):
        """Lots received in one posting have the same incoming date: Odoo's
        FIFO reservation then takes the quant of the lowest id, i.e. the lot
        of the first line walked."""

        def flow():
            lots = [self.lot5, self.lot3, self.lot1, self.lot4, self.lot2]
            self._receipt(
                [{"product": self.lotted, "qty": 1, "lot": lot} for lot in lots]
                + [
                    {"product": self.plain, "qty": 1, "result_package": pack}
                    for pack in (self.pack2, self.pack1)
                ]
            )._action_done()
            out = self._move(self.lotted, 2, self.stock_location, self.customer_location)
            out2 = self._move(self.plain, 1, self.stock_location, self.customer_location)
            (out | out2).action_assign()
            return [
                q.lot_id.name or q.package_id.name
                for q in self.env["stock.quant"].search(
                    [
                        ("product_id", "in", (self.lotted | self.plain).ids),
                        ("location_id", "=", self.stock_location.id),
                    ],
                    order="id",
                )
            ]

        self._compare(flow)
