# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementProductMonthReport(models.Model):
    """The movement facts by month, warehouse and product, without location
    and movement type (left empty). No menu: stock.movement.report reads it
    for the questions it can answer, such as months by warehouse; Inventory
    at Date reads its view for the months after the day."""

    _name = "stock.movement.product.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Product and Month"
    _auto = False
    _order = "date desc, id desc"
