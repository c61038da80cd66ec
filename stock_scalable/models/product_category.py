# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ProductCategory(models.Model):
    _inherit = "product.category"

    sscale_allow_negative_stock = fields.Boolean(
        string="Allow Negative Stock",
        help="Exception to the company's negative-stock policy: postings may take "
        "this stock below zero.",
    )
