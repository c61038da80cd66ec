# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level snapshots in one transaction: each key's level equals Odoo's
(``product.with_context(warehouse_id=W)``), keys whose quants are gone are
there with zeros, the scope, keyset pages, expiry and access. Pages over
HTTP, with commits between them, and the AMQP command: the top-level
tests/test_level_snapshot.py."""

import datetime
import doctest
import json

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..lib import levels
from ..lib import snapshot as snaplib
from .common import EventBusCommon


@tagged("post_install", "-at_install")
class TestLevelSnapshot(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Snapshot = cls.env["stock.level.snapshot"]
        cls.warehouse_2 = cls.env["stock.warehouse"].create(
            {"name": "Snapshot Second WH", "code": "SN2"}
        )
        cls.product_2 = cls.env["product.product"].create(
            {"name": "Snapshot Gadget", "is_storable": True, "barcode": "SNAP-2"}
        )
        cls.warehouse_b = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company_b.id)], limit=1
        )
        cls.companies = cls.company_a | cls.company_b

    def _take(self, **scope):
        snapshot = self.Snapshot._sscale_take(self.companies, **scope)
        return snapshot, [lv for page in snapshot._sscale_pages(limit=2) for lv in page]

    def _odoo_level(self, product, warehouse):
        product = product.with_context(warehouse_id=warehouse.id)
        product.invalidate_recordset()
        return {
            "on_hand": product.qty_available,
            "available": product.free_qty,
            "reserved": product.qty_available - product.free_qty,
        }

    def test_doctests(self):
        """lib/snapshot.py's spec (query parameters)."""
        suite = doctest.DocTestSuite(snaplib, optionflags=doctest.ELLIPSIS)
        result = suite.run(__import__("unittest").TestResult())
        self.assertTrue(result.testsRun)
        self.assertFalse(result.failures or result.errors, result.failures + result.errors)

    def test_levels_equal_odoo_per_key(self):
        """Every key's on hand, reserved and available equal Odoo's free and
        on-hand quantity of the warehouse; reservations count; the level
        sequence is the key's last (0 before any level event); pages follow
        (warehouse_id, product_id) and validate against the schema."""
        self._receive(self.product, 10)
        self._receive(self.product_2, 3)
        picking = self._create_picking(
            self.warehouse.out_type_id,
            self.stock_location,
            self.customer_location,
            self.product,
            4,
        )
        picking.action_confirm()
        picking.action_assign()
        self.env["stock.quant"]._update_available_quantity(
            self.product, self.warehouse_2.lot_stock_id, 2.5
        )
        self.env.flush_all()
        self.env["stock.level.change"]._flush_keys()
        levels.materialize(self.env.cr, json.dumps)
        snapshot, found = self._take()
        keys = [(lv["warehouse_id"], lv["product_id"]) for lv in found]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual(snapshot.total, len(found))
        by_key = {(lv["product_id"], lv["warehouse_id"]): lv for lv in found}
        for product, warehouse in [
            (self.product, self.warehouse),
            (self.product_2, self.warehouse),
            (self.product, self.warehouse_2),
        ]:
            level = by_key[product.id, warehouse.id]
            self.assertEqual(
                {k: level[k] for k in ("on_hand", "available", "reserved")},
                self._odoo_level(product, warehouse),
            )
            self.assertEqual(level["company_id"], warehouse.company_id.id)
            self.assertEqual(level["uom"], product.uom_id.name)
        level = by_key[self.product.id, self.warehouse.id]
        self.assertEqual((level["on_hand"], level["reserved"], level["available"]), (10, 4, 6))
        self.assertEqual(level["default_code"], "SSW-1")
        self.assertEqual(by_key[self.product_2.id, self.warehouse.id]["barcode"], "SNAP-2")
        sequence = self.env["stock.level.sequence"].search(
            [("product_id", "=", self.product.id), ("warehouse_id", "=", self.warehouse.id)]
        )
        self.assertTrue(sequence.last_sequence >= 1)
        self.assertEqual(level["sequence"], sequence.last_sequence)
        # A key with quants but no level event yet: sequence 0.
        self.env.cr.execute(
            "DELETE FROM stock_level_sequence WHERE product_id = %s AND warehouse_id = %s",
            [self.product_2.id, self.warehouse.id],
        )
        _snapshot, again = self._take()
        self.assertEqual(
            {(lv["product_id"], lv["warehouse_id"]): lv for lv in again}[
                self.product_2.id, self.warehouse.id
            ]["sequence"],
            0,
        )
        header = snapshot._sscale_header()
        page, cursor = snapshot._sscale_page(None, 2)
        snaplib.validate(snaplib.page_body(header, page, cursor), "page")
        uuid_, at = snapshot.uuid, snapshot.taken_at
        for lv in found:
            snaplib.validate(json.loads(snaplib.level_message(uuid_, at, lv)[1]), "snapshot_level")
        end = json.loads(snaplib.end_message(uuid_, at, snapshot.total)[1])
        snaplib.validate(end, "snapshot_end")
        with self.assertRaises(ValueError):
            snaplib.validate(dict(end, total=-1), "snapshot_end")

    def test_key_without_quants_has_zeros(self):
        """A key with a level sequence whose quants are gone is in the
        snapshot with zero levels and its sequence."""
        self._receive(self.product_2, 3)
        self.env.flush_all()
        self.env["stock.level.change"]._flush_keys()
        levels.materialize(self.env.cr, json.dumps)
        self.env.cr.execute("DELETE FROM stock_quant WHERE product_id = %s", [self.product_2.id])
        self.env.invalidate_all()
        _snapshot, found = self._take(warehouse_id=self.warehouse.id)
        [level] = [lv for lv in found if lv["product_id"] == self.product_2.id]
        self.assertEqual((level["on_hand"], level["reserved"], level["available"]), (0, 0, 0))
        self.assertGreaterEqual(level["sequence"], 1)

    def test_scope(self):
        """warehouse_id: that warehouse's keys only; company_id: its
        warehouses; neither: every warehouse of the companies given."""
        self._receive(self.product, 5)
        self.env["stock.quant"]._update_available_quantity(
            self.product, self.warehouse_2.lot_stock_id, 1
        )
        self.env["stock.quant"]._update_available_quantity(
            self.product.with_company(self.company_b), self.warehouse_b.lot_stock_id, 7
        )
        snapshot, found = self._take(warehouse_id=self.warehouse_2.id)
        self.assertEqual({lv["warehouse_id"] for lv in found}, {self.warehouse_2.id})
        self.assertEqual(snapshot._sscale_header()["warehouse_id"], self.warehouse_2.id)
        _snapshot, found = self._take(company_id=self.company_b.id)
        self.assertEqual({lv["warehouse_id"] for lv in found}, {self.warehouse_b.id})
        _snapshot, found = self._take()
        self.assertTrue(
            {self.warehouse.id, self.warehouse_2.id, self.warehouse_b.id}
            <= {lv["warehouse_id"] for lv in found}
        )
        only_a = self.Snapshot._sscale_take(self.company_a)
        self.assertNotIn(
            self.warehouse_b.id,
            {lv["warehouse_id"] for page in only_a._sscale_pages() for lv in page},
        )

    def test_refusals(self):
        """Another company's warehouse or company: forbidden; unknown ids:
        not found; a user without Inventory rights: forbidden."""
        cases = [
            ({"warehouse_id": self.warehouse_b.id}, "forbidden"),
            ({"company_id": self.company_b.id}, "forbidden"),
            ({"warehouse_id": 2_000_000_000}, "unknown_warehouse"),
            ({"company_id": 2_000_000_000}, "unknown_company"),
        ]
        for scope, code in cases:
            with self.subTest(scope=scope), self.assertRaises(snaplib.SnapshotError) as caught:
                self.Snapshot._sscale_take(self.company_a, **scope)
            self.assertEqual(caught.exception.code, code)
        clerk = self._create_user("snapshot-clerk", ["base.group_user"], [self.company_a])
        with self.assertRaises(snaplib.SnapshotError) as caught:
            self.Snapshot.with_user(clerk)._sscale_take(self.company_a)
        self.assertEqual(caught.exception.code, "forbidden")

    def test_expiry_and_owner(self):
        """An expired snapshot answers snapshot_expired, then is deleted
        with its lines by the next snapshot; another user's is unknown."""
        self._receive(self.product, 5)
        user = self._create_user(
            "snapshot-user", ["stock.group_stock_user"], [self.company_a, self.company_b]
        )
        Snapshot = self.Snapshot.with_user(user)
        before = fields.Datetime.now()
        snapshot = Snapshot._sscale_take(self.company_a)
        after = fields.Datetime.now()
        self.assertEqual(Snapshot._sscale_find(snapshot.uuid), snapshot)
        # 60 minutes after it was taken (bracketed: no clock in the assertion).
        lifetime = datetime.timedelta(minutes=60)
        self.assertTrue(before + lifetime <= snapshot.expires_at <= after + lifetime)
        with self.assertRaises(snaplib.SnapshotError) as caught:
            self.Snapshot._sscale_find(snapshot.uuid)  # another user (admin)
        self.assertEqual(caught.exception.code, "unknown_snapshot")
        snapshot.expires_at = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.env.flush_all()
        with self.assertRaises(snaplib.SnapshotError) as caught:
            Snapshot._sscale_find(snapshot.uuid)
        self.assertEqual(caught.exception.code, "snapshot_expired")
        snapshot_id, snapshot_uuid = snapshot.id, snapshot.uuid
        Snapshot._sscale_take(self.company_a)
        self.env.cr.execute(
            "SELECT COUNT(*) FROM stock_level_snapshot_line WHERE snapshot_id = %s", [snapshot_id]
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertFalse(self.Snapshot.sudo().browse(snapshot_id).exists())
        with self.assertRaises(snaplib.SnapshotError) as caught:
            Snapshot._sscale_find(snapshot_uuid)
        self.assertEqual(caught.exception.code, "unknown_snapshot")

    def test_access(self):
        """Administrators read snapshots, nobody writes them through the
        ORM; an Inventory manager reads none."""
        snapshot = self.Snapshot._sscale_take(self.company_a)
        manager = self._create_user(
            "snapshot-manager", ["stock.group_stock_manager"], [self.company_a]
        )
        admin = self._create_user("snapshot-admin", ["base.group_system"], [self.company_a])
        self.assertEqual(snapshot.with_user(admin).read(["total"])[0]["total"], snapshot.total)
        for model in ("stock.level.snapshot", "stock.level.snapshot.line"):
            with self.subTest(model=model):
                with self.assertRaises(AccessError):
                    self.env[model].with_user(manager).search([])
                with self.assertRaises(AccessError):
                    self.env[model].with_user(admin).create({})
        with self.assertRaises(AccessError):
            snapshot.with_user(admin).write({"total": 0})
        with self.assertRaises(AccessError):
            snapshot.with_user(admin).unlink()

    def test_limit_per_user(self):
        """Taking more than snapshot_per_user snapshots keeps the user's
        newest ones: the oldest are deleted with their lines (a reader of
        one gets unknown_snapshot); another user's stay."""
        self._receive(self.product, 5)
        limit = self.env["stock.event.outbox"]._get_bus_settings().snapshot_per_user
        users = [
            self._create_user(f"snapshot-taker-{n}", ["stock.group_stock_user"], [self.company_a])
            for n in (1, 2)
        ]
        other = self.Snapshot.with_user(users[1])
        kept_other = [other._sscale_take(self.company_a) for _n in range(limit)]
        Snapshot = self.Snapshot.with_user(users[0])
        taken, uuids = self.Snapshot.sudo(), []
        for _n in range(limit + 2):
            snapshot = Snapshot._sscale_take(self.company_a)
            self.assertTrue(snapshot.total)
            taken, uuids = snapshot | taken, [*uuids, snapshot.uuid]
        taken_ids = taken.ids[::-1]  # oldest first
        self.assertEqual(
            self.Snapshot.sudo().search([("user_id", "=", users[0].id)]),
            self.Snapshot.sudo().browse(taken_ids[2:][::-1]),
        )
        self.env.cr.execute(
            "SELECT COUNT(*) FROM stock_level_snapshot_line WHERE snapshot_id IN %s",
            [tuple(taken_ids[:2])],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        for uuid_ in uuids[:2]:
            with self.assertRaises(snaplib.SnapshotError) as caught:
                Snapshot._sscale_find(uuid_)
            self.assertEqual(caught.exception.code, "unknown_snapshot")
        self.assertEqual(Snapshot._sscale_find(uuids[-1]).id, taken_ids[-1])
        self.assertEqual(
            self.Snapshot.sudo().search([("user_id", "=", users[1].id)]),
            self.Snapshot.sudo().concat(*reversed(kept_other)),
        )
        for snapshot in kept_other:
            self.assertEqual(other._sscale_find(snapshot.uuid), snapshot)
            self.assertEqual(
                len(self.Snapshot.sudo().browse(snapshot.id).line_ids), snapshot.total
            )
