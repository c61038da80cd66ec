# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level events, in one transaction: markers written before the commit (one
per key, whatever the lines), and the LEVEL events the dispatcher computes
from them (lib/levels.py run on the test's cursor)."""

import json
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..lib import config as bus_config
from ..lib import events, levels
from .common import EventBusCommon


@tagged("post_install", "-at_install")
class TestLevelEvents(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Change = cls.env["stock.level.change"].sudo()
        cls.warehouse_2 = cls.env["stock.warehouse"].create(
            {"name": "Level Second WH", "code": "LV2"}
        )
        cls.product_2 = cls.env["product.product"].create(
            {"name": "Level Gadget", "is_storable": True}
        )

    def setUp(self):
        super().setUp()
        self._markers()  # what the fixtures changed

    def _markers(self):
        """The markers this transaction writes at commit, as (product,
        warehouse) pairs (the precommit flush, then the rows)."""
        self.env.flush_all()
        self.Change._flush_keys()
        self.env.cr.execute("DELETE FROM stock_level_change RETURNING product_id, warehouse_id")
        return sorted(self.env.cr.fetchall())

    def _materialize(self):
        """Run the dispatcher's step on the test's cursor; the LEVEL events
        it wrote, by (product, warehouse)."""
        self.env.flush_all()
        self.Change._flush_keys()
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM stock_event_outbox")
        start = self.env.cr.fetchone()[0]
        levels.materialize(self.env.cr, json.dumps)
        self.env.invalidate_all()
        found = self.env["stock.event.outbox"].search(
            [("id", ">", start), ("event_type", "=", "LEVEL")], order="id"
        )
        return {(e.product_id.id, e.warehouse_id.id): e for e in found}

    def _odoo_levels(self, product, warehouse):
        product = product.with_context(warehouse_id=warehouse.id)
        product.invalidate_recordset()
        quants = self.env["stock.quant"].search(
            [
                ("product_id", "=", product.id),
                ("location_id", "child_of", warehouse.view_location_id.id),
            ]
        )
        return {
            "on_hand": product.qty_available,
            "reserved": sum(quants.mapped("reserved_quantity")),
            "available": product.free_qty,
        }

    def _delivery(self, product, qty):
        picking = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            product,
            qty,
        )
        picking.action_confirm()
        return picking

    def test_one_marker_per_key_whatever_the_lines(self):
        """Two receipts and a delivery of one product, a receipt of another,
        in one transaction: one marker per (product, warehouse)."""
        self._receive(self.product, 5)
        self._receive(self.product, 3)
        self._deliver(self.product, 2)
        self._receive(self.product_2, 1)
        self.assertEqual(
            self._markers(),
            sorted([(self.product.id, self.warehouse.id), (self.product_2.id, self.warehouse.id)]),
        )
        self.assertEqual(self._markers(), [])

    def test_status_screen_counts_level_changes_waiting(self):
        """Inventory > Configuration > Event Bus > Status: level events on,
        and the committed changes no dispatcher has turned into events."""
        status = self.env["stock.event.bus.status"].create({})
        self.assertTrue(status.level_events)
        self.assertEqual(status.level_changes_pending, 0)
        self._receive(self.product, 5)
        self._receive(self.product_2, 1)
        self.env.flush_all()
        self.Change._flush_keys()
        status.invalidate_recordset()
        self.assertEqual(status.level_changes_pending, 2)
        self._markers()

    def test_transfer_marks_both_warehouses(self):
        self._receive(self.product, 10)
        self._markers()
        self._validate(
            self._create_picking(
                self.warehouse.int_type_id,
                self.stock_location,
                self.warehouse_2.lot_stock_id,
                self.product,
                4,
            )
        )
        self.assertEqual(
            self._markers(),
            sorted([(self.product.id, self.warehouse.id), (self.product.id, self.warehouse_2.id)]),
        )

    def test_reservation_unreserve_and_cancel_mark(self):
        self._receive(self.product, 10)
        self._markers()
        key = [(self.product.id, self.warehouse.id)]
        picking = self._delivery(self.product, 4)  # reserved at confirmation
        self.assertEqual(self._markers(), key)
        self.assertEqual(picking.state, "assigned")
        picking.do_unreserve()
        self.assertEqual(self._markers(), key)
        picking.action_assign()
        self.assertEqual(self._markers(), key)
        picking.do_unreserve()
        self.assertEqual(self._markers(), key)
        picking.action_assign()
        self._markers()
        picking.action_cancel()
        self.assertEqual(self._markers(), key)

    def test_count_and_scrap_mark(self):
        quant = self._counted_quant(self.product, 7)
        self._markers()
        quant.action_apply_inventory()
        self.assertEqual(self._markers(), [(self.product.id, self.warehouse.id)])
        scrap = self.env["stock.scrap"].create(
            {"product_id": self.product.id, "scrap_qty": 1, "location_id": self.stock_location.id}
        )
        scrap.action_validate()
        self.assertEqual(self._markers(), [(self.product.id, self.warehouse.id)])

    def test_return_and_scheduler_mark(self):
        """A return, and the scheduler reserving a waiting delivery once
        stock arrived by other means."""
        key = [(self.product.id, self.warehouse.id)]
        picking = self._delivery(self.product, 3)  # nothing on hand: waiting
        self.assertEqual(picking.state, "confirmed")
        self.env["stock.quant"]._update_available_quantity(self.product, self.stock_location, 5)
        self._markers()
        self.env["procurement.group"].run_scheduler()
        self.assertEqual(picking.state, "assigned")
        self.assertEqual(self._markers(), key)
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self._markers()
        wizard = (
            self.env["stock.return.picking"]
            .with_context(active_id=picking.id, active_model="stock.picking")
            .create({})
        )
        wizard.product_return_moves.quantity = 1
        returned = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self._validate(returned)
        self.assertEqual(self._markers(), key)

    def test_level_events_equal_odoo_levels(self):
        """The LEVEL event of each key: Odoo's on-hand, reserved and free
        quantity of the warehouse, the level schema, its own sequence and
        routing key."""
        self._receive(self.product, 10)
        self._receive(self.product_2, 3)
        first = self._materialize()
        self.assertEqual(
            set(first),
            {(self.product.id, self.warehouse.id), (self.product_2.id, self.warehouse.id)},
        )
        self._delivery(self.product, 4).action_assign()
        second = self._materialize()
        self.assertEqual(set(second), {(self.product.id, self.warehouse.id)})
        event = second[self.product.id, self.warehouse.id]
        payload = event.payload
        events.validate(payload)
        self.assertEqual(
            {k: payload[k] for k in ("on_hand", "reserved", "available")},
            self._odoo_levels(self.product, self.warehouse),
        )
        self.assertEqual(
            (payload["on_hand"], payload["reserved"], payload["available"]), (10.0, 4.0, 6.0)
        )
        before = first[self.product.id, self.warehouse.id]
        self.assertEqual(event.sequence, before.sequence + 1)
        self.assertEqual(payload["sequence"], event.sequence)
        self.assertEqual(payload["event_id"], event.event_uuid)
        self.assertEqual(payload["default_code"], "SSW-1")
        self.assertEqual(payload["uom"], self.product.uom_id.name)
        self.assertEqual(
            event.routing_key, f"stock_level.{self.env.company.id}.{self.warehouse.id}"
        )
        self.assertEqual(event.state, "pending")
        # Movement events keep their own numbers and routing keys.
        sale = self.env["stock.event.outbox"].search(
            [("event_type", "=", "RECEIPT"), ("product_id", "=", self.product.id)], limit=1
        )
        self.assertTrue(sale.routing_key.startswith("stock."))
        self.assertEqual(self._materialize(), {}, "markers are consumed")

    def test_malformed_level_payload_is_refused(self):
        self._receive(self.product, 2)
        payload = self._materialize()[self.product.id, self.warehouse.id].payload
        with self.assertRaises(events.PayloadError):
            events.validate(dict(payload, available="two"))
        with self.assertRaises(events.PayloadError):
            events.validate(dict(payload, quantity=2.0))  # a movement's field

    def test_level_events_off_mark_nothing(self):
        """level_events = false: no marker; a bad option never stops a
        posting (levels stay on)."""
        Outbox = type(self.env["stock.event.outbox"])
        with patch.object(
            Outbox, "_get_bus_settings", lambda _self: bus_config.resolve({"level_events": "0"})
        ):
            self._receive(self.product, 1)
            self.assertEqual(self._markers(), [])

        def broken(_self):
            raise ValueError("[stock_event_bus] batch_size must be a whole number")

        with (
            patch.object(Outbox, "_get_bus_settings", broken),
            mute_logger("odoo.addons.stock_event_bus.models.stock_level"),
        ):
            self._receive(self.product, 1)
            self.assertEqual(self._markers(), [(self.product.id, self.warehouse.id)])

    def test_rounding_is_half_up_to_the_unit(self):
        self.assertEqual(levels.float_round(0.125, 0.01), 0.13)
        self.assertEqual(levels.float_round(2.0000001, 0.001), 2.0)
        self.assertEqual(levels.float_round(-1.5, 1), -2.0)
