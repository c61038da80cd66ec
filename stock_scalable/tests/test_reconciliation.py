# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError

from .common import StockScalableCommon


class TestReconciliation(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._receive(cls.product, 10)
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Inventory Admin",
                "login": "sscale_inventory_admin",
                "groups_id": [(6, 0, [cls.env.ref("stock.group_stock_manager").id])],
            }
        )
        cls.user = cls.env["res.users"].create(
            {
                "name": "Inventory User",
                "login": "sscale_inventory_user",
                "groups_id": [(6, 0, [cls.env.ref("stock.group_stock_user").id])],
            }
        )
        cls.Drift = cls.env["stock.ledger.drift"]

    def _tamper(self, delta):
        quant = self.env["stock.quant"].search(
            [("product_id", "=", self.product.id), ("location_id", "=", self.stock_location.id)]
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE stock_quant SET quantity = quantity + %s WHERE id = %s", [delta, quant.id]
        )
        quant.invalidate_recordset()
        return quant

    def _findings(self):
        return self.Drift.search([("product_id", "=", self.product.id)])

    def test_check_lists_drift_and_resolves_it(self):
        """The check records a drifting key once; it is resolved when gone."""
        self._tamper(4)
        self.Drift.with_user(self.manager).action_check_ledger()
        self.Drift.with_user(self.manager).action_check_ledger()
        finding = self._findings()
        self.assertEqual(len(finding), 1)
        self.assertEqual(
            (finding.quantity, finding.ledger_quantity, finding.difference, finding.state),
            (14, 10, 4, "open"),
        )
        self._tamper(-4)
        self.Drift.with_user(self.manager).action_check_ledger()
        self.assertEqual(finding.state, "resolved")

    def test_repair_sets_quant_to_ledger_with_audit_trail(self):
        """Repair puts the ledger's quantity on the quant and says who did it."""
        quant = self._tamper(-3)
        self.Drift.with_user(self.manager).action_check_ledger()
        finding = self._findings()
        finding.with_user(self.manager).action_repair()
        self.assertEqual(quant.quantity, 10)
        self.assertEqual(finding.state, "repaired")
        self.assertEqual(finding.repaired_by, self.manager)
        self.assertEqual((finding.repaired_from, finding.repaired_to), (7, 10))
        self.assertIn("set from 7.00 to the ledger's 10.00", finding.message_ids[0].body)
        self.assertEqual(self.env["stock.quant"]._sscale_ledger_drift([self.product.id]), [])

    def test_repair_counts_postings_made_since_the_check(self):
        """The ledger is read again at repair time, under the lock."""
        quant = self._tamper(2)
        self.Drift.with_user(self.manager).action_check_ledger()
        self._receive(self.product, 5)
        self._findings().with_user(self.manager).action_repair()
        self.assertEqual(quant.quantity, 15)

    def test_only_inventory_administrators(self):
        """Stock users can neither check nor repair nor read findings."""
        self._tamper(1)
        with self.assertRaises(AccessError):
            self.Drift.with_user(self.user).action_check_ledger()
        self.Drift.with_user(self.manager).action_check_ledger()
        with self.assertRaises(AccessError):
            self._findings().with_user(self.user).action_repair()
        with self.assertRaises(AccessError):
            self.Drift.with_user(self.user).search([])

    def test_cron_runs_the_check(self):
        """The daily job records drift as the check does."""
        self._tamper(1)
        self.env.ref("stock_scalable.ir_cron_check_stock_ledger").method_direct_trigger()
        self.assertEqual(len(self._findings()), 1)
