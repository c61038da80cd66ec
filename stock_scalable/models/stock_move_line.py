# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..lib.quant_key import QuantKey


class StockMoveLine(models.Model):
    _inherit = "stock.move.line"

    def _sscale_posting_keys(self):
        """The quant keys that posting these lines takes from and gives to."""
        keys = []
        for line in self:
            if not line.product_id.is_storable:
                continue
            source = QuantKey.of(
                line.product_id, line.location_id, line.lot_id, line.package_id, line.owner_id
            )
            keys.append(source)
            if line.lot_id:
                # Odoo takes a lot from the untracked quant when the lot has none.
                keys.append(source._replace(lot_id=0))
            keys.append(
                QuantKey.of(
                    line.product_id,
                    line.location_dest_id,
                    line.lot_id,
                    line.result_package_id,
                    line.owner_id,
                )
            )
        return keys

    def _action_done(self):
        """Lock the quant rows of the posting, in the global key order,
        before Odoo moves any quantity; check the negative-stock guard when
        all lines are moved, still under those locks. (A key with no quant
        yet gets its row when Odoo creates it; a concurrent creation of the
        same key is caught by the key index and retried.)"""
        quants = self.env["stock.quant"].sudo()
        with (
            quants._sscale_lock_scope(),
            quants._sscale_lock_race(self.product_id.ids),
            quants._sscale_deferred_guard(),
        ):
            quants._sscale_lock_keys(self._sscale_posting_keys())
            return super()._action_done()
