# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockReportLocationMixin(models.AbstractModel):
    """The fields of a report by company, warehouse, internal location and
    product (Stock Movements, Stock Levels, Inventory at Date)."""

    _name = "stock.report.location.mixin"
    _description = "Stock Report by Location and Product"

    company_id = fields.Many2one("res.company", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    location_id = fields.Many2one("stock.location", string="Location", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
