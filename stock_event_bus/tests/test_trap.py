# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The test helper for downstream addons, trap_stock_events(): what a block
wrote (movement events, level keys) and the levels the dispatcher will
publish, in the test's transaction."""

import json

from odoo.tests import tagged

from ..lib import levels
from .common import EventBusCommon, trap_stock_events


@tagged("post_install", "-at_install")
class TestTrapStockEvents(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse_2 = cls.env["stock.warehouse"].create(
            {"name": "Trap Second WH", "code": "TR2"}
        )
        cls.product_2 = cls.env["product.product"].create(
            {"name": "Trap Gadget", "is_storable": True}
        )
        cls._receive(cls.product, 10)

    def _delivery(self, product, qty):
        """A confirmed delivery from WH/Stock (reserved if stock is there)."""
        picking = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            product,
            qty,
        )
        picking.action_confirm()
        return picking

    def test_validation(self):
        """A delivery's validation: one SALE event of the block, not the
        receipt before it; on-hand drops and nothing stays reserved."""
        picking = self._delivery(self.product, 3)
        with trap_stock_events(self.env) as trap:
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
            picking.move_ids.picked = True
            picking.button_validate()
        trap.assert_count(1)
        event = trap.assert_event(
            event_type="SALE",
            product=self.product,
            warehouse=self.warehouse,
            quantity=-3,
            picking=picking.name,
        )
        self.assertEqual(event["company_id"], self.env.company.id)
        trap.assert_no_event(event_type="RECEIPT")
        self.assertEqual(trap.keys(), [(self.product.id, self.warehouse.id)])
        level = trap.assert_level(self.product, self.warehouse, on_hand=7, reserved=0, available=7)
        self.assertEqual(level["sequence"], 1, "no LEVEL event was dispatched yet")
        with self.assertRaisesRegex(AssertionError, "quantity=3"):
            trap.assert_event(event_type="SALE", quantity=3)
        with self.assertRaisesRegex(AssertionError, "on_hand is 7.0, expected 10"):
            trap.assert_level(self.product, self.warehouse, on_hand=10)
        with self.assertRaisesRegex(AssertionError, "1 stock events, expected 2"):
            trap.assert_count(2)

    def test_reservation(self):
        """action_assign: no movement event; reserved rises, available
        drops, on-hand stays; a product not touched has no level."""
        picking = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            self.product,
            4,
        )
        with trap_stock_events(self.env) as trap:
            picking.action_confirm()
            picking.action_assign()
            # Assertions work inside the block too.
            trap.assert_level(self.product, self.warehouse, reserved=4)
        self.assertEqual(picking.state, "assigned")
        trap.assert_count(0)
        trap.assert_level(self.product, self.warehouse, on_hand=10, reserved=4, available=6)
        trap.assert_no_level(self.product_2, self.warehouse)
        with self.assertRaisesRegex(AssertionError, "No level change"):
            trap.assert_level(self.product_2, self.warehouse, on_hand=0)
        with self.assertRaisesRegex(AssertionError, "changed"):
            trap.assert_no_level(self.product, self.warehouse)

    def test_cancellation(self):
        """Cancelling a reserved delivery gives the reservation back; what
        happens after the block is not recorded."""
        picking = self._delivery(self.product, 4)
        self.assertEqual(picking.state, "assigned")
        with trap_stock_events(self.env) as trap:
            picking.action_cancel()
        trap.assert_count(0)
        trap.assert_level(self.product, self.warehouse, on_hand=10, reserved=0, available=10)
        self._receive(self.product_2, 2)
        self.assertEqual(trap.keys(), [(self.product.id, self.warehouse.id)])
        trap.assert_count(0)

    def test_transfer_and_sequences(self):
        """An inter-warehouse transfer: one event per warehouse, a level per
        warehouse; a key already published gets its next sequence."""
        self.env.flush_all()
        self.env["stock.level.change"].sudo()._flush_keys()
        levels.materialize(self.env.cr, json.dumps)  # the receipt's LEVEL event: sequence 1
        with trap_stock_events(self.env) as trap:
            self._validate(
                self._create_picking(
                    self.warehouse.int_type_id,
                    self.stock_location,
                    self.warehouse_2.lot_stock_id,
                    self.product,
                    4,
                )
            )
        trap.assert_count(2)
        trap.assert_event(warehouse=self.warehouse, quantity=-4, event_type="TRANSFER")
        trap.assert_event(warehouse=self.warehouse_2, quantity=4, event_type="TRANSFER")
        first = trap.assert_level(self.product, self.warehouse, on_hand=6, available=6)
        second = trap.assert_level(self.product, self.warehouse_2, on_hand=4, available=4)
        self.assertEqual((first["sequence"], second["sequence"]), (2, 1))
        with self.assertRaises(TypeError):
            trap.events(colour="red")
