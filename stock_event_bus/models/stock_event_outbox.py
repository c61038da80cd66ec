# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import collections
import json
import logging
import os
import uuid

import psycopg2

from odoo import _, api, fields, models, sql_db
from odoo.exceptions import UserError
from odoo.tools import SQL, config

from odoo.addons.stock_scalable.lib import movement_types
from odoo.addons.stock_scalable.locking import turnstile

from ..lib import config as bus_config
from ..lib import events

_logger = logging.getLogger(__name__)

PURGE_BATCH = 5000


class StockEventOutbox(models.Model):
    """One row per stock event, written in the posting's own transaction
    (transactional outbox); the dispatcher publishes it and marks it sent."""

    _name = "stock.event.outbox"
    _description = "Stock Event Outbox"
    _order = "id desc"
    _rec_name = "event_uuid"

    # Few indexes: every posting inserts here (the unique constraint indexes
    # event_uuid; the dispatcher and the admin screen use the partial indexes
    # of init()).
    event_uuid = fields.Char(string="Event ID", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    # LEVEL: absolute levels of the key, written by the dispatcher
    # (lib/levels.py), numbered apart from the movements.
    event_type = fields.Selection(
        [*movement_types.event_selection(), (events.LEVEL, "Level")],
        required=True,
        readonly=True,
    )
    quantity = fields.Float(readonly=True, digits="Product Unit of Measure")
    sequence = fields.Integer(
        readonly=True,
        help="Increases strictly per product and warehouse, in commit order (level events"
        " have their own numbers).",
    )
    payload = fields.Json(readonly=True)
    payload_text = fields.Text(string="Payload (JSON)", compute="_compute_payload_text")
    routing_key = fields.Char(compute="_compute_routing_key")
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True, index="btree_not_null")

    _sql_constraints = [
        ("event_uuid_uniq", "unique(event_uuid)", "An event ID must be unique."),
    ]

    def init(self):
        # The dispatcher claims pending events in id order.
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS stock_event_outbox_pending_idx"
            " ON stock_event_outbox (id) WHERE state = 'pending'"
        )
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS stock_event_outbox_failed_idx"
            " ON stock_event_outbox (id) WHERE state = 'failed'"
        )
        # Per-key order checks of the dispatcher.
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS stock_event_outbox_pending_key_idx"
            " ON stock_event_outbox (product_id, warehouse_id, sequence)"
            " WHERE state = 'pending'"
        )

    @api.depends("payload")
    def _compute_payload_text(self):
        for event in self:
            event.payload_text = json.dumps(event.payload, indent=2, sort_keys=True)

    @api.depends("company_id", "warehouse_id", "event_type")
    def _compute_routing_key(self):
        for event in self:
            event.routing_key = events.routing_key(
                event.company_id.id, event.warehouse_id.id, event.event_type or ""
            )

    @api.model
    def _get_bus_settings(self):
        """The event-bus settings of this server (odoo.conf, environment)."""
        return bus_config.resolve(config.misc.get(bus_config.SECTION, {}), os.environ)

    # ------------------------------------------------------------------
    # Writing events (posting side)
    # ------------------------------------------------------------------

    @api.model
    def _line_values(self, line):
        """The plain values of a done move line that an event carries."""
        product = line.product_id
        move = line.move_id
        return {
            "date": line.date,
            "company_id": line.company_id.id,
            "product_id": product.id,
            "default_code": product.default_code,
            "barcode": product.barcode,
            "quantity": line.quantity_product_uom,
            "uom": product.uom_id.name,
            "location_id": line.location_id.id,
            "location": line.location_id.complete_name,
            "location_dest_id": line.location_dest_id.id,
            "location_dest": line.location_dest_id.complete_name,
            "lot": line.lot_id.name,
            "package": line.package_id.name,
            "result_package": line.result_package_id.name,
            "move_id": move.id,
            "move_line_id": line.id,
            "picking": line.picking_id.name,
            "origin": move.origin or line.picking_id.origin,
        }

    @api.model
    def _record_move_lines(self, lines):
        """Write the events of done move lines: one per warehouse whose stock
        each line changed, numbered per (product, warehouse) in commit order,
        and wake the dispatchers after the commit. One statement numbers and
        writes them all (the counter rows stay locked until commit)."""
        planned = []
        for line in lines:
            src, dest = line.location_id, line.location_dest_id
            for warehouse_id, event_type, sign in movement_types.classify(
                movement_types.Place(src.usage, src.warehouse_id.id or 0, src.scrap_location),
                movement_types.Place(dest.usage, dest.warehouse_id.id or 0, dest.scrap_location),
            ):
                # The company of the warehouse's side of the line.
                company = (dest if sign > 0 else src).company_id.id
                planned.append((line, warehouse_id, event_type, sign, company))
        if not planned:
            return
        counts = collections.Counter((line.product_id.id, wh) for line, wh, *_rest in planned)
        rank = collections.Counter()
        rows = []
        for line, warehouse_id, event_type, sign, company in planned:
            values = self._line_values(line)
            values["company_id"] = company
            key = (line.product_id.id, warehouse_id)
            rank[key] += 1
            # sequence: the key's last number before this posting + rank,
            # filled in by the statement below.
            payload = events.build_payload(
                values,
                event_id=str(uuid.uuid4()),
                warehouse_id=warehouse_id,
                event_type=event_type,
                sign=sign,
                sequence=0,
            )
            rows.append(
                (
                    payload["event_id"],
                    company,
                    warehouse_id,
                    payload["product_id"],
                    event_type,
                    payload["quantity"],
                    rank[key],
                    json.dumps(payload),
                )
            )
        keys = sorted(counts)
        columns = list(zip(*rows, strict=True))
        try:
            self.env.cr.execute(
                SQL(
                    """
                    WITH seq AS (
                        INSERT INTO stock_event_sequence (product_id, warehouse_id, last_sequence)
                        SELECT k.product, k.warehouse, k.n
                          FROM unnest(%(kp)s::int[], %(kw)s::int[], %(kn)s::int[])
                                 AS k(product, warehouse, n)
                         ORDER BY k.product, k.warehouse
                        ON CONFLICT (product_id, warehouse_id)
                        DO UPDATE SET last_sequence = stock_event_sequence.last_sequence
                                                      + EXCLUDED.last_sequence
                        RETURNING product_id, warehouse_id, last_sequence
                    )
                    INSERT INTO stock_event_outbox
                        (event_uuid, company_id, warehouse_id, product_id, event_type, quantity,
                         sequence, payload, state, attempts, create_uid, write_uid,
                         create_date, write_date)
                    SELECT v.uuid, v.company, v.warehouse, v.product, v.type, v.qty,
                           seq.last_sequence - k.n + v.rank,
                           jsonb_set(v.payload, '{sequence}',
                                     to_jsonb(seq.last_sequence - k.n + v.rank)),
                           'pending', 0, %(uid)s, %(uid)s,
                           NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC'
                      FROM unnest(%(uuid)s::varchar[], %(company)s::int[], %(warehouse)s::int[],
                                  %(product)s::int[], %(type)s::varchar[], %(qty)s::float8[],
                                  %(rank)s::int[], %(payload)s::jsonb[])
                             WITH ORDINALITY
                             AS v(uuid, company, warehouse, product, type, qty, rank, payload, pos)
                      JOIN seq ON seq.product_id = v.product AND seq.warehouse_id = v.warehouse
                      JOIN unnest(%(kp)s::int[], %(kw)s::int[], %(kn)s::int[])
                             AS k(product, warehouse, n)
                        ON k.product = v.product AND k.warehouse = v.warehouse
                     ORDER BY v.pos
                    """,
                    kp=[k[0] for k in keys],
                    kw=[k[1] for k in keys],
                    kn=[counts[k] for k in keys],
                    uid=self.env.uid,
                    uuid=list(columns[0]),
                    company=list(columns[1]),
                    warehouse=list(columns[2]),
                    product=list(columns[3]),
                    type=list(columns[4]),
                    qty=list(columns[5]),
                    rank=list(columns[6]),
                    payload=list(columns[7]),
                ),
                log_exceptions=False,
            )
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
            turnstile.mark(self.env.cr, {product for product, _wh in keys})
            raise
        self._notify_dispatchers_after_commit()

    @api.model
    def _notify_dispatchers_after_commit(self):
        """Wake the dispatchers once this transaction has committed, like Odoo's
        own bus (a NOTIFY inside the posting's transaction would make every
        notifying commit wait for the others: PostgreSQL serializes them on a
        database lock).
        If the process dies between the commit and this, the dispatchers'
        polling finds the events anyway."""
        cr = self.env.cr
        if cr.postcommit.data.get("stock_event_bus.notify"):
            return
        cr.postcommit.data["stock_event_bus.notify"] = True
        dbname = cr.dbname

        def notify():
            if isinstance(cr, sql_db.Cursor) and not cr.closed:
                # Right after COMMIT the connection is idle: a tiny transaction
                # of its own on it (no new connection from the pool).
                try:
                    cr._obj.execute("SELECT pg_notify(%s, '')", [events.NOTIFY_CHANNEL])
                    cr._cnx.commit()
                    return
                except psycopg2.Error:
                    cr._cnx.rollback()
            with sql_db.db_connect(dbname).cursor() as notify_cr:
                notify_cr.execute(SQL("SELECT pg_notify(%s, '')", events.NOTIFY_CHANNEL))

        cr.postcommit.add(notify)

    # ------------------------------------------------------------------
    # Administration
    # ------------------------------------------------------------------

    def _requeue(self):
        """Back to pending (same event ID: consumers deduplicate), and wake
        the dispatchers."""
        if not self:
            return
        # Stock managers may replay what they can read, without being able
        # to write the events themselves (payloads stay as posted).
        if not (self.env.su or self.env.user.has_group("stock.group_stock_manager")):
            raise UserError(_("Only inventory administrators can publish events again."))
        self.check_access("read")
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                """
                UPDATE stock_event_outbox
                   SET state = 'pending', last_error = NULL,
                       write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC'
                 WHERE id IN %s
                """,
                self.env.uid,
                tuple(self.ids),
            )
        )
        self._notify_dispatchers_after_commit()
        self.invalidate_recordset(["state", "last_error"])

    def action_replay(self):
        """Publish the selected events again, with the same event IDs."""
        self._requeue()
        return self._notify(_("%s event(s) queued for publishing again.", len(self)))

    def action_retry_failed(self):
        """Retry the failed events among the selected ones (all failed events
        of the user's companies when called without a selection)."""
        failed = (self or self.search([])).filtered(lambda e: e.state == "failed")
        if not failed:
            raise UserError(_("There is no failed event to retry."))
        failed._requeue()
        return self._notify(_("%s failed event(s) queued for publishing again.", len(failed)))

    @api.model
    def _notify(self, message, kind="success"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": False},
        }

    @api.model
    def _cron_purge_sent(self, batch_size=PURGE_BATCH):
        """Delete one batch of sent events older than retention_days (rows
        being dispatched are skipped, so nothing waits on them). The cron
        runner commits after each batch and calls again while the progress
        says more remain (Odoo's batched crons)."""
        settings = self._get_bus_settings()
        self.flush_model(["state", "sent_at"])
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM stock_event_outbox
                 WHERE id IN (SELECT id FROM stock_event_outbox
                               WHERE state = 'sent'
                                 AND sent_at < (NOW() AT TIME ZONE 'UTC')
                                               - make_interval(days => %s)
                               ORDER BY id LIMIT %s
                               FOR UPDATE SKIP LOCKED)
                """,
                settings.retention_days,
                batch_size,
            )
        )
        deleted = self.env.cr.rowcount
        self.invalidate_model()
        # Processes not heard from for a week are history, whatever their
        # last state (one killed or crashed never wrote "stopped").
        self.env.cr.execute(
            "DELETE FROM stock_event_dispatcher"
            " WHERE last_seen < (NOW() AT TIME ZONE 'UTC') - INTERVAL '7 days'"
        )
        _logger.info(
            "stock_event_bus: purged %s sent events older than %s days",
            deleted,
            settings.retention_days,
        )
        self.env["ir.cron"]._notify_progress(
            done=deleted, remaining=1 if deleted == batch_size else 0
        )
        return deleted
