# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.stock_scalable_reporting.tests.common import validated_receipt


@tagged("post_install", "-at_install")
class TestValuationTour(HttpCase):
    def test_valuation_tour(self):
        """In a browser, as a stock manager who is no administrator (the
        reports are for stock managers, as Odoo's valuation is): Valuation
        Analysis from the menu (pivot, graph, list, Refresh Now with and
        without a selection, a grouping) and the Valuation at Date wizard
        and its report. The data (a receipt of 5 at a standard cost of 7.00
        in a category of its own) is made here."""
        categ = self.env["product.category"].create({"name": "Tour Valued"})
        product = self.env["product.product"].create(
            {
                "name": "Tour Valued Pallet",
                "is_storable": True,
                "categ_id": categ.id,
                "standard_price": 7.0,
            }
        )
        receipt = validated_receipt(self.env, product, 5, price_unit=7.0)
        self.assertEqual(receipt.state, "done")
        self.assertEqual(receipt.move_ids.stock_valuation_layer_ids.value, 35.0)
        self.env["stock.report.refresh"]._refresh_reports()
        manager = self.env["res.users"].create(
            {
                "name": "Valuation Manager",
                "login": "sscale_valuation_manager",
                "password": "sscale_valuation_manager",
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("stock.group_stock_manager").id,
                        ]
                    )
                ],
            }
        )
        self.assertFalse(manager.has_group("base.group_system"))
        self.start_tour(
            "/odoo",
            "stock_scalable_reporting_account_tour",
            login="sscale_valuation_manager",
            timeout=180,
        )
