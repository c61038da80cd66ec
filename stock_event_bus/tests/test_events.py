# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The pure event logic: payload, schema, properties (the classification of
a move line is stock_scalable's: its tests/test_movement_types.py)."""

import datetime
import json
import uuid

from odoo.tests import BaseCase, tagged

from odoo.addons.stock_scalable.lib import movement_types

from ..lib import events

WH1 = 1


def sample_line(**overrides):
    line = {
        "date": datetime.datetime(2026, 11, 26, 10, 30, 0),
        "company_id": 1,
        "product_id": 7,
        "default_code": "SKU-7",
        "barcode": "4006381333931",
        "quantity": 3.0,
        "uom": "Units",
        "location_id": 8,
        "location": "WH/Stock",
        "location_dest_id": 5,
        "location_dest": "Partners/Customers",
        "lot": False,
        "package": False,
        "result_package": False,
        "move_id": 11,
        "move_line_id": 12,
        "picking": "WH/OUT/00001",
        "origin": "S00042",
    }
    line.update(overrides)
    return line


@tagged("post_install", "-at_install")
class TestSchema(BaseCase):
    def test_every_type_is_documented_in_the_schema(self):
        """The schema's event_type enum is the movement-type table's types,
        in its order, each described."""
        schema = events.load_schema()
        documented = {
            option["const"]: option["description"]
            for option in schema["properties"]["event_type"]["oneOf"]
        }
        self.assertEqual(list(documented), list(movement_types.TYPES))
        self.assertTrue(all(len(text) > 30 for text in documented.values()))


@tagged("post_install", "-at_install")
class TestPayload(BaseCase):
    def _payload(self, **line):
        return events.build_payload(
            sample_line(**line),
            event_id=str(uuid.uuid4()),
            warehouse_id=WH1,
            event_type="SALE",
            sign=-1,
            sequence=4,
        )

    def test_payload_follows_the_schema(self):
        payload = self._payload()
        events.validate(payload)
        self.assertEqual(payload["quantity"], -3.0)
        self.assertEqual(payload["occurred_at"], "2026-11-26T10:30:00Z")
        self.assertIsNone(payload["lot"])
        self.assertEqual(payload["schema_version"], events.SCHEMA_VERSION)
        json.dumps(payload)  # serializable as it is

    def test_malformed_payloads_are_named(self):
        payload = self._payload()
        bad = dict(payload, quantity="three")
        with self.assertRaisesRegex(events.PayloadError, "quantity"):
            events.validate(bad)
        missing = {k: v for k, v in payload.items() if k != "event_id"}
        with self.assertRaisesRegex(events.PayloadError, "event_id"):
            events.validate(missing)
        with self.assertRaisesRegex(events.PayloadError, "event_type"):
            events.validate(dict(payload, event_type="THEFT"))

    def test_routing_key_and_properties(self):
        payload = self._payload()
        self.assertEqual(events.routing_key(1, 2, "SALE"), "stock.1.2.sale")
        props = events.message_properties(payload)
        self.assertEqual(props["message_id"], payload["event_id"])
        self.assertEqual(props["type"], "SALE")
        self.assertEqual(props["content_type"], "application/json")
        self.assertEqual(props["headers"], {"schema_version": "1.0"})
        expected = datetime.datetime(2026, 11, 26, 10, 30, tzinfo=datetime.timezone.utc)
        self.assertEqual(props["timestamp"], int(expected.timestamp()))

    def test_utc_formatting_of_aware_datetimes(self):
        paris = datetime.timezone(datetime.timedelta(hours=1))
        value = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=paris)
        self.assertEqual(events.isoformat_utc(value), "2026-01-01T11:00:00Z")
