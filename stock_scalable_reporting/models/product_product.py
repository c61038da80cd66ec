# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models
from odoo.osv import expression
from odoo.tools import float_round

from ..tools import past_stock
from .stock_movement_report import LEDGER_FIELDS

# Pending moves, as Odoo counts them in incoming_qty and outgoing_qty.
TODO_STATES = ("waiting", "confirmed", "assigned", "partially_available")


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _compute_quantities_dict(
        self, lot_id, owner_id, package_id, from_date=False, to_date=False
    ):
        """Odoo's quantities; with ``to_date`` in the past, ``qty_available``
        (and ``free_qty``, ``virtual_available`` from it) is today's on-hand
        walked back through the done move lines after ``to_date``
        (tools/past_stock.py), exact for sub-locations, lots, packages and
        owners, instead of Odoo's walk back through the moves. Units: each
        product's own. ``incoming_qty`` and ``outgoing_qty`` are Odoo's."""
        to_date = fields.Datetime.to_datetime(to_date)
        locations = self._sscale_location_subquery()
        if not (to_date and to_date < fields.Datetime.now()) or locations is None:
            return super()._compute_quantities_dict(
                lot_id, owner_id, package_id, from_date=from_date, to_date=to_date
            )
        # Today's figures (no past walk), then the pending moves up to the date.
        res = super()._compute_quantities_dict(lot_id, owner_id, package_id, from_date=from_date)
        incoming, outgoing = self._sscale_pending_moves(owner_id, from_date, to_date)
        self.env["stock.move.line"].flush_model(LEDGER_FIELDS["stock.move.line"])
        moved = past_stock.moved_after(
            self.env.cr,
            locations,
            self._origin.ids,
            to_date,
            lot_id=lot_id,
            package_id=package_id,
            owner_id=owner_id,
        )
        for product in self.with_context(prefetch_fields=False):
            origin_id = product._origin.id
            values = res[product.id]
            if not origin_id:
                continue
            rounding = product.uom_id.rounding
            reserved = values["qty_available"] - values["free_qty"]
            qty_available = float_round(
                values["qty_available"] - moved.get(origin_id, 0.0), precision_rounding=rounding
            )
            values["qty_available"] = qty_available
            values["free_qty"] = float_round(qty_available - reserved, precision_rounding=rounding)
            values["incoming_qty"] = float_round(
                incoming.get(origin_id, 0.0), precision_rounding=rounding
            )
            values["outgoing_qty"] = float_round(
                outgoing.get(origin_id, 0.0), precision_rounding=rounding
            )
            values["virtual_available"] = float_round(
                qty_available + values["incoming_qty"] - values["outgoing_qty"],
                precision_rounding=rounding,
            )
        return res

    def _sscale_location_subquery(self):
        """The locations of the context (``location``, ``warehouse_id``,
        ``strict``; Odoo's ``_get_domain_locations``) as an SQL subquery of
        location ids, archived ones included, as Odoo's quant domain reads
        them; None when that domain has a shape this does not know."""
        quant_domain = self._get_domain_locations()[0]
        location_domain = []
        for leaf in quant_domain:
            if leaf in expression.DOMAIN_OPERATORS:
                location_domain.append(leaf)
            elif tuple(leaf) in (expression.FALSE_LEAF, expression.TRUE_LEAF):
                location_domain.append(leaf)
            elif isinstance(leaf, list | tuple) and len(leaf) == 3 and leaf[0] == "location_id":
                _name, operator, value = leaf
                if operator == "any":
                    location_domain.extend(expression.normalize_domain(value))
                elif operator in ("in", "="):
                    location_domain.append(("id", operator, value))
                else:
                    return None
            else:
                return None
        Location = self.env["stock.location"].with_context(active_test=False)
        return Location._search(location_domain).subselect()

    def _sscale_pending_moves(self, owner_id, from_date, to_date):
        """Odoo's incoming and outgoing pending quantities dated up to
        ``to_date``: ``({product id: qty}, {product id: qty})``."""
        _quant, move_in_loc, move_out_loc = self._get_domain_locations()
        base = [("product_id", "in", self._origin.ids)]
        extra = [("state", "in", TODO_STATES), ("date", "<=", to_date)]
        if owner_id is not None:
            extra.append(("restrict_partner_id", "=", owner_id))
        if from_date:
            extra.append(("date", ">=", from_date))
        Move = self.env["stock.move"].with_context(active_test=False)
        return tuple(
            {
                product.id: quantity
                for product, quantity in Move._read_group(
                    base + location + extra, ["product_id"], ["product_qty:sum"]
                )
            }
            for location in (move_in_loc, move_out_loc)
        )
