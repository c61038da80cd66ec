# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The quant key: its order and SQL (lib/quant_key.py), one quant per key."""

import doctest

from psycopg2 import IntegrityError

from odoo.tests import BaseCase, tagged
from odoo.tools import mute_logger

from ..lib import quant_key
from ..lib.quant_key import QuantKey, lock_order
from .common import StockScalableCommon


@tagged("post_install", "-at_install")
class TestQuantKey(BaseCase):
    def test_lock_order_is_global_and_distinct(self):
        """Keys sort by product, location, lot, package, owner; none twice."""
        keys = [QuantKey(2, 1), QuantKey(1, 9, 3), QuantKey(1, 9), QuantKey(2, 1)]
        self.assertEqual(lock_order(keys), [QuantKey(1, 9), QuantKey(1, 9, 3), QuantKey(2, 1)])

    def test_key_of_records_and_empties(self):
        """Empty recordsets and None become 0, as the SQL key does."""
        self.assertEqual(QuantKey.of(5, 7, None, False, 0), QuantKey(5, 7, 0, 0, 0))
        vals = {"product_id": 5, "location_id": 7, "owner_id": False, "quantity": 2}
        self.assertEqual(QuantKey.from_vals(vals), QuantKey(5, 7))

    def test_doctests(self):
        """The one definition of the quant key's SQL (lib/quant_key.py): its
        examples are its specification."""
        result = doctest.testmod(quant_key)
        self.assertGreater(result.attempted, 0)
        self.assertEqual(result.failed, 0)


class TestOneQuantPerKey(StockScalableCommon):
    def _quants(self):
        return self.env["stock.quant"].search(
            [("product_id", "=", self.product.id), ("location_id", "=", self.stock_location.id)]
        )

    def test_second_row_for_a_key_is_refused_by_the_database(self):
        """The key index makes a split quant impossible, whatever writes it."""
        self._receive(self.product, 3)
        self.env.flush_all()
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "INSERT INTO stock_quant (product_id, location_id, company_id, quantity,"
                " reserved_quantity, in_date) SELECT product_id, location_id, company_id, 1, 0,"
                " in_date FROM stock_quant WHERE id = %s",
                [self._quants().id],
            )

    def test_create_on_existing_key_adds_to_it(self):
        """create() for a key that has a quant adds to that quant."""
        self._receive(self.product, 3)
        Quant = self.env["stock.quant"].sudo()
        quant = Quant.create(
            {"product_id": self.product.id, "location_id": self.stock_location.id, "quantity": 2}
        )
        self.assertEqual(quant, self._quants())
        self.assertEqual(quant.quantity, 5)

    def test_repeated_receipts_keep_one_quant(self):
        """Several postings to one key update one row."""
        for qty in (1, 2, 3):
            self._receive(self.product, qty)
        self.assertEqual(len(self._quants()), 1)
        self.assertEqual(self._quants().quantity, 6)

    def test_inventory_count_on_new_key(self):
        """An inventory count on a key with no quant creates exactly one."""
        quant = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": self.product.id,
                    "location_id": self.stock_location.id,
                    "inventory_quantity": 4,
                }
            )
        )
        quant.action_apply_inventory()
        self.assertEqual(self._quants().quantity, 4)
        self.assertEqual(len(self._quants()), 1)

    def test_create_merge_keeps_reservation(self):
        """Adding a quant with no reservation keeps the key's reservation."""
        Quant = self.env["stock.quant"].sudo()
        vals = {"product_id": self.product.id, "location_id": self.stock_location.id}
        Quant.create(dict(vals, quantity=10, reserved_quantity=4))
        quant = Quant.create(dict(vals, quantity=5, reserved_quantity=0.0))
        self.assertEqual((quant.quantity, quant.reserved_quantity), (15, 4))

    def test_new_quant_counts_like_odoo(self):
        """A key's first quant gets Odoo's computed values: applying an
        uncounted inventory empties it, as in Odoo."""
        Quant = self.env["stock.quant"]
        Quant._update_available_quantity(self.product, self.stock_location, 100)
        quant = self._quants()
        self.assertEqual(quant.inventory_diff_quantity, -100)
        quant.action_apply_inventory()
        self.assertEqual(self.product.qty_available, 0)

    def test_lot_taken_from_untracked_quant(self):
        """As in Odoo, a lot with no quant is taken from the untracked quant
        of the same place, instead of a negative lot quant."""
        self.product.tracking = "lot"
        lot = self.env["stock.lot"].create({"name": "L-1", "product_id": self.product.id})
        Quant = self.env["stock.quant"]
        Quant._update_available_quantity(self.product, self.stock_location, 3)
        Quant._update_available_quantity(self.product, self.stock_location, -1, lot_id=lot)
        self.assertEqual(
            self._quants().mapped(lambda q: (q.lot_id, q.quantity)), [(lot.browse(), 2)]
        )

    def test_lot_not_taken_from_untracked_quant_at_or_below_zero(self):
        """As in Odoo (18.0 of 2026), an untracked quant at or below zero
        gives no lot: the lot gets its own quant (negative stock allowed
        here)."""
        self.env.company.sscale_negative_stock_policy = "allow"
        self.product.tracking = "lot"
        lot = self.env["stock.lot"].create({"name": "L-2", "product_id": self.product.id})
        Quant = self.env["stock.quant"]
        Quant._update_available_quantity(self.product, self.stock_location, -2)
        Quant._update_available_quantity(self.product, self.stock_location, -1, lot_id=lot)
        self.assertEqual(
            sorted(self._quants().mapped(lambda q: (q.lot_id.id, q.quantity))),
            [(False, -2), (lot.id, -1)],
        )
