# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.tools import float_is_zero

from ..lib.quant_key import QuantKey
from ..locking import quant_batch


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
        before Odoo moves any quantity; apply the quant changes of all lines
        in one set-based step (locking/quant_batch.py); check the
        negative-stock guard when all lines are moved, still under those
        locks. (A key with no quant yet gets its row claimed with ``INSERT
        ... ON CONFLICT DO NOTHING`` (lock protocol, invariant 3): a
        concurrent creator of the same key waits, then fails with a
        serialization failure and Odoo replays it; no unique violation is
        raised.)"""
        quants = self.env["stock.quant"].sudo()
        keys = self._sscale_posting_keys()
        with (
            quants._sscale_lock_scope(),
            quants._sscale_lock_race(self.product_id.ids),
            quants._sscale_deferred_guard(),
        ):
            quants._sscale_lock_keys(keys)
            with quant_batch.batch(quants, keys):
                return super()._action_done()

    def _synchronize_quant(
        self, quantity, location, action="available", in_date=False, **quants_value
    ):
        """Odoo's step of one line, recorded by the posting's set-based batch
        when one is open (locking/quant_batch.py); otherwise, or when the
        batch cannot compute it the way Odoo would, what the batch recorded so
        far is applied and Odoo's per-line step runs."""
        batch = quant_batch.current(self.env.cr)
        if batch is None or len(self) != 1:
            return self._sscale_synchronize_quant(
                quantity, location, action=action, in_date=in_date, **quants_value
            )
        product = self.product_id
        lot = quants_value.get("lot", self.lot_id)
        package = quants_value.get("package", self.package_id)
        owner = quants_value.get("owner", self.owner_id)
        trivial = not product.is_storable or (
            float_is_zero(quantity, precision_rounding=self.product_uom_id.rounding)
            and float_is_zero(quantity, precision_rounding=product.uom_id.rounding)
        )
        if action == "reserved":
            trivial = trivial or self.move_id._should_bypass_reservation(location)
        elif action != "available":
            trivial = True
        if trivial:
            # Odoo's step changes no quant.
            return self._sscale_synchronize_quant(
                quantity, location, action=action, in_date=in_date, **quants_value
            )
        result = None
        if batch.per_line_id != self.id:
            step = (quantity, False) if action == "available" else (False, quantity)
            result = batch.step(
                self.env.context.get("quants_cache"),
                self.move_id,
                product,
                location,
                *step,
                lot,
                package,
                owner,
                in_date=in_date,
            )
        if result is not None:
            return result if action == "available" else (0, in_date)
        # Per line: what was recorded is applied first; the line's later
        # steps run per line too (Odoo may then read the database for it:
        # freeing other moves' reservations after its last step).
        batch.apply()
        batch.per_line_id = self.id
        try:
            return self._sscale_synchronize_quant(
                quantity, location, action=action, in_date=in_date, **quants_value
            )
        finally:
            batch.forget()

    def _sscale_synchronize_quant(
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
