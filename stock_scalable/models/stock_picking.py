# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def button_validate(self):
        """Take the posting's quant locks first: a conflicting validation
        then fails (and is retried) before any work is done."""
        quants = self.env["stock.quant"].sudo()
        with quants._sscale_lock_scope(), quants._sscale_lock_race(self.move_ids.product_id.ids):
            quants._sscale_lock_keys(self.move_ids.move_line_ids._sscale_posting_keys())
            return super().button_validate()
