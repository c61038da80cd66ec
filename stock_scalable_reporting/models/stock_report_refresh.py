# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import time

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools import ledger, matview

_logger = logging.getLogger(__name__)

# The one refresh lock of the reports (all their views in one transaction).
REFRESH_LOCK = "sscale_rpt_reports"
# What each materialized view holds, for the Report Refreshes screen (a
# selection, so that Odoo translates the labels).
VIEW_LABELS = [
    (ledger.MOVEMENT_MV, "Daily movements by location"),
    (ledger.MOVEMENT_MONTH_MV, "Monthly movements by location and type"),
    (ledger.PRODUCT_MONTH_MV, "Monthly movements by product and warehouse"),
    (ledger.COMPANY_PRODUCT_MONTH_MV, "Monthly movements by product"),
    (ledger.LAST_MOVE_MV, "Last movement per location, product and lot"),
    (REFRESH_LOCK, "All stock reports"),
]


class StockReportRefresh(models.Model):
    """Audit log of materialized-view refreshes: when, how long, by whom."""

    _name = "stock.report.refresh"
    _description = "Stock Report Refresh"
    _order = "id desc"
    _rec_name = "view_name"

    view_name = fields.Char(
        string="View", required=True, readonly=True, index=True, help="PostgreSQL view name"
    )
    summary = fields.Selection(VIEW_LABELS, string="Report Data", compute="_compute_summary")
    started_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    duration = fields.Float(
        string="Duration (s)", readonly=True, digits=(16, 2), help="Seconds spent refreshing."
    )
    state = fields.Selection(
        [("done", "Done"), ("skipped", "Skipped: another refresh was running")],
        required=True,
        readonly=True,
    )

    @api.depends("view_name")
    def _compute_summary(self):
        known = dict(VIEW_LABELS)
        for log in self:
            log.summary = log.view_name if log.view_name in known else False

    def init(self):
        # This model is registered (so initialized) before the report models,
        # whose views read what this creates.
        self._ensure_report_views()

    @api.model
    def _refresh_view(self, view_name):
        """Refresh one of this addon's materialized views and log it.

        Runs in the caller's transaction, which must be a cron's or a worker's,
        never a user's request.
        """
        # The view reads the tables in SQL: pending ORM writes must be there.
        self.env.flush_all()
        started = fields.Datetime.now()
        duration = matview.refresh(self.env.cr, view_name)
        return self.sudo().create(
            {
                "view_name": view_name,
                "started_at": started,
                "duration": duration or 0.0,
                "state": "skipped" if duration is None else "done",
            }
        )

    # ------------------------------------------------------------------
    # The reports' views
    # ------------------------------------------------------------------

    @api.model
    def _ensure_report_views(self):
        """Create what the reports need when it is missing or out of date:
        the journal and its trigger, the materialized views (built at once,
        with progress in the log). Called by init() at install and upgrade, so
        an upgrade rebuilds views that a column change dropped (PostgreSQL
        drops dependent views with CASCADE) and views whose definition this
        version changed (each view's comment holds a tag of its definition)."""
        cr = self.env.cr
        cr.execute(ledger.CREATE_JOURNAL)
        rebuilt = False
        # In order: rebuilding a view drops the rollups read from it, which
        # are then missing and rebuilt too.
        for name, (query, unique, indexes) in ledger.MATERIALIZED_VIEWS.items():
            if matview.stored_tag(cr, name) != matview.definition_tag(query, unique, indexes):
                matview.create(cr, name, query, unique, indexes)
                rebuilt = True
        if not rebuilt:
            return
        cr.execute("SELECT COUNT(*) FROM stock_move_line WHERE state = 'done'")
        lines = cr.fetchone()[0]
        # All of them, so that they share the stored snapshot.
        self._refresh_reports(log_progress=lines)

    @api.model
    def _refresh_reports(self, log_progress=None):
        """Refresh the reports' materialized views in this transaction, all
        under one snapshot that is stored for the reports' read-time delta.
        Returns the log rows, or a 'skipped' row when a refresh is running."""
        cr = self.env.cr
        self.env.flush_all()
        if not matview.try_lock(cr, REFRESH_LOCK):
            return self.sudo().create(
                {"view_name": REFRESH_LOCK, "duration": 0.0, "state": "skipped"}
            )
        views = list(ledger.MATERIALIZED_VIEWS)
        # Under REPEATABLE READ this is the snapshot the refreshes read with.
        cr.execute("SELECT pg_current_snapshot()")
        snapshot = cr.fetchone()[0]
        logs = self.browse()
        total = 0.0
        for name in views:
            # A view created by this install or upgrade is built; the others
            # (an upgrade that added a view) are refreshed with it.
            built = log_progress is not None and not matview.is_populated(cr, name)
            if log_progress is not None:
                _logger.info(
                    "stock_scalable_reporting: %s %s from %s done move lines ...",
                    "building" if built else "refreshing",
                    name,
                    f"{log_progress:,}",
                )
            started = fields.Datetime.now()
            duration = matview.refresh(cr, name, lock=False, analyze=True)
            total += duration
            if log_progress is not None:
                _logger.info(
                    "stock_scalable_reporting: %s %s in %.1f s",
                    name,
                    "built" if built else "refreshed",
                    duration,
                )
            logs |= self.sudo().create(
                {"view_name": name, "started_at": started, "duration": duration, "state": "done"}
            )
        cr.execute(
            SQL(
                """
                UPDATE sscale_rpt_state
                   SET snapshot = %s::pg_snapshot, refresh_xid = pg_current_xact_id(),
                       refreshed_at = NOW() AT TIME ZONE 'UTC', duration = %s
                 WHERE id = 1
                """,
                snapshot,
                total,
            )
        )
        # Journal rows the views now hold (committed before the snapshot).
        cr.execute(
            SQL(
                """
                DELETE FROM sscale_rpt_journal
                 WHERE (xid < pg_snapshot_xmax(%(snap)s::pg_snapshot)
                        AND pg_visible_in_snapshot(xid, %(snap)s::pg_snapshot))
                    OR xid = pg_current_xact_id()
                """,
                snap=snapshot,
            )
        )
        return logs

    @api.model
    def _cron_refresh_reports(self):
        started = time.monotonic()
        logs = self._refresh_reports()
        _logger.info(
            "stock_scalable_reporting: reports refreshed (%s) in %.1f s",
            ", ".join(f"{log.view_name}: {log.state}" for log in logs),
            time.monotonic() - started,
        )

    def action_refresh_now(self):
        """Queue a refresh for the cron worker; never refresh in a request."""
        cron = self.env.ref("stock_scalable_reporting.ir_cron_refresh_reports").sudo()
        cron._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": _(
                    "A refresh of the stock reports is queued; it runs in the background."
                ),
                "type": "info",
                "sticky": False,
            },
        }

    @api.model
    def _action_open_report(self, xmlid):
        """The report's window action. Its title is the report's name alone:
        the reports are exact at read time (the views plus what was posted
        since their refresh), so how fresh the views are is an admin's
        concern (Report Refreshes), not the reader's."""
        return self.env["ir.actions.act_window"]._for_xml_id(xmlid)
