# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tools import SQL

from odoo.addons.stock_scalable.tests.common import StockScalableCommon

from ..matviews import matview

VIEW = "sscale_rpt_test_onhand"
QUERY = SQL("""
    SELECT product_id, location_id, SUM(quantity) AS quantity
      FROM stock_quant GROUP BY product_id, location_id
""")


class TestMatview(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        matview.create(cls.env.cr, VIEW, QUERY, ["product_id", "location_id"])

    def _onhand(self):
        self.env.cr.execute(
            SQL(
                "SELECT quantity FROM %s WHERE product_id = %s AND location_id = %s",
                SQL.identifier(VIEW),
                self.product.id,
                self.stock_location.id,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def test_refresh_sees_new_postings(self):
        """A refresh (first plain, then concurrent) picks up new postings."""
        Refresh = self.env["stock.report.refresh"]
        self._receive(self.product, 4)
        first = Refresh._refresh_view(VIEW)
        self.assertEqual(first.state, "done")
        self.assertEqual(self._onhand(), [4])
        self._receive(self.product, 3)
        self.assertEqual(self._onhand(), [4], "a view changes only when refreshed")
        self.assertEqual(Refresh._refresh_view(VIEW).state, "done")
        self.assertEqual(self._onhand(), [7])

    def test_second_refresh_is_skipped_while_one_runs(self):
        """Only one refresh runs at a time: a second one returns at once."""
        with self.env.registry.cursor() as other:
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [matview.ADVISORY_NAMESPACE, matview.advisory_key(VIEW)],
            )
            log = self.env["stock.report.refresh"]._refresh_view(VIEW)
            self.assertEqual(log.state, "skipped")
            self.assertFalse(matview.is_populated(self.env.cr, VIEW))

    def test_names_outside_the_prefix_are_refused(self):
        """The helpers only touch this addon's objects."""
        with self.assertRaises(ValueError):
            matview.create(self.env.cr, "stock_quant", QUERY, ["product_id"])

    def test_drop_all_removes_every_object(self):
        """The uninstall hook's helper leaves none of our objects behind."""
        self.assertIn(("matview", VIEW), matview.existing(self.env.cr))
        matview.drop_all(self.env.cr)
        self.assertEqual(matview.existing(self.env.cr), [])

    def test_reports_refresh_views_this_registry_does_not_know(self):
        """A bridge addon's view that the registry has not loaded yet (an
        upgrade initializes one module at a time) is refreshed with the
        others, so that it holds what the stored snapshot says."""
        self._receive(self.product, 2)
        logs = self.env["stock.report.refresh"]._refresh_reports()
        self.assertIn(VIEW, logs.mapped("view_name"))
        self.assertEqual(self._onhand(), [2])
