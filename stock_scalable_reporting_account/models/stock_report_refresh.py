# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..matviews import valuation


class StockReportRefresh(models.Model):
    _inherit = "stock.report.refresh"

    summary = fields.Selection(
        selection_add=[(name, view.label) for name, view in valuation.MATERIALIZED_VIEWS.items()]
    )

    @api.model
    def _ensure_report_views(self):
        # The valuation journal first: the views' refresh reads it.
        self.env.cr.execute(valuation.CREATE_JOURNAL)
        return super()._ensure_report_views()

    @api.model
    def _sscale_materialized_views(self):
        return {**super()._sscale_materialized_views(), **valuation.MATERIALIZED_VIEWS}

    @api.model
    def _sscale_view_sources(self):
        self.env.cr.execute("SELECT COUNT(*) FROM stock_valuation_layer")
        layers = f"{self.env.cr.fetchone()[0]:,} valuation layers"
        return {
            **super()._sscale_view_sources(),
            **dict.fromkeys(valuation.MATERIALIZED_VIEWS, layers),
        }

    @api.model
    def _sscale_journals(self):
        return super()._sscale_journals() + [valuation.JOURNAL]
