# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class SscaleNegativeStockException(models.AbstractModel):
    """The flag that makes a location, a product category or a product an
    exception to the company's negative-stock policy (lib/guard.py)."""

    _name = "sscale.negative.stock.exception"
    _description = "Negative Stock Exception"

    sscale_allow_negative_stock = fields.Boolean(
        string="Allow Negative Stock",
        help="Exception to the company's negative-stock policy: postings may take "
        "this stock below zero.",
    )
