# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMovementRollupMixin(models.AbstractModel):
    """Movement facts rolled up by month."""

    _name = "stock.movement.rollup.mixin"
    _inherit = ["stock.movement.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Movement Facts by Month"
