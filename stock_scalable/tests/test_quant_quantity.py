# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A quant's quantity is never NULL: every path that creates a quant stores
a number (0 when nothing is on hand), the database refuses a NULL, and the
NULLs of earlier versions are set to 0 when the module is installed or
upgraded."""

import importlib.util
import pathlib

import psycopg2

from odoo.tools import SQL, mute_logger

from .. import hooks
from ..lib import commands as cmdlib
from .common import StockScalableCommon

CONSTRAINT = "stock_quant_sscale_quantity_set"
MIGRATION = pathlib.Path(__file__).parent.parent / "migrations/18.0.2.0.0/pre-migrate.py"


class TestQuantQuantity(StockScalableCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # WH/Stock/Shelf 1 (Odoo's demo data has it)
        cls.shelf = cls.env["stock.location"].search(
            [("complete_name", "=", f"{cls.stock_location.complete_name}/Shelf 1")]
        ) or cls.env["stock.location"].create(
            {"name": "Shelf 1", "usage": "internal", "location_id": cls.stock_location.id}
        )
        cls.jack = cls.env["product.product"].create(
            {"name": "SSD Jack", "is_storable": True, "default_code": "SSD-JACK"}
        )
        cls.lotted = cls.env["product.product"].create(
            {"name": "SSD Lotted", "is_storable": True, "tracking": "lot"}
        )

    def _stored(self, product, location=None):
        """The quantity column of ``product``'s quants in ``location`` (by
        default Shelf 1), as stored."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT quantity FROM stock_quant WHERE product_id = %s AND location_id = %s",
            [product.id, (location or self.shelf).id],
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def test_count_of_zero_where_nothing_is_stocked(self):
        """A count of 0 where the product has no quant, applied from the
        inventory screen (inventory mode), with and without a lot: the
        quant holds 0, not NULL, and on hand equals the ledger."""
        lot = self.env["stock.lot"].create({"name": "L-ZERO", "product_id": self.lotted.id})
        Quant = self.env["stock.quant"].with_context(inventory_mode=True)
        for product, lot_id in ((self.jack, False), (self.lotted, lot.id)):
            quant = Quant.create(
                {
                    "product_id": product.id,
                    "location_id": self.shelf.id,
                    "lot_id": lot_id,
                    "inventory_quantity": 0,
                }
            )
            quant.action_apply_inventory()
            self.assertEqual(self._stored(product), [0.0], product.name)
        self.assertEqual(Quant._sscale_ledger_drift(product_ids=(self.jack | self.lotted).ids), [])

    def test_count_command_of_zero_where_nothing_is_stocked(self):
        """The inventory command of the issue, a count of 0 of SSD-JACK on
        WH/Stock/Shelf 1 where nothing is stocked, posted as the command
        runner posts it: done, on hand 0, and the quant holds 0, not NULL."""
        Command = self.env["stock.inventory.command"]
        resolved = Command._sscale_resolve(
            cmdlib.parse(
                {
                    "idempotency_key": "count-zero-1",
                    "type": "count",
                    "product": "SSD-JACK",
                    "location": self.shelf.complete_name,
                    "quantity": 0,
                }
            )
        )
        record = Command.create(Command._sscale_row_values(resolved, "odoo"))
        answer = record._sscale_post(resolved)
        self.assertEqual(answer["status"], "done")
        self.assertEqual([row["quantity"] for row in answer["on_hand"]], [0.0])
        self.assertEqual(self._stored(self.jack), [0.0])

    def test_reservation_alone_creates_a_quant_at_zero(self):
        """A quant created by a reservation alone (no quantity moved) holds
        0, not NULL."""
        self.env["stock.quant"]._update_available_quantity(
            self.jack, self.shelf, reserved_quantity=1
        )
        self.assertEqual(self._stored(self.jack), [0.0])

    def test_database_refuses_a_null_quantity(self):
        """A quant row without a quantity is refused by the database itself,
        whatever code inserts it."""
        with (
            self.assertRaises(psycopg2.errors.CheckViolation),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                """INSERT INTO stock_quant (product_id, location_id, company_id,
                                            reserved_quantity, in_date)
                   VALUES (%s, %s, %s, 0, now())""",
                [self.jack.id, self.shelf.id, self.env.company.id],
            )

    def test_null_quantities_of_earlier_versions(self):
        """Quants stored with NULL by an earlier version: the ledger check
        reads them as 0 (one with a ledger drifts, one without does not),
        and install (pre_init_hook) or upgrade (the 18.0.2.0.0 migration)
        sets them to 0, so that the constraint can be added."""
        cr = self.env.cr
        self._receive(self.jack, 5)
        self.env.flush_all()
        # The database of an earlier version: no constraint, NULL quantities.
        cr.execute(SQL("ALTER TABLE stock_quant DROP CONSTRAINT %s", SQL.identifier(CONSTRAINT)))
        nullify = (
            "UPDATE stock_quant SET quantity = NULL WHERE product_id = %s AND location_id = %s"
        )
        cr.execute(nullify, [self.jack.id, self.stock_location.id])
        cr.execute(
            """INSERT INTO stock_quant (product_id, location_id, company_id,
                                        reserved_quantity, in_date)
               VALUES (%s, %s, %s, 0, now())""",
            [self.lotted.id, self.shelf.id, self.env.company.id],
        )
        self.env.invalidate_all()
        drift = self.env["stock.quant"]._sscale_ledger_drift(
            product_ids=(self.jack | self.lotted).ids
        )
        self.assertEqual(
            [(d["product_id"], d["quantity"], d["ledger_quantity"]) for d in drift],
            [(self.jack.id, 0.0, 5.0)],
        )
        spec = importlib.util.spec_from_file_location("sscale_pre_migrate", MIGRATION)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(cr, "18.0.1.3.0")
        self.assertEqual(self._stored(self.jack, self.stock_location), [0.0])
        self.assertEqual(self._stored(self.lotted), [0.0])
        cr.execute(nullify, [self.jack.id, self.stock_location.id])
        hooks.pre_init_hook(self.env)
        self.assertEqual(self._stored(self.jack, self.stock_location), [0.0])
        cr.execute(
            SQL(
                "ALTER TABLE stock_quant ADD CONSTRAINT %s CHECK (quantity IS NOT NULL)",
                SQL.identifier(CONSTRAINT),
            )
        )
