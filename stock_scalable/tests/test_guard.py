# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import UserError, ValidationError
from odoo.tests import BaseCase, tagged

from ..lib import guard
from .common import StockScalableCommon


@tagged("post_install", "-at_install")
class TestPolicy(BaseCase):
    def test_policy_decision(self):
        """Only internal locations are guarded, and only without exception."""
        decide = guard.negative_allowed
        self.assertFalse(decide(guard.FORBID_INTERNAL, "internal", False, False, False))
        self.assertTrue(decide(guard.FORBID_INTERNAL, "customer", False, False, False))
        self.assertTrue(decide(guard.FORBID_INTERNAL, "internal", False, True, False))
        self.assertTrue(decide(guard.ALLOW, "internal", False, False, False))
        self.assertTrue(guard.goes_negative(-0.01, 0.01))
        self.assertFalse(guard.goes_negative(-0.004, 0.01))


class TestGuard(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.sscale_negative_stock_policy = guard.FORBID_INTERNAL
        cls._receive(cls.product, 5)

    def _deliver_refused(self, qty):
        with self.assertRaises(UserError) as err, self.env.cr.savepoint():
            self._deliver(self.product, qty)
        self.env.invalidate_all()
        return str(err.exception)

    def test_default_policy_forbids_internal_negative(self):
        """New companies forbid negative stock in internal locations."""
        company = self.env["res.company"].create({"name": "Guarded Co"})
        self.assertEqual(company.sscale_negative_stock_policy, guard.FORBID_INTERNAL)

    def test_refusal_names_product_location_and_quantities(self):
        """The refusal says what, where, how much was asked and how much there is."""
        message = self._deliver_refused(8)
        self.assertIn("[SSW-1] Scalable Widget", message)
        self.assertIn("WH/Stock", message)
        self.assertIn("8.00 Units requested, only 5.00 Units available", message)

    def test_refusal_applies_nothing(self):
        """After a refusal, on-hand and the ledger are what they were."""
        self._deliver_refused(8)
        self.assertEqual(
            self.product.with_context(warehouse_id=self.warehouse.id).qty_available, 5
        )
        self.assertEqual(self.env["stock.quant"]._sscale_ledger_drift([self.product.id]), [])

    def test_within_stock_is_allowed(self):
        """Taking exactly what is there is fine."""
        self._deliver(self.product, 5)
        self.assertEqual(self.product.qty_available, 0)

    def test_company_policy_allow(self):
        """A company that allows negative stock gets Odoo's behaviour."""
        self.env.company.sscale_negative_stock_policy = guard.ALLOW
        self._deliver(self.product, 8)
        self.assertEqual(self.product.qty_available, -3)

    def test_exceptions_allow_negative(self):
        """A location, a category or a product can be an exception."""
        for record in (self.stock_location, self.product.categ_id, self.product.product_tmpl_id):
            with self.subTest(exception=record._name), self.env.cr.savepoint() as sp:
                record.sscale_allow_negative_stock = True
                self._deliver(self.product, 8)
                self.assertEqual(self.product.qty_available, -3)
                sp.rollback()

    def test_virtual_locations_may_go_negative(self):
        """Vendor and customer locations are not guarded (Odoo keeps negative
        quants there by design)."""
        vendor_quant = self.env["stock.quant"].search(
            [("product_id", "=", self.product.id), ("location_id", "=", self.supplier_location.id)]
        )
        self.assertEqual(vendor_quant.quantity, -5)

    def test_direct_quant_update_is_guarded(self):
        """A direct _update_available_quantity is checked at once."""
        with self.assertRaisesRegex(UserError, "2.00 Units requested, only 0.00 Units"):
            other = self.env["product.product"].create({"name": "Empty", "is_storable": True})
            self.env["stock.quant"]._update_available_quantity(other, self.stock_location, -2)

    def test_settings_expose_the_policy(self):
        """Inventory settings edit the current company's policy."""
        settings = self.env["res.config.settings"].create(
            {"sscale_negative_stock_policy": guard.ALLOW}
        )
        settings.execute()
        self.assertEqual(self.env.company.sscale_negative_stock_policy, guard.ALLOW)

    def test_command_retention_is_at_least_a_day(self):
        for wrong in (0, -3):
            with self.assertRaisesRegex(ValidationError, f"at least 1 day, not {wrong}"):
                self.env["res.config.settings"].create({"sscale_command_retention_days": wrong})
        self.env["res.config.settings"].create({"sscale_command_retention_days": 7}).execute()
        self.assertEqual(
            self.env["ir.config_parameter"].get_param("stock_scalable.command_retention_days"), "7"
        )
        # A value stored before the check does not block saving other settings.
        self.env["ir.config_parameter"].set_param("stock_scalable.command_retention_days", "-3")
        self.env["res.config.settings"].create({}).execute()
