# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging

from odoo import _, api, fields, models
from odoo.tools import SQL, create_unique_index, index_exists

from ..lib import snapshot as snaplib

_logger = logging.getLogger(__name__)


class StockLevelSnapshot(models.Model):
    """One snapshot of the levels of a company's or a warehouse's keys (or
    of every warehouse of the taker's companies), taken in one statement
    (lib/snapshot.py TAKE_SQL) and read in keyset pages until it expires.
    Written only by :meth:`_sscale_take` (as superuser, once the taker's
    rights are checked); administrators may read it."""

    _name = "stock.level.snapshot"
    _description = "Stock Level Snapshot"
    _order = "id desc"
    _rec_name = "uuid"

    uuid = fields.Char(string="UUID", required=True, readonly=True, index=True, copy=False)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True, ondelete="cascade")
    user_id = fields.Many2one("res.users", required=True, readonly=True, ondelete="cascade")
    taken_at = fields.Datetime(readonly=True)
    expires_at = fields.Datetime(required=True, readonly=True, index=True)
    total = fields.Integer(readonly=True)
    line_ids = fields.One2many("stock.level.snapshot.line", "snapshot_id", readonly=True)

    _sql_constraints = [("uuid_uniq", "unique(uuid)", "A snapshot id is unique.")]

    @api.model
    def _sscale_take(self, companies, company_id=None, warehouse_id=None):
        """Take a snapshot of the warehouses of ``company_id`` or of
        ``warehouse_id`` (the ids asked for) or, neither given, of every
        warehouse of ``companies`` (the companies the taker may read), as
        ``self.env.user``. Expired snapshots are deleted first, and the
        user's oldest live ones beyond ``snapshot_per_user`` (counting this
        one; a reader of one of those then gets ``unknown_snapshot``).
        Returns the snapshot (sudo). Raises lib.snapshot.SnapshotError."""
        user = self._sscale_check_rights()
        Warehouse = self.env["stock.warehouse"].sudo()
        if warehouse_id:
            warehouses = Warehouse.with_context(active_test=False).browse(warehouse_id).exists()
            if not warehouses:
                raise snaplib.SnapshotError(
                    "unknown_warehouse", _("no warehouse %s", warehouse_id)
                )
            if warehouses.company_id not in companies:
                raise snaplib.SnapshotError(
                    "forbidden",
                    _("warehouse %s is not of your companies", warehouse_id),
                )
        elif company_id:
            company = self.env["res.company"].sudo().browse(company_id).exists()
            if not company:
                raise snaplib.SnapshotError("unknown_company", _("no company %s", company_id))
            if company not in companies:
                raise snaplib.SnapshotError(
                    "forbidden", _("company %s is not one of yours", company_id)
                )
            warehouses = Warehouse.search([("company_id", "=", company.id)])
        else:
            warehouses = Warehouse.search([("company_id", "in", companies.ids)])
        self._gc_expired()
        settings = self.env["stock.event.outbox"]._get_bus_settings()
        self._gc_beyond_limit(user, settings.snapshot_per_user - 1)
        minutes = settings.snapshot_minutes
        now = fields.Datetime.now()
        snapshot = self.sudo().create(
            {
                "uuid": snaplib.new_uuid(),
                "company_id": company_id or False,
                "warehouse_id": warehouse_id or False,
                "user_id": user.id,
                "taken_at": now,
                "expires_at": now + datetime.timedelta(minutes=minutes),
            }
        )
        self.env.flush_all()
        # Raw SQL, one statement: the levels of every key at one point (see
        # lib/snapshot.py), 100,000 keys in a few seconds.
        self.env.cr.execute(
            snaplib.TAKE_SQL, {"snapshot": snapshot.id, "warehouses": warehouses.ids}
        )
        snapshot.invalidate_recordset(["total", "taken_at"])
        return snapshot

    @api.model
    def _sscale_check_rights(self):
        """The user, when an Inventory user (or the superuser: the command
        line). Raises lib.snapshot.SnapshotError (forbidden)."""
        user = self.env.user
        if not self.env.su and not user.has_group("stock.group_stock_user"):
            raise snaplib.SnapshotError("forbidden", _("%s has no Inventory rights", user.login))
        return user

    @api.model
    def _sscale_find(self, uuid):
        """The snapshot ``uuid`` taken by this user (sudo). Raises
        lib.snapshot.SnapshotError: no rights, unknown (or another user's),
        expired."""
        self._sscale_check_rights()
        snapshot = self.sudo().search(
            [("uuid", "=", uuid), ("user_id", "=", self.env.uid)], limit=1
        )
        if not snapshot:
            raise snaplib.SnapshotError("unknown_snapshot", _("no snapshot %s of yours", uuid))
        if snapshot.expires_at <= fields.Datetime.now():
            raise snaplib.SnapshotError(
                "snapshot_expired",
                _("snapshot %(uuid)s expired at %(at)s UTC", uuid=uuid, at=snapshot.expires_at),
            )
        return snapshot

    def _sscale_header(self):
        """What each page of this snapshot says about it (lib/snapshot.py)."""
        self.ensure_one()
        return snaplib.header(
            self.uuid, self.taken_at, self.company_id.id, self.warehouse_id.id, self.total
        )

    def _sscale_page(self, after=None, limit=snaplib.DEFAULT_LIMIT):
        """``(levels, next cursor)`` of the page after ``after``."""
        self.ensure_one()
        return snaplib.read_page(self.env.cr, self.id, after, limit)

    def _sscale_pages(self, limit=snaplib.DEFAULT_LIMIT):
        """Every page of this snapshot, in key order (lists of levels)."""
        after = None
        while True:
            found, cursor = self._sscale_page(after, limit)
            if found:
                yield found
            if cursor is None:
                return
            after = found[-1]["warehouse_id"], found[-1]["product_id"]

    @api.model
    def _gc_expired(self):
        """Delete the snapshots that expired, and their lines (cron, and
        before each new snapshot)."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM stock_level_snapshot WHERE expires_at <= %s RETURNING id",
                fields.Datetime.now(),
            )
        )
        deleted = len(self.env.cr.fetchall())
        if deleted:
            _logger.info("stock_event_bus: %d expired level snapshot(s) deleted", deleted)
            self.invalidate_model()
        return deleted

    @api.model
    def _gc_beyond_limit(self, user, keep):
        """Delete ``user``'s snapshots but the ``keep`` newest, and their
        lines (before each new snapshot: a user has at most
        ``snapshot_per_user`` live ones)."""
        self.env.cr.execute(
            SQL(
                """DELETE FROM stock_level_snapshot WHERE id IN (
                       SELECT id FROM stock_level_snapshot WHERE user_id = %s
                        ORDER BY id DESC OFFSET %s)
                   RETURNING id""",
                user.id,
                keep,
            )
        )
        deleted = len(self.env.cr.fetchall())
        if deleted:
            _logger.info(
                "stock_event_bus: %d level snapshot(s) of user %s deleted (over %d per user)",
                deleted,
                user.id,
                keep + 1,
            )
            self.invalidate_model()
        return deleted


class StockLevelSnapshotLine(models.Model):
    """One key's level in a snapshot, copied by the snapshot's one
    INSERT ... SELECT. Product, warehouse and company are plain integers
    (no foreign keys to check 100,000 times, and a product deleted later
    leaves the snapshot as it was)."""

    _name = "stock.level.snapshot.line"
    _description = "Stock Level Snapshot Line"
    _log_access = False
    _order = "snapshot_id, warehouse_id, product_id"

    snapshot_id = fields.Many2one(
        "stock.level.snapshot", required=True, readonly=True, ondelete="cascade"
    )
    product_id = fields.Integer(required=True, readonly=True)
    warehouse_id = fields.Integer(required=True, readonly=True)
    company_id = fields.Integer(required=True, readonly=True)
    sequence = fields.Integer(required=True, readonly=True)
    on_hand = fields.Float(readonly=True)
    reserved = fields.Float(readonly=True)
    default_code = fields.Char(readonly=True)
    barcode = fields.Char(readonly=True)
    uom = fields.Char(string="Unit of Measure", readonly=True)
    uom_rounding = fields.Float(string="Rounding Precision", readonly=True)

    def init(self):
        # The keyset pages' order, and what makes a key appear once.
        if not index_exists(self.env.cr, "stock_event_bus_snapshot_line_key"):
            create_unique_index(
                self.env.cr,
                "stock_event_bus_snapshot_line_key",
                self._table,
                ["snapshot_id", "warehouse_id", "product_id"],
            )
