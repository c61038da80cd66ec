# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockValuationMonthReport(models.Model):
    """The valuation facts by month (no menu: stock.valuation.report reads
    it for questions that only need months)."""

    _name = "stock.valuation.month.report"
    _inherit = ["stock.valuation.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Valuation by Month"
    _auto = False
    _order = "date desc, id desc"
