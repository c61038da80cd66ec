# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

PENDING_KEYS = "stock_event_bus.level_keys"


class StockLevelChange(models.Model):
    """A marker: this (product, warehouse) changed in a committed
    transaction. One row per key per transaction, appended with a plain
    INSERT just before the commit (no unique index, no counter: nothing for
    two transactions to wait on); the dispatcher deletes it when it writes
    the key's LEVEL event (lib/levels.py)."""

    _name = "stock.level.change"
    _description = "Stock Level Change"
    _log_access = False

    # Plain integers, no foreign keys: the insert takes no lock on the
    # product or warehouse rows.
    product_id = fields.Integer(required=True, readonly=True)
    warehouse_id = fields.Integer(required=True, readonly=True)

    @api.model
    def _note_keys(self, keys):
        """Remember (product id, warehouse id) keys whose on-hand or reserved
        quantity this transaction changes; they are written once, before the
        commit (cr.precommit), however many quants and lines changed."""
        if not keys:
            return
        cr = self.env.cr
        pending = cr.precommit.data.get(PENDING_KEYS)
        if pending is None:
            # Once per transaction: level_events = False marks nothing.
            if not self._level_events_enabled():
                cr.precommit.data[PENDING_KEYS] = False
                return
            pending = cr.precommit.data[PENDING_KEYS] = set()
            cr.precommit.add(self._flush_keys)
        if pending is not False:
            pending.update(keys)

    @api.model
    def _level_events_enabled(self):
        """The level_events setting. A bad [stock_event_bus] option never
        stops a stock operation (the dispatcher refuses to start with it):
        levels stay on."""
        try:
            return self.env["stock.event.outbox"]._get_bus_settings().level_events
        except ValueError as exc:
            _logger.warning("stock_event_bus: %s; level events stay on", exc)
            return True

    @api.model
    def _flush_keys(self):
        """Write the transaction's markers (a precommit callback; also called
        by tests). Taken out of the precommit data first: keys noted after
        this (another precommit callback) get a flush of their own."""
        keys = self.env.cr.precommit.data.pop(PENDING_KEYS, None)
        if not keys:
            return
        keys = sorted(keys)
        self.env.cr.execute(
            SQL(
                "INSERT INTO stock_level_change (product_id, warehouse_id)"
                " SELECT * FROM unnest(%s::int[], %s::int[])",
                [k[0] for k in keys],
                [k[1] for k in keys],
            )
        )
        self.env["stock.event.outbox"]._notify_dispatchers_after_commit()


class StockLevelSequence(models.Model):
    """The last level-event sequence of each (product, warehouse), with the
    fields of the movements' sequence. Only the dispatchers write it
    (lib/levels.py), each key's row locked while its levels are read:
    postings and reservations never touch it."""

    _name = "stock.level.sequence"
    _inherit = "stock.event.sequence"
    _description = "Stock Level Sequence"
    _log_access = False
