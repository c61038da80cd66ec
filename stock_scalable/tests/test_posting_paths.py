# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every posting path goes through the locked quant rows: after each one,
on-hand equals the ledger, each key has one quant, and the guard refuses
what would go below zero."""

from odoo.exceptions import UserError
from odoo.tests import Form

from ..lib import guard
from .common import StockScalableCommon


class TestPostingPaths(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.sscale_negative_stock_policy = guard.FORBID_INTERNAL
        cls.serial_product = cls.env["product.product"].create(
            {"name": "Serial Scanner", "is_storable": True, "tracking": "serial"}
        )
        cls.shelf = cls.env["stock.location"].create(
            {"name": "Shelf 1", "usage": "internal", "location_id": cls.stock_location.id}
        )

    def _assert_ledger(self, products=None):
        products = products or self.product
        Quant = self.env["stock.quant"]
        self.assertEqual(Quant._sscale_ledger_drift(product_ids=products.ids), [])
        self.env.cr.execute(
            """SELECT COUNT(*) FROM (SELECT 1 FROM stock_quant WHERE product_id IN %s
                GROUP BY product_id, location_id, lot_id, package_id, owner_id
                HAVING COUNT(*) > 1) k""",
            [tuple(products.ids)],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0, "a key has several quants")

    def test_return_of_a_delivery(self):
        """A return puts the delivered units back on the same quant."""
        self._receive(self.product, 5)
        delivery = self._deliver(self.product, 3)
        wizard = Form(
            self.env["stock.return.picking"].with_context(
                active_ids=delivery.ids, active_id=delivery.id, active_model="stock.picking"
            )
        ).save()
        wizard.product_return_moves.quantity = 2
        returned = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self._validate(returned)
        self.assertEqual(self.product.qty_available, 4)
        self._assert_ledger()

    def test_backorder(self):
        """A partial delivery with a backorder takes only what was picked."""
        self._receive(self.product, 5)
        picking = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            self.product,
            5,
        )
        picking.action_confirm()
        picking.action_assign()
        picking.move_ids.quantity = 2
        picking.move_ids.picked = True
        Form.from_action(self.env, picking.button_validate()).save().process()
        backorder = picking.backorder_ids
        self.assertEqual(backorder.move_ids.product_uom_qty, 3)
        self.assertEqual(self.product.qty_available, 3)
        self._assert_ledger()

    def test_package_moves_as_a_whole(self):
        """Receiving into a package, then moving the package to a shelf."""
        package = self.env["stock.quant.package"].create({"name": "PACK-1"})
        receipt = self._create_picking(
            self.warehouse.in_type_id,
            self.supplier_location,
            self.stock_location,
            self.product,
            6,
        )
        receipt.action_confirm()
        receipt.move_ids.quantity = 6
        receipt.move_line_ids.result_package_id = package
        receipt.move_ids.picked = True
        receipt.button_validate()
        internal = self._create_picking(
            self.warehouse.int_type_id, self.stock_location, self.shelf, self.product, 6
        )
        internal.action_confirm()
        internal.action_assign()
        internal.move_line_ids.write(
            {"location_dest_id": self.shelf.id, "result_package_id": package.id}
        )
        internal.move_ids.picked = True
        internal.button_validate()
        self.assertEqual(package.location_id, self.shelf)
        self.assertEqual(package.quant_ids.quantity, 6)
        self._assert_ledger()

    def test_serials_in_and_out(self):
        """Serial numbers keep one quant per serial; delivering a serial that
        is not there is refused."""
        receipt = self._create_picking(
            self.warehouse.in_type_id,
            self.supplier_location,
            self.stock_location,
            self.serial_product,
            2,
        )
        receipt.action_confirm()
        for line, serial in zip(receipt.move_line_ids, ("SN-1", "SN-2"), strict=True):
            line.write({"lot_name": serial, "quantity": 1})
        receipt.move_ids.picked = True
        receipt.button_validate()
        self.assertEqual(self.serial_product.qty_available, 2)
        lot = self.env["stock.lot"].search([("name", "=", "SN-1")])
        delivery = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            self.serial_product,
            1,
        )
        delivery.action_confirm()
        delivery.action_assign()
        delivery.move_line_ids.lot_id = lot
        delivery.move_ids.picked = True
        delivery.button_validate()
        self.assertEqual(self.serial_product.qty_available, 1)
        self._assert_ledger(self.serial_product)
        # SN-1 is gone: taking it again would make its quant -1.
        again = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            self.serial_product,
            1,
        )
        again.action_confirm()
        again.move_ids.quantity = 1
        again.move_line_ids.lot_id = lot
        again.move_ids.picked = True
        with self.assertRaisesRegex(UserError, "lot/serial SN-1"):
            again.button_validate()

    def test_scrap(self):
        """Scrapping takes from the quant; scrapping more than there is is refused."""
        self._receive(self.product, 5)
        scrap = self.env["stock.scrap"].create(
            {"product_id": self.product.id, "scrap_qty": 2, "location_id": self.stock_location.id}
        )
        scrap.do_scrap()
        self.assertEqual(self.product.qty_available, 3)
        self._assert_ledger()
        too_much = self.env["stock.scrap"].create(
            {"product_id": self.product.id, "scrap_qty": 9, "location_id": self.stock_location.id}
        )
        with self.assertRaisesRegex(UserError, "9.00 Units requested, only 3.00 Units available"):
            too_much.do_scrap()

    def test_inventory_adjustment_down_and_up(self):
        """Applied counts move the quant to the counted quantity."""
        self._receive(self.product, 5)
        Quant = self.env["stock.quant"].with_context(inventory_mode=True)
        for counted in (2, 7):
            quant = Quant.create(
                {
                    "product_id": self.product.id,
                    "location_id": self.stock_location.id,
                    "inventory_quantity": counted,
                }
            )
            quant.action_apply_inventory()
            self.assertEqual(self.product.qty_available, counted)
        self._assert_ledger()

    def test_internal_transfer_to_shelf(self):
        """Putting stock away to a sub-location moves it between two keys."""
        self._receive(self.product, 4)
        internal = self._create_picking(
            self.warehouse.int_type_id, self.stock_location, self.shelf, self.product, 4
        )
        self._validate(internal)
        self.assertEqual(self.product.with_context(location=self.shelf.id).qty_available, 4)
        self._assert_ledger()
