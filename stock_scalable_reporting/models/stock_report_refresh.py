# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..tools import matview


class StockReportRefresh(models.Model):
    """Audit log of materialized-view refreshes: when, how long, by whom."""

    _name = "stock.report.refresh"
    _description = "Stock Report Refresh"
    _order = "id desc"
    _rec_name = "view_name"

    view_name = fields.Char(required=True, readonly=True, index=True)
    started_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    duration = fields.Float(readonly=True, help="Seconds spent refreshing.")
    state = fields.Selection(
        [("done", "Done"), ("skipped", "Skipped: another refresh was running")],
        required=True,
        readonly=True,
    )

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
