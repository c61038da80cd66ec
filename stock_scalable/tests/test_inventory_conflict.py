# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo's count conflict: a count started before a delivery and applied
after it opens the conflict wizard; each of its choices applies what its
label promises."""

from .common import StockScalableCommon


class TestInventoryConflict(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.counted_as_on_hand = cls.env["product.product"].create(
            {"name": "Conflict P", "is_storable": True}
        )
        cls.counted_less = cls.env["product.product"].create(
            {"name": "Conflict P2", "is_storable": True}
        )
        cls.products = cls.counted_as_on_hand | cls.counted_less

    def _conflict(self):
        """P: 9 on hand, counted 9 (difference 0); P2: 11 on hand, counted 9
        (difference -2). The counts are saved (as the inventory screen saves
        them), then a delivery of 1 of each is posted before they are
        applied: P has 8, P2 has 10. Returns the quants and the wizard that
        applying them opens."""
        self._receive(self.counted_as_on_hand, 9)
        self._receive(self.counted_less, 11)
        quants = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .search(
                [
                    ("product_id", "in", self.products.ids),
                    ("location_id", "=", self.stock_location.id),
                ],
                order="product_id",
            )
        )
        quants.write({"inventory_quantity": 9})
        self.env.flush_all()
        self._deliver(self.counted_as_on_hand, 1)
        self._deliver(self.counted_less, 1)
        self.assertEqual(quants.mapped("quantity"), [8.0, 10.0])
        action = quants.action_apply_inventory()
        self.assertEqual(action["res_model"], "stock.inventory.conflict")
        # The wizard, in the transaction that opened it (a script, an
        # integration; Odoo's web client opens it in a request of its own).
        wizard = self.env["stock.inventory.conflict"].with_context(**action["context"]).create({})
        self.assertEqual(wizard.quant_to_fix_ids, quants)
        return quants, wizard

    def _assert_applied(self, quants, on_hand):
        self.assertEqual(quants.mapped("quantity"), on_hand)
        self.assertEqual(self.products.mapped("qty_available"), on_hand)
        self.assertFalse(any(quants.mapped("inventory_quantity_set")), "the counts stay open")
        self.assertEqual(
            self.env["stock.quant"]._sscale_ledger_drift(product_ids=self.products.ids), []
        )

    def test_keep_counted_quantity(self):
        """Keep Counted Quantity: on hand becomes the counted 9 of each
        (P +1, P2 -1), in the same transaction that opened the wizard; the
        wizard does not come back."""
        quants, wizard = self._conflict()
        self.assertFalse(wizard.action_keep_counted_quantity(), "the wizard came back")
        self._assert_applied(quants, [9.0, 9.0])

    def test_keep_difference(self):
        """Keep Difference: the difference of the count applies to what is on
        hand now (P 8 + 0 = 8, P2 10 - 2 = 8)."""
        quants, wizard = self._conflict()
        self.assertFalse(wizard.action_keep_difference(), "the wizard came back")
        self._assert_applied(quants, [8.0, 8.0])
