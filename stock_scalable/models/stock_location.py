# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockLocation(models.Model):
    _inherit = "stock.location"

    sscale_allow_negative_stock = fields.Boolean(
        string="Allow Negative Stock",
        help="Exception to the company's negative-stock policy: postings may take "
        "this stock below zero.",
    )
