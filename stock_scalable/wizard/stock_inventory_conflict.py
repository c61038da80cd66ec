# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockInventoryConflict(models.TransientModel):
    _inherit = "stock.inventory.conflict"

    def action_keep_counted_quantity(self):
        """Keep the counted quantities: on hand becomes what was counted,
        whatever was posted since the count.

        Odoo sets each quant's difference to counted minus on hand, then
        applies; but ``is_outdated`` (not stored) reads the difference
        without depending on it. In a transaction that has read the flag
        already (the one that opened the wizard: a script, an integration,
        a test), the quants stay outdated, Odoo returns the wizard again and
        applies nothing. The flag is dropped from the cache here, so that
        Odoo's apply computes it from the new difference."""
        self.quant_ids.invalidate_recordset(["is_outdated"])
        return super().action_keep_counted_quantity()
