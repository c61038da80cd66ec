# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from ..matviews import movement

MONTH_MEASURES = {"qty_in:sum", "qty_out:sum", "qty_net:sum", "move_count:sum", "__count"}


class StockMovementReport(models.Model):
    """Daily movement facts: day × company × warehouse × internal location ×
    product × movement type. The materialized view holds everything up to
    its last refresh; the journal adds what committed since (exact).
    Questions that only need months (groupings by month, quarter or year,
    date filters on month boundaries, sums) are answered from the monthly
    facts, a fraction of the rows."""

    _name = "stock.movement.report"
    _inherit = "stock.movement.report.mixin"
    _description = "Stock Movements Analysis"
    _auto = False
    _order = "date desc, id desc"

    _sscale_month_measures = MONTH_MEASURES

    @api.model
    def _sscale_report_views(self):
        return {
            model: (view, grain, dimensions)
            for model, (view, grain, dimensions, _stored) in movement.REPORT_VIEWS.items()
        }

    @api.model
    def _sscale_rollup_usable(self, model):
        # The category rollup keeps the categories of its refresh.
        if model == "stock.movement.category.month.report":
            self.env.cr.execute(movement.CATEGORY_ROLLUP_STALE)
            return not self.env.cr.fetchone()[0]
        return True
