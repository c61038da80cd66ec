# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from ..models.stock_quant import KEY_INDEX
from .common import StockScalableCommon


class TestLedger(StockScalableCommon):
    def _drift(self):
        return self.env["stock.quant"]._sscale_ledger_drift(product_ids=self.product.ids)

    def test_postings_leave_no_drift(self):
        """Receipts and deliveries keep every quant equal to its ledger."""
        self._receive(self.product, 10)
        self._deliver(self.product, 3)
        self.assertEqual(self.product.qty_available, 7)
        self.assertEqual(self._drift(), [])

    def test_tampered_quant_is_reported(self):
        """A quant written behind the ledger's back shows up with both sides."""
        self._receive(self.product, 10)
        quant = self.env["stock.quant"].search(
            [("product_id", "=", self.product.id), ("location_id", "=", self.stock_location.id)]
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE stock_quant SET quantity = quantity + 5 WHERE id = %s", [quant.id]
        )
        drift = self._drift()
        self.assertEqual(len(drift), 1)
        self.assertEqual(drift[0]["location_id"], self.stock_location.id)
        self.assertEqual(drift[0]["quantity"], 15)
        self.assertEqual(drift[0]["ledger_quantity"], 10)
        self.assertEqual(drift[0]["quant_count"], 1)

    def test_split_quant_is_reported(self):
        """Two quant rows for one key are reported even when the sum is right
        (as on a database where the key index does not exist yet)."""
        self._receive(self.product, 10)
        quant = self.env["stock.quant"].search(
            [("product_id", "=", self.product.id), ("location_id", "=", self.stock_location.id)]
        )
        self.env.flush_all()
        # DDL is transactional: the index is back when the test rolls back.
        self.env.cr.execute(f"DROP INDEX {KEY_INDEX}")
        self.env.cr.execute(
            """
            INSERT INTO stock_quant (product_id, location_id, company_id, quantity,
                                     reserved_quantity, in_date)
            SELECT product_id, location_id, company_id, 4, 0, in_date
              FROM stock_quant WHERE id = %s
            """,
            [quant.id],
        )
        self.env.cr.execute("UPDATE stock_quant SET quantity = 6 WHERE id = %s", [quant.id])
        drift = self._drift()
        self.assertEqual(
            [(d["quantity"], d["ledger_quantity"], d["quant_count"]) for d in drift], [(10, 10, 2)]
        )
