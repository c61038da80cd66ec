# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The posting guard: what a posting may not leave behind, checked under its
locks when it ends (lock protocol, invariants 5 to 7, docs/architecture.md).

* Negative stock where the company forbids it (the decision itself is the
  pure ``lib/guard.py``): a UserError naming product, location (lot,
  package, owner) and quantities.
* A serial number on hand twice in the internal locations of a company that
  forbids it: a UserError naming the serial, the product and the locations.

Within ``deferred()``, quant decreases and serials put on hand are recorded
and checked once when the block ends, on the final quantities (a posting may
take from a key and give back to it, e.g. lot compensation, or move a serial
from one shelf to another); outside it they are checked at once.
"""

import contextlib

from odoo.exceptions import UserError
from odoo.tools import SQL, float_repr

from ..lib import guard
from . import locks

# cr.cache slot: what the open posting decreased or put on hand.
GUARD_SLOT = "stock_scalable_deferred_guard"


@contextlib.contextmanager
def deferred(quant_model):
    """Defer the checks of the postings in this block to its end (invariant
    5). The pending checks belong to the transaction: cleared at commit and
    rollback (invariant 7)."""
    cr = quant_model.env.cr
    cache = cr.cache
    outer = GUARD_SLOT in cache
    if not outer:
        pending = cache[GUARD_SLOT] = {"decreased": {}, "serials": set()}
    try:
        yield
        if not outer:
            cache.pop(GUARD_SLOT)
            decreased = pending["decreased"]
            check_negative(quant_model.browse(list(decreased)), decreased)
            check_serials(quant_model.browse(list(pending["serials"])))
    finally:
        if not outer:
            cache.pop(GUARD_SLOT, None)


def _pending(cr):
    """The open block's pending checks, or None. When the transaction ends
    inside the block (a flow that commits between batches), what it changed
    is committed or gone: the checks of what comes next start afresh
    (invariant 7)."""
    pending = cr.cache.get(GUARD_SLOT)
    if pending is not None:

        def clear():
            pending["decreased"].clear()
            pending["serials"].clear()

        locks.forget_at_transaction_end(cr, pending, clear)
    return pending


def record_decrease(quant, requested):
    """``requested`` units were taken from ``quant``: check now, or when the
    posting ends."""
    pending = _pending(quant.env.cr)
    if pending is None:
        check_negative(quant, {quant.id: requested})
    else:
        decreased = pending["decreased"]
        decreased[quant.id] = decreased.get(quant.id, 0.0) + requested


def record_serial(quant):
    """A serial number entered ``quant``: check now, or when the posting ends."""
    pending = _pending(quant.env.cr)
    if pending is None:
        check_serials(quant)
    else:
        pending["serials"].add(quant.id)


def negative_allowed(quant):
    """Whether ``quant`` (one record) may go below zero."""
    company = quant.company_id or quant.location_id.company_id or quant.env.company
    return negative_allowed_for(company, quant.location_id, quant.product_id)


def refusal(message, code, details):
    """The guard's UserError (the dialog a user sees is Odoo's own), with
    what a machine reads: ``sscale_code`` (an error code of lib/commands.py)
    and ``sscale_details`` (one dict per refused quant: product, location,
    lot, package, requested and available in the product's unit)."""
    error = UserError(message)
    error.sscale_code = code
    error.sscale_details = details
    return error


def negative_allowed_for(company, location, product):
    """Whether a quant of ``product`` in ``location`` may go below zero
    (the same rule as :func:`negative_allowed`, for a key without a quant)."""
    return guard.negative_allowed(
        company._sscale_negative_policy(),
        location.usage,
        location.sscale_allow_negative_stock,
        product.categ_id.sscale_allow_negative_stock,
        product.sscale_allow_negative_stock,
    )


def shortage(env, product, location, lot, package, owner, requested, available):
    """One refused key: ``(line, details)``, the line a user reads ("... in
    WH/Stock: 8.00 Units requested, only 5.00 Units available.") and the
    details a machine reads (product, location, lot, package, requested and
    available in the product's unit)."""
    digits = env["decimal.precision"].precision_get("Product Unit of Measure")
    uom = product.uom_id
    available = max(available, 0.0)
    details = [
        env._("lot/serial %s", lot.name) if lot else None,
        env._("package %s", package.name) if package else None,
        env._("owner %s", owner.display_name) if owner else None,
    ]
    details = ", ".join(d for d in details if d)
    # (Outside the _() call: the translation extractor evaluates its
    # arguments' literals and cannot read an f-string there.)
    details = " (%s)" % details if details else ""  # noqa: UP031
    line = env._(
        "%(product)s in %(location)s%(details)s: %(requested)s %(uom)s requested,"
        " only %(available)s %(uom)s available.",
        product=product.display_name,
        location=location.complete_name,
        details=details,
        requested=float_repr(requested, digits),
        available=float_repr(available, digits),
        uom=uom.name,
    )
    return line, dict(
        key_details(product, location, lot, package),
        requested=requested,
        available=available,
        uom=uom.name,
    )


def key_details(product, location, lot, package):
    """A quant key as a machine reads it in answers and refusals: product,
    location (full name), lot and package names, and the ids."""
    return {
        "product": product.display_name,
        "product_id": product.id,
        "location": location.complete_name,
        "location_id": location.id,
        "lot": lot.name or None,
        "package": package.name or None,
    }


def shortage_title(env):
    return env._("Not enough stock: negative stock is not allowed here.")


def check_negative(quants, requested_by_quant):
    """Raise a UserError naming product, location and quantities for every
    quant of ``quants`` that went below zero where that is forbidden.
    ``requested_by_quant`` maps quant ids to the quantity taken."""
    env = quants.env
    violations = []
    refusals = []
    for quant in quants.exists().sorted(lambda quant: quant._sscale_key()):
        if not guard.goes_negative(quant.quantity, quant.product_id.uom_id.rounding):
            continue
        if negative_allowed(quant):
            continue
        requested = requested_by_quant.get(quant.id, 0.0)
        line, details = shortage(
            env,
            quant.product_id,
            quant.location_id,
            quant.lot_id,
            quant.package_id,
            quant.owner_id,
            requested,
            quant.quantity + requested,
        )
        violations.append(line)
        refusals.append(details)
    if violations:
        raise refusal(
            shortage_title(env) + "\n" + "\n".join(violations),
            "insufficient_stock",
            refusals,
        )


def check_serials(quants):
    """Raise a UserError when the serial number of a quant of ``quants`` is
    on hand more than once in the internal locations of its company, where
    the company forbids it (``sscale_unique_serial``). The lots' rows are
    locked and bumped first (invariant 6), so that two postings putting the
    same serial on hand at once conflict and the later one, replayed, sees
    the first one's quant."""
    env = quants.env
    quants = quants.exists().filtered(
        lambda q: q.lot_id
        and q.product_id.tracking == "serial"
        and q.location_id.usage == "internal"
        and (q.location_id.company_id or env.company).sscale_unique_serial
    )
    if not quants:
        return
    lots = quants.lot_id
    quants.flush_model(["quantity", "lot_id", "location_id"])
    locks.lock_lots(env.cr, lots.ids, lots.product_id.ids)
    env.cr.execute(
        SQL(
            """
            SELECT q.lot_id, l.company_id, ARRAY_AGG(q.location_id ORDER BY q.location_id)
              FROM stock_quant q
              JOIN stock_location l ON l.id = q.location_id
             WHERE q.lot_id IN %s AND l.usage = 'internal' AND q.quantity > 0
             GROUP BY q.lot_id, l.company_id
            HAVING SUM(q.quantity) > 1
            """,
            tuple(lots.ids),
        )
    )
    violations = []
    refusals = []
    for lot_id, _company_id, location_ids in env.cr.fetchall():
        lot = env["stock.lot"].browse(lot_id)
        locations = env["stock.location"].browse(location_ids)
        refusals.append(
            {
                "product": lot.product_id.display_name,
                "product_id": lot.product_id.id,
                "lot": lot.name,
                "locations": locations.mapped("complete_name"),
            }
        )
        violations.append(
            env._(
                "Serial number %(serial)s of %(product)s would be on hand more than once:"
                " %(locations)s.",
                serial=lot.name,
                product=lot.product_id.display_name,
                locations=", ".join(locations.mapped("complete_name")),
            )
        )
    if violations:
        raise refusal(
            env._("A serial number can be in stock only once.") + "\n" + "\n".join(violations),
            "serial_already_in_stock",
            refusals,
        )
