# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockLocation(models.Model):
    _name = "stock.location"
    _inherit = ["stock.location", "sscale.negative.stock.exception"]
