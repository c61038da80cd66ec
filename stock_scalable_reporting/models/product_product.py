# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import fields, models
from odoo.osv import expression
from odoo.tools import float_round

from ..matviews import past_stock, picking_counts
from ..matviews.journal import LEDGER_FIELDS

# Pending moves, as Odoo counts them in incoming_qty and outgoing_qty.
TODO_STATES = ("waiting", "confirmed", "assigned", "partially_available")


def _picking_counts(env, product_ids):
    """The product form's In/Out counters (Odoo's ``nbr_moves_in`` and
    ``nbr_moves_out``: done move lines of the last year whose transfer is a
    receipt or a delivery) from the views: ``{product id: {'incoming': n,
    'outgoing': n}}``, or None when the views cannot answer as Odoo would
    (never refreshed or not built yet, an operation type changed since the
    refresh, or record rules on move lines other than Odoo's multi-company
    one)."""
    MoveLine = env["stock.move.line"]
    MoveLine.check_access("read")
    # Odoo's count applies the record rules of move lines, and through
    # picking_code those of transfers and operation types: only Odoo's
    # multi-company rules are known to give the same lines as a filter on
    # the user's companies.
    rules = {}
    for model, xmlid in (
        ("stock.move.line", "stock.stock_move_line_rule"),
        ("stock.picking", "stock.stock_picking_rule"),
        ("stock.picking.type", "stock.stock_picking_type_rule"),
    ):
        known = env.ref(xmlid, raise_if_not_found=False)
        rules[model] = env["ir.rule"]._get_rules(model)
        if rules[model] and (not known or set(rules[model].ids) != {known.id}):
            return None
    # Pending writes first: the triggers journal them.
    MoveLine.flush_model([*LEDGER_FIELDS["stock.move.line"], "picking_id"])
    env["stock.picking"].flush_model(["picking_type_id"])
    env["stock.picking.type"].flush_model(["code"])
    env.cr.execute(picking_counts.PICKING_COUNTS_READY)
    if not env.cr.fetchone()[0]:
        return None
    env.cr.execute(picking_counts.PICKING_COUNTS_STALE)
    row = env.cr.fetchone()
    if row is None or row[0]:
        return None
    since = fields.Datetime.now() - relativedelta(years=1)
    env.cr.execute(
        picking_counts.picking_counts_query(
            product_ids, since, env.companies.ids if rules["stock.move.line"] else None
        )
    )
    counts = defaultdict(lambda: {"incoming": 0, "outgoing": 0})
    for product_id, code, count in env.cr.fetchall():
        counts[product_id][code] = count
    return counts


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def _compute_nbr_moves(self):
        """Odoo's counts of the last year's receipts and deliveries lines of
        the template's variants, from the views (``_picking_counts``)."""
        variants = (
            self.env["product.product"]
            .with_context(active_test=False)
            .search([("product_tmpl_id", "in", self._origin.ids)])
        )
        counts = _picking_counts(self.env, variants.ids) if variants else {}
        if counts is None:
            return super()._compute_nbr_moves()
        totals = defaultdict(lambda: {"incoming": 0, "outgoing": 0})
        for variant in variants:
            for code, count in counts.get(variant.id, {}).items():
                totals[variant.product_tmpl_id.id][code] += count
        for template in self:
            template.nbr_moves_in = totals[template._origin.id]["incoming"]
            template.nbr_moves_out = totals[template._origin.id]["outgoing"]


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _compute_nbr_moves(self):
        """Odoo's counts of the last year's receipt and delivery lines, from
        the views (``_picking_counts``)."""
        ids = [product_id for product_id in self._origin.ids if product_id]
        counts = _picking_counts(self.env, ids) if ids else {}
        if counts is None:
            return super()._compute_nbr_moves()
        for product in self:
            figures = counts.get(product._origin.id, {})
            product.nbr_moves_in = figures.get("incoming", 0)
            product.nbr_moves_out = figures.get("outgoing", 0)

    def _compute_quantities_dict(
        self, lot_id, owner_id, package_id, from_date=False, to_date=False
    ):
        """Odoo's quantities; with ``to_date`` in the past, ``qty_available``
        (and ``free_qty``, ``virtual_available`` from it) is today's on-hand
        walked back through the done move lines after ``to_date``
        (matviews/past_stock.py), exact for sub-locations, lots, packages and
        owners, instead of Odoo's walk back through the moves. Units: each
        product's own. ``incoming_qty`` and ``outgoing_qty`` are Odoo's."""
        to_date = fields.Datetime.to_datetime(to_date)
        locations = None
        if to_date and to_date < fields.Datetime.now():
            quant_domain, move_in_loc, move_out_loc = self._get_domain_locations()
            locations = self._sscale_location_subquery(quant_domain)
        if locations is None:
            return super()._compute_quantities_dict(
                lot_id, owner_id, package_id, from_date=from_date, to_date=to_date
            )
        # Today's figures (no past walk), then the pending moves up to the date.
        res = super()._compute_quantities_dict(lot_id, owner_id, package_id, from_date=from_date)
        incoming, outgoing = self._sscale_pending_moves(
            (move_in_loc, move_out_loc), owner_id, from_date, to_date
        )
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

    def _sscale_location_subquery(self, quant_domain):
        """The locations of the context (``location``, ``warehouse_id``,
        ``strict``), given as Odoo's quant domain for them (the first of
        ``_get_domain_locations``), as an SQL subquery of location ids,
        archived ones included, as that domain reads them; None when it has
        a shape this does not know."""
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

    def _sscale_pending_moves(self, move_domains, owner_id, from_date, to_date):
        """Odoo's incoming and outgoing pending quantities dated up to
        ``to_date``, for ``move_domains`` (the incoming and outgoing move
        domains of ``_get_domain_locations``): ``({product id: qty},
        {product id: qty})``."""
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
            for location in move_domains
        )
