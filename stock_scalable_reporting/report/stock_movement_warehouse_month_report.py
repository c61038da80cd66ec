# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementWarehouseMonthReport(models.Model):
    """The movement facts by month, warehouse and movement type: location,
    product and category left empty. No menu: stock.movement.report reads it
    for the questions it can answer, such as movements by warehouse."""

    _name = "stock.movement.warehouse.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Warehouse and Month"
    _auto = False
    _order = "date desc, id desc"
