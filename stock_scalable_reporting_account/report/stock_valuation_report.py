# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from ..matviews import valuation

MONTH_MEASURES = {
    "quantity:sum",
    "value:sum",
    "remaining_qty:sum",
    "remaining_value:sum",
    "layer_count:sum",
    "__count",
}


class StockValuationReport(models.Model):
    """Daily valuation facts: day × company × warehouse × product category
    × product, the sums of Odoo's stock valuation layers (quantity, value,
    remaining quantity and value, number of layers). The materialized view
    holds everything up to its last refresh; the journal adds what
    committed since (exact). Questions that only need months are answered
    from the smallest monthly rollup that keeps their fields."""

    _name = "stock.valuation.report"
    _inherit = "stock.valuation.report.mixin"
    _description = "Stock Valuation Analysis"
    _auto = False
    _order = "date desc, id desc"

    _sscale_month_measures = MONTH_MEASURES

    @api.model
    def _sscale_report_views(self):
        return valuation.REPORT_VIEWS
