# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementMonthReport(models.Model):
    """The movement facts by month (no menu: stock.movement.report reads it
    for questions that only need months)."""

    _name = "stock.movement.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Month"
    _auto = False
    _order = "date desc, id desc"
