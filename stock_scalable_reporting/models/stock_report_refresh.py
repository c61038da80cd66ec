# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import datetime
import logging
import time

import psycopg2
import pytz

from odoo import _, api, fields, models
from odoo.tools import SQL, config
from odoo.tools.misc import get_lang

from .. import matviews
from ..lib import replica
from ..matviews import journal, matview

_logger = logging.getLogger(__name__)

# The one refresh lock of the reports (all their views in one transaction).
REFRESH_LOCK = "sscale_rpt_reports"
# What each materialized view holds (its definition's label), for the
# Report Refreshes screen (a selection, so that Odoo translates the labels).
VIEW_LABELS = [
    *((name, view.label) for name, view in matviews.MATERIALIZED_VIEWS.items()),
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
        # With the labels that bridge addons add (selection_add).
        known = {key for key, _label in self._fields["summary"].selection}
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
        cr.execute(journal.CREATE_JOURNAL)
        rebuilt = False
        # In order: rebuilding a view drops the rollups read from it, which
        # are then missing and rebuilt too.
        for name, view in self._sscale_materialized_views().items():
            tag = matview.definition_tag(view.query, view.unique, view.indexes)
            if matview.stored_tag(cr, name) != tag:
                matview.create(cr, name, view.query, view.unique, view.indexes)
                rebuilt = True
        if not rebuilt:
            return
        # All of them, so that they share the stored snapshot.
        self._refresh_reports(log_progress=self._sscale_view_sources())

    @api.model
    def _sscale_view_sources(self):
        """{view: what it is built from, counted (e.g. "1,000,000 done move
        lines")}, for the progress lines of an install or upgrade."""
        self.env.cr.execute("SELECT COUNT(*) FROM stock_move_line WHERE state = 'done'")
        lines = f"{self.env.cr.fetchone()[0]:,} done move lines"
        return dict.fromkeys(matviews.MATERIALIZED_VIEWS, lines)

    @api.model
    def _sscale_materialized_views(self):
        """{view: its ``matview.Definition``} of every report view, in
        refresh order (a rollup after the view it reads). Bridge addons add
        theirs (stock_scalable_reporting_account: valuation)."""
        return dict(matviews.MATERIALIZED_VIEWS)

    @api.model
    def _sscale_journals(self):
        """The journal tables (an ``xid`` column each) whose rows the views
        hold after a refresh: emptied of them by the refresh."""
        return [journal.JOURNAL, journal.CATEGORY_CHANGES, journal.PICKING_TYPE_CHANGES]

    @api.model
    def _refresh_reports(self, log_progress=None):
        """Refresh the reports' materialized views in this transaction, all
        under one snapshot that is stored for the reports' read-time delta.
        Returns the log rows, or a 'skipped' row when a refresh is running.
        ``log_progress``: {view: its source, counted} to log each view's
        build (an install or upgrade), or None."""
        cr = self.env.cr
        self.env.flush_all()
        if not matview.try_lock(cr, REFRESH_LOCK):
            return self.sudo().create(
                {"view_name": REFRESH_LOCK, "duration": 0.0, "state": "skipped"}
            )
        views = list(self._sscale_materialized_views())
        # Views of a bridge addon that this registry does not have loaded yet
        # (an upgrade initializes one module at a time): refreshed too, in
        # the order they were created (a rollup after the view it reads),
        # so that every view holds what the stored snapshot says.
        views += [name for name in matview.existing_matviews(cr) if name not in views]
        # Under REPEATABLE READ this is the snapshot the refreshes read with.
        cr.execute("SELECT pg_current_snapshot()")
        snapshot = cr.fetchone()[0]
        logs = self.browse()
        total = 0.0
        for name in views:
            if not matview.exists(cr, name):
                # Code newer than the database: the upgrade builds it.
                _logger.warning(
                    "stock_scalable_reporting: %s is missing; upgrade the module"
                    " (odoo -u stock_scalable_reporting) to build it",
                    name,
                )
                continue
            # A view created by this install or upgrade is built; the others
            # (an upgrade that added a view) are refreshed with it.
            built = log_progress is not None and not matview.is_populated(cr, name)
            if log_progress is not None:
                _logger.info(
                    "stock_scalable_reporting: %s %s from %s ...",
                    "building" if built else "refreshing",
                    name,
                    log_progress.get(name, "?"),
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
        # Journal rows the views now hold (committed before the snapshot),
        # and category changes the category rollup now has.
        for table in self._sscale_journals():
            if not matview.table_exists(cr, table):
                # Code newer than the database: the upgrade creates it.
                continue
            cr.execute(
                SQL(
                    """
                    DELETE FROM %(journal)s
                     WHERE (xid < pg_snapshot_xmax(%(snap)s::pg_snapshot)
                            AND pg_visible_in_snapshot(xid, %(snap)s::pg_snapshot))
                        OR xid = pg_current_xact_id()
                    """,
                    journal=SQL.identifier(table),
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
        concern (Report Refreshes), not the reader's. With one exception:
        when Odoo reads reports from a replica (``db_replica_host``) that
        lags by more than a second, the title says as of when the figures
        are exact ("Stock Movements (as of 10:42:07)")."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        title = self._report_title(action["name"])
        if title != action["name"]:
            action.update({"name": title, "display_name": title})
        return action

    @api.model
    def _action_open_report_at_date(self, xmlid, title, domain, context):
        """The report's window action as a wizard opens it for a chosen day:
        ``title`` (with "(as of ...)" from a lagging replica, see
        ``_report_title``), ``domain`` and ``context``, in the main area."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        title = self._report_title(title)
        action.update(
            {
                "name": title,
                "display_name": title,
                "domain": domain,
                "context": context,
                "target": "main",
            }
        )
        return action

    @api.model
    def _report_title(self, title):
        """``title``, with "(as of <time>)" when the reports are read from a
        lagging replica (see lib/replica.py)."""
        as_of = self._replica_as_of()
        if as_of is None:
            return title
        tz = pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")
        local = as_of.astimezone(tz)
        lang = get_lang(self.env)
        label = replica.as_of_label(
            local.replace(tzinfo=None),
            datetime.datetime.now(tz).date(),
            lang.date_format,
            lang.time_format,
        )
        return _("%(report)s (as of %(time)s)", report=title, time=label)

    @api.model
    def _replica_as_of(self):
        """When the replica that serves reads is behind by more than a second:
        the (aware) time of its last replayed commit, which its figures are
        exact as of. None without a replica, when it keeps up, or when Odoo
        reads from the primary (no replica configured, or it fell back after
        failing to connect to it). Waits up to half a second for a replica
        that is just behind."""
        registry = self.env.registry
        if (
            config["db_replica_host"] is False
            or registry.test_cr is not None
            or registry._db_readonly is None
        ):
            return None
        cr = self.env.cr
        cr.execute(replica.PRIMARY_POSITION)
        in_recovery, position = cr.fetchone()
        if in_recovery:
            return None
        deadline = time.monotonic() + 0.5
        try:
            with contextlib.closing(registry.cursor(readonly=True)) as replica_cr:
                while True:
                    replica_cr.execute(replica.REPLICA_POSITION, [position])
                    on_standby, caught_up, replayed_at = replica_cr.fetchone()
                    if not on_standby or caught_up or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
        except psycopg2.Error as exc:
            _logger.warning("stock_scalable_reporting: cannot read the replica's lag: %s", exc)
            return None
        cr.execute("SELECT clock_timestamp()")
        now = cr.fetchone()[0]
        return replica.stale_as_of(
            on_standby, caught_up, replayed_at and replica.utc(replayed_at), replica.utc(now)
        )
