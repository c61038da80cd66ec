# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockValuationCategoryMonthReport(models.Model):
    """The valuation facts by month, warehouse and product category (product
    left empty). No menu: stock.valuation.report reads it for questions by
    category or warehouse."""

    _name = "stock.valuation.category.month.report"
    _inherit = ["stock.valuation.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Valuation by Category and Month"
    _auto = False
    _order = "date desc, id desc"
