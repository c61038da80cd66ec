# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Postings write their events in the same transaction (the outbox)."""

import datetime
import os
import socket
import urllib.parse
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from ..lib import config as bus_config
from ..lib import events
from .common import EventBusCommon


@tagged("post_install", "-at_install")
class TestOutboxEvents(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Outbox = cls.env["stock.event.outbox"]
        cls.warehouse_2 = cls.env["stock.warehouse"].create(
            {"name": "Event Bus Second WH", "code": "EB2"}
        )

    def _events(self, since_id=0, **domain):
        search = [("id", ">", since_id)] + [(k, "=", v) for k, v in domain.items()]
        return self.Outbox.search(search, order="id")

    def _last_id(self):
        return self.Outbox.search([], order="id desc", limit=1).id or 0

    def _check_payloads(self, outbox_events):
        for event in outbox_events:
            events.validate(event.payload)
            self.assertEqual(event.payload["event_id"], event.event_uuid)
            self.assertEqual(event.payload["sequence"], event.sequence)
            self.assertEqual(event.payload["quantity"], event.quantity)

    def test_receipt_and_delivery(self):
        start = self._last_id()
        receipt = self._receive(self.product, 5)
        delivery = self._deliver(self.product, 2)
        found = self._events(start, product_id=self.product.id)
        self.assertEqual(found.mapped("event_type"), ["RECEIPT", "SALE"])
        self.assertEqual(found.mapped("quantity"), [5.0, -2.0])
        self.assertEqual(found.mapped("state"), ["pending", "pending"])
        self.assertEqual(found.mapped("warehouse_id"), self.warehouse)
        # Sequences are consecutive per (product, warehouse).
        self.assertEqual(found[1].sequence, found[0].sequence + 1)
        sale = found[1].payload
        self.assertEqual(sale["picking"], delivery.name)
        self.assertEqual(sale["default_code"], "SSW-1")
        self.assertEqual(sale["location"], self.stock_location.complete_name)
        self.assertEqual(sale["location_dest"], self.customer_location.complete_name)
        self.assertEqual(sale["move_line_id"], delivery.move_line_ids.id)
        self.assertEqual(sale["uom"], self.product.uom_id.name)
        self.assertEqual(found[0].payload["picking"], receipt.name)
        self.assertEqual(
            found[1].routing_key, f"stock.{self.env.company.id}.{self.warehouse.id}.sale"
        )
        self._check_payloads(found)

    def test_transfer_between_warehouses_and_internal_move(self):
        self._receive(self.product, 10)
        start = self._last_id()
        transfer = self._create_picking(
            self.warehouse.int_type_id,
            self.stock_location,
            self.warehouse_2.lot_stock_id,
            self.product,
            4,
        )
        self._validate(transfer)
        found = self._events(start)
        self.assertEqual(
            [(e.event_type, e.warehouse_id, e.quantity) for e in found],
            [("TRANSFER", self.warehouse, -4.0), ("TRANSFER", self.warehouse_2, 4.0)],
        )
        shelf = self.env["stock.location"].create(
            {"name": "Shelf EB", "location_id": self.stock_location.id, "usage": "internal"}
        )
        start = self._last_id()
        self._validate(
            self._create_picking(
                self.warehouse.int_type_id, self.stock_location, shelf, self.product, 1
            )
        )
        internal = self._events(start)
        self.assertEqual(internal.mapped("event_type"), ["INTERNAL"])
        self.assertEqual(internal.quantity, 0.0)
        self.assertEqual(internal.payload["location_dest"], shelf.complete_name)
        self._check_payloads(found | internal)

    def test_adjustment_scrap_and_return(self):
        start = self._last_id()
        quant = self._counted_quant(self.product, 7)
        quant.action_apply_inventory()
        scrap = self.env["stock.scrap"].create(
            {"product_id": self.product.id, "scrap_qty": 1, "location_id": self.stock_location.id}
        )
        scrap.action_validate()
        delivery = self._deliver(self.product, 2)
        wizard = (
            self.env["stock.return.picking"]
            .with_context(active_id=delivery.id, active_model="stock.picking")
            .create({})
        )
        wizard.product_return_moves.quantity = 2
        returned = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self._validate(returned)
        found = self._events(start)
        self.assertEqual(
            [(e.event_type, e.quantity) for e in found],
            [("ADJUSTMENT", 7.0), ("SCRAP", -1.0), ("SALE", -2.0), ("RETURN", 2.0)],
        )
        self.assertEqual(
            found.mapped("sequence"), list(range(found[0].sequence, found[0].sequence + 4))
        )
        self._check_payloads(found)

    def test_events_add_up_to_on_hand(self):
        """Summing quantity per (product, warehouse) gives the on-hand."""
        product = self.env["product.product"].create({"name": "Summed", "is_storable": True})
        self._receive(product, 9)
        self._deliver(product, 4)
        self._receive(product, 1)
        total = sum(self._events(product_id=product.id).mapped("quantity"))
        self.assertEqual(total, product.with_context(warehouse_id=self.warehouse.id).qty_available)

    def test_posting_without_broker_keeps_events_pending(self):
        """A broker that does not answer changes nothing for a posting: its
        transaction writes one pending event per done line, and the posting
        never connects to the broker (publishing is the dispatcher's job)."""
        # A port that accepts TCP connections and never speaks AMQP: a
        # posting that tried to publish inline would hang on it or fail,
        # and its connection would wait here to be accepted.
        broker = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(broker.close)
        broker.setblocking(False)
        url = f"amqp://guest:guest@127.0.0.1:{broker.getsockname()[1]}/%2F"
        product = self.env["product.product"].create({"name": "Unpublished", "is_storable": True})
        start = self._last_id()
        with patch.dict(os.environ, {bus_config.ENV_AMQP_URL: url}):
            self.assertEqual(self.Outbox._get_bus_settings().amqp_url, url)
            receipt = self._receive(product, 3)
            delivery = self._deliver(product, 2)
            self.env.flush_all()
        self.assertEqual((receipt.state, delivery.state), ("done", "done"))
        # What the posting's transaction holds (and its commit will show).
        self.env.cr.execute(
            """SELECT (payload->>'move_line_id')::int, state, attempts, quantity
                 FROM stock_event_outbox WHERE id > %s AND product_id = %s ORDER BY id""",
            [start, product.id],
        )
        self.assertEqual(
            self.env.cr.fetchall(),
            [
                (receipt.move_line_ids.id, "pending", 0, 3.0),
                (delivery.move_line_ids.id, "pending", 0, -2.0),
            ],
        )
        with self.assertRaises(BlockingIOError, msg="the posting connected to the broker"):
            broker.accept()

    def test_replay_and_retry_failed(self):
        self._receive(self.product, 1)
        event = self._events(self._last_id() - 1)[-1]
        event.sudo().write({"state": "failed", "last_error": "unroutable: no queue"})
        manager = self._create_user("eb_manager", ["stock.group_stock_manager"], [self.company_a])
        user = self._create_user("eb_user", ["stock.group_stock_user"], [self.company_a])
        with self.assertRaises(AccessError):
            event.with_user(user).action_retry_failed()
        event.with_user(manager).action_retry_failed()
        self.assertEqual(event.state, "pending")
        self.assertFalse(event.last_error)
        with self.assertRaisesRegex(UserError, "no failed event"):
            event.with_user(manager).action_retry_failed()
        event.sudo().write({"state": "sent"})
        event.with_user(manager).action_replay()
        self.assertEqual((event.state, event.event_uuid), ("pending", event.payload["event_id"]))

    def test_purge_sent_events_after_retention(self):
        self._receive(self.product, 1)
        self._receive(self.product, 1)
        old, recent = self._events(self._last_id() - 2)[-2:]
        now = fields.Datetime.now()
        old.sudo().write({"state": "sent", "sent_at": now - datetime.timedelta(days=31)})
        recent.sudo().write({"state": "sent", "sent_at": now - datetime.timedelta(days=29)})
        deleted = self.Outbox._cron_purge_sent()
        self.assertGreaterEqual(deleted, 1)
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def test_status_screen(self):
        """The status screen counts the outbox and masks the password; Test
        Connection tries each broker node and names the one that does not
        answer; with no broker configured it says so."""
        # This machine's RabbitMQ (the one the top-level tests use), set as
        # the server's broker whatever odoo.conf says: every check runs.
        real = os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/%2F"
        password = urllib.parse.urlsplit(real).password
        self.assertTrue(password, "the broker URL of the test needs a password")
        self._receive(self.product, 1)
        manager = self._create_user("eb_status", ["stock.group_stock_manager"], [self.company_a])
        with patch.dict(os.environ, {bus_config.ENV_AMQP_URL: real}):
            status = self.env["stock.event.bus.status"].with_user(manager).create({})
            self.assertGreaterEqual(status.pending_count, 1)
            self.assertIn(urllib.parse.urlsplit(real).hostname, status.broker)
            self.assertNotIn(f":{password}@", status.broker)
            result = status.action_test_connection()
            self.assertEqual(result["params"]["type"], "success")
        # A cluster with one node that does not answer: named, as a warning.
        cluster = f"{real}, amqp://u:pw@127.0.0.1:1/%2F"
        with (
            patch.dict(os.environ, {bus_config.ENV_AMQP_URL: cluster}),
            mute_logger("pika"),  # pika logs the refused connection as an error
        ):
            result = status.action_test_connection()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertIn("1 of 2 brokers answer", result["params"]["message"])
        self.assertIn("amqp://u:***@127.0.0.1:1/%2F", result["params"]["message"])
        self.assertNotIn(":pw@", result["params"]["message"])
        # No broker: neither the environment nor odoo.conf names one.
        with (
            patch.dict(os.environ),
            patch.dict(config.misc, {bus_config.SECTION: {}}),
        ):
            os.environ.pop(bus_config.ENV_AMQP_URL, None)
            with self.assertRaisesRegex(UserError, "No broker is configured"):
                status.action_test_connection()
            self.assertIn("not configured", self.env["stock.event.bus.status"].create({}).broker)
