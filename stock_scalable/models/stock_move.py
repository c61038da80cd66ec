# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_assign(self, force_qty=False):
        """Lock the reservation candidates of all the moves at once, in the
        global key order, so that two reservations of the same products in
        opposite orders wait for each other instead of deadlocking."""
        moves = self.filtered(
            lambda m: m.state in ("confirmed", "waiting", "partially_available")
            and m.product_id.is_storable
            and not m.location_id.should_bypass_reservation()
        )
        quants = self.env["stock.quant"].sudo()
        with quants._sscale_lock_scope(), quants._sscale_lock_race(moves.product_id.ids):
            if moves:
                quants._sscale_lock_reservation_candidates(moves)
            return super()._action_assign(force_qty=force_qty)
