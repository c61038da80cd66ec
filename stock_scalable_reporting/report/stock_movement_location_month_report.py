# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementLocationMonthReport(models.Model):
    """The movement facts by month, location and product, without movement
    type (left empty). No menu: stock.movement.report reads it for the
    questions it can answer, such as months by location or product;
    Inventory at Date and past stock read its view for the months after
    the day."""

    _name = "stock.movement.location.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Location and Month"
    _auto = False
    _order = "date desc, id desc"
