# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from odoo.addons.stock_scalable.lib import movement_types

from ..matviews import movement
from ..matviews.journal import LEDGER_FIELDS


class StockMovementReportMixin(models.AbstractModel):
    _name = "stock.movement.report.mixin"
    _inherit = ["stock.report.view.mixin", "stock.report.location.mixin"]
    _description = "Stock Movement Facts"
    _auto = False
    _rec_name = "product_id"
    _depends = LEDGER_FIELDS

    date = fields.Date(readonly=True)
    # stock_scalable's one table of movement types, which the SQL's CASE
    # (matviews/movement.py) and the events read too.
    movement_type = fields.Selection(movement_types.report_selection(), readonly=True)
    qty_in = fields.Float(string="Quantity In", readonly=True, digits="Product Unit of Measure")
    qty_out = fields.Float(string="Quantity Out", readonly=True, digits="Product Unit of Measure")
    qty_net = fields.Float(string="Net Quantity", readonly=True, digits="Product Unit of Measure")
    move_count = fields.Integer(string="# Move Lines", readonly=True)

    def init(self):
        # Each movement report model's view (movement.REPORT_VIEWS); Odoo
        # calls init() on this abstract model too.
        if self._name in movement.REPORT_VIEWS:
            self._create_report_view(movement.report_query(self._name))
