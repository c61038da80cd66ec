# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

# A quant write of these changes some warehouse's levels.
LEVEL_FIELDS = frozenset(("quantity", "reserved_quantity", "location_id", "product_id"))


class StockQuant(models.Model):
    _inherit = "stock.quant"

    def _level_keys(self):
        """(product id, warehouse id) of the quants in a warehouse."""
        return {
            (quant.product_id.id, quant.location_id.warehouse_id.id)
            for quant in self.sudo()
            if quant.location_id.warehouse_id
        }

    def _note_level_change(self):
        self.env["stock.level.change"].sudo()._note_keys(self._level_keys())

    @api.model_create_multi
    def create(self, vals_list):
        quants = super().create(vals_list)
        quants._note_level_change()
        return quants

    @api.model
    def _sscale_create_quant(self, vals):
        # stock_scalable creates a key's first quant with Odoo's create
        # (its super(), past this module's create).
        quant = super()._sscale_create_quant(vals)
        quant._note_level_change()
        return quant

    @api.model
    def _sscale_create_quants(self, vals_list):
        # A posting's new keys, created at once (stock_scalable's set-based
        # step, past this module's create).
        quants = super()._sscale_create_quants(vals_list)
        quants._note_level_change()
        return quants

    @api.model
    def _sscale_write_quant_values(self, values):
        # A posting's quant changes, written at once (stock_scalable's
        # set-based step, past this module's write).
        self.browse(list(values))._note_level_change()
        return super()._sscale_write_quant_values(values)

    def write(self, vals):
        if not LEVEL_FIELDS.intersection(vals):
            return super().write(vals)
        self._note_level_change()
        result = super().write(vals)
        if "location_id" in vals or "product_id" in vals:
            self._note_level_change()
        return result

    def unlink(self):
        self._note_level_change()
        return super().unlink()
