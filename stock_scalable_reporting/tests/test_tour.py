# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, tagged

from .common import validated_receipt


@tagged("post_install", "-at_install")
class TestReportingTour(HttpCase):
    def test_reporting_tour(self):
        """In a browser: each report from the menu, pivot and graph, a filter,
        and the Inventory at Date wizard. The data it shows (a validated
        receipt) is made here: the database may have no demo postings."""
        product = self.env["product.product"].create({"name": "Tour Pallet", "is_storable": True})
        receipt = validated_receipt(self.env, product, 5)
        self.assertEqual(receipt.state, "done")
        self.env["stock.report.refresh"]._refresh_reports()
        self.start_tour("/odoo", "stock_scalable_reporting_tour", login="admin", timeout=180)
