# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import models

from ..locking import locks

_logger = logging.getLogger(__name__)


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def button_validate(self):
        """Validate once, whoever else validates the same transfers.

        The transfers' rows are locked first, in id order (lock protocol,
        invariant 1: docs/architecture.md): a second validation of the same
        transfer (a double click, two tabs, a retried scan) waits for the
        first; when the first commits, the second fails with a serialization
        failure, Odoo replays it, and the replay finds the transfer done and
        passes over it, as Odoo passes over a done transfer. Then the
        posting's quant locks are taken before any work is done."""
        todo = self
        if self.ids:
            locks.lock_pickings(self.env.cr, self.ids, self.move_ids.product_id.ids)
            todo = self.filtered(lambda picking: picking.state != "done")
            if todo != self:
                _logger.info(
                    "%s already validated: nothing posted again",
                    ", ".join((self - todo).mapped("name")),
                )
        quants = self.env["stock.quant"].sudo()
        with quants._sscale_lock_scope(), quants._sscale_lock_race(todo.move_ids.product_id.ids):
            quants._sscale_lock_keys(todo.move_ids.move_line_ids._sscale_posting_keys())
            # Only what is not done yet (Odoo 18.0 of 2026 filters the same way).
            return super(StockPicking, todo).button_validate()
