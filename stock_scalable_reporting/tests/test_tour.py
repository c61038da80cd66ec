# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestReportingTour(HttpCase):
    def test_reporting_tour(self):
        """In a browser: each report from the menu, pivot and graph, a filter,
        and the Inventory at Date wizard."""
        self.env["stock.report.refresh"]._refresh_reports()
        self.start_tour("/odoo", "stock_scalable_reporting_tour", login="admin", timeout=180)
