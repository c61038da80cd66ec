# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..matviews import valuation


class StockValuationReportMixin(models.AbstractModel):
    _name = "stock.valuation.report.mixin"
    _inherit = "stock.report.view.mixin"
    _description = "Stock Valuation Facts"
    _auto = False
    _rec_name = "product_id"
    _depends = valuation.LAYER_FIELDS

    date = fields.Date(readonly=True, help="The day the layers were created (UTC).")
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    warehouse_id = fields.Many2one(
        "stock.warehouse",
        string="Receipt WH",
        readonly=True,
        help="As on the valuation layers: the warehouse of the move's source "
        "location when it is internal, else of its destination.",
    )
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    quantity = fields.Float(readonly=True, digits="Product Unit of Measure")
    value = fields.Monetary(string="Total Value", readonly=True)
    remaining_qty = fields.Float(
        string="Remaining Quantity", readonly=True, digits="Product Unit of Measure"
    )
    remaining_value = fields.Monetary(readonly=True)
    layer_count = fields.Integer(string="# Valuation Layers", readonly=True)

    def init(self):
        # Each valuation report model's view (valuation.REPORT_VIEWS); Odoo
        # calls init() on this abstract model too.
        if self._name in valuation.REPORT_VIEWS:
            self._create_report_view(valuation.report_query(self._name))
