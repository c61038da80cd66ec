# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..tools import locks


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def button_validate(self):
        """Validate once, whoever else validates the same transfers.

        The transfers' rows are locked first, in id order (lock protocol,
        invariant 1: docs/architecture.md): a second validation of the same transfer (a
        double click, two tabs, a retried scan) waits for the first; when the
        first commits, the second fails with a serialization failure, Odoo
        replays it, and the replay finds the transfer done and says so. Then
        the posting's quant locks are taken before any work is done."""
        if self.ids:
            locks.lock_pickings(self.env.cr, self.ids, self.move_ids.product_id.ids)
            done = self.filtered(lambda picking: picking.state == "done")
            if done:
                raise UserError(
                    _(
                        "%(transfers)s already validated (done on %(date)s): nothing was posted"
                        " again.",
                        transfers=", ".join(done.mapped("name")),
                        date=", ".join(
                            format_datetime(self.env, d) for d in done.mapped("date_done") if d
                        ),
                    )
                )
        quants = self.env["stock.quant"].sudo()
        with quants._sscale_lock_scope(), quants._sscale_lock_race(self.move_ids.product_id.ids):
            quants._sscale_lock_keys(self.move_ids.move_line_ids._sscale_posting_keys())
            return super().button_validate()
