# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementCategoryMonthReport(models.Model):
    """The movement facts by month, warehouse, product category and movement
    type, with the categories of the last refresh: location and product left
    empty. No menu: stock.movement.report reads it for questions by
    category, except while a product has changed category since the refresh."""

    _name = "stock.movement.category.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Category and Month"
    _auto = False
    _order = "date desc, id desc"
