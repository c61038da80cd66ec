# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.tools import float_is_zero

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
        yet gets its row when Odoo creates it, claimed with ``INSERT ... ON
        CONFLICT DO NOTHING`` (lock protocol, invariant 3): a concurrent
        creator of the same key waits, then fails with a serialization
        failure and Odoo replays it; no unique violation is raised.)"""
        quants = self.env["stock.quant"].sudo()
        with (
            quants._sscale_lock_scope(),
            quants._sscale_lock_race(self.product_id.ids),
            quants._sscale_deferred_guard(),
        ):
            quants._sscale_lock_keys(self._sscale_posting_keys())
            return super()._action_done()

    def _synchronize_quant(
        self, quantity, location, action="available", in_date=False, **quants_value
    ):
        """Odoo's, with the zero test in the right unit.

        ``quantity`` is in the product's unit (Odoo's docstring says so), but
        Odoo tests it against the rounding of the *line's* unit: 300 g of a
        product kept in kg, with the gram rounded to 1, is 0.3 kg, which Odoo
        takes for zero, so the done line moves nothing and the quant keeps its
        1 kg. Such a quantity is passed to Odoo's method through a line in the
        product's unit (a new record in memory, nothing is written), so Odoo
        moves it the same way it moves any other quantity."""
        line = self
        if (
            len(self) == 1
            and self.product_id.is_storable
            and self.product_uom_id != self.product_id.uom_id
            and float_is_zero(quantity, precision_rounding=self.product_uom_id.rounding)
            and not float_is_zero(quantity, precision_rounding=self.product_id.uom_id.rounding)
        ):
            quants_value.setdefault("lot", self.lot_id)
            quants_value.setdefault("package", self.package_id)
            quants_value.setdefault("owner", self.owner_id)
            line = self.new({"product_uom_id": self.product_id.uom_id.id}, origin=self)
        return super(StockMoveLine, line)._synchronize_quant(
            quantity, location, action=action, in_date=in_date, **quants_value
        )
