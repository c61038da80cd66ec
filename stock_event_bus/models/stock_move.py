# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _action_done(self, cancel_backorder=False):
        """Every posting (transfers, inventory adjustments, scraps, returns)
        ends here: write its events in the same transaction (outbox)."""
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        lines = moves.move_line_ids.filtered(lambda ml: ml.state == "done")
        if lines:
            self.env["stock.event.outbox"].sudo()._record_move_lines(lines)
        return moves
