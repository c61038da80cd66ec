# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The set-based step of a posting (lock protocol, invariant 8,
docs/architecture.md): the quant changes of one ``stock.move.line._action_done``
(a transfer or several, an applied count, a scrap, a production's moves, a
command batch) are applied together instead of one ORM write per line.

Odoo's ``_action_done`` walks the lines and, for each, releases the
reservation at the source, takes the quantity there and gives it to the
destination (``_synchronize_quant``, three calls per line). While a batch is
open, each of those calls is *recorded*: the result Odoo's per-line step
would return (available quantity, incoming date) is computed in memory from
the posting's locked quant rows, read once, and the new values are kept.
When the walk ends the batch is *applied*:

* every changed quant in one ``UPDATE`` (Odoo's own batched write,
  ``_write_multi``), then the ORM cache invalidated and the dependent
  fields marked, as Odoo documents for SQL writes;
* the keys that had no quant claimed in one statement (invariant 3, in the
  global key order), then created by one ORM ``create``;
* the negative-stock guard and the serial check recorded for all of them,
  and run when the posting ends (invariants 5 and 7), as before.

A call the batch cannot compute exactly the way Odoo would is not recorded:
what is recorded so far is applied first, then Odoo's per-line step runs on
up-to-date rows, and so do the line's later steps (Odoo frees other moves'
reservations after a line's last step, reading the database). That is the
case when the quantity left at the source is negative and Odoo would then
read the database (freeing other moves' reservations, or taking a lot's
shortage from the untracked quant), for the ``least_packages`` removal
strategy (its search reads the database), outside Odoo's walk (no
``quants_cache`` in the context: editing a done line, freeing reservations),
and when another module overrides one of Odoo's per-line quant methods
(``overridden_elsewhere``), so that its override keeps running per line.
"""

import contextlib

from odoo import fields
from odoo.tools import float_compare, float_round

from ..lib.quant_key import QuantKey
from . import posting_guard

# Context key: the posting runs Odoo's per-line steps, without a batch (the
# tests compare both ways; a way out should the batch ever be in doubt).
PER_LINE_CONTEXT = "stock_scalable_per_line"
# cr.cache slot: the open batch of the posting.
BATCH_SLOT = "stock_scalable_quant_batch"
# What a posting step changes on a quant.
VALUE_FIELDS = ("quantity", "reserved_quantity", "in_date")
# Odoo's per-line quant methods: an override of one of them by another module
# keeps the per-line path (its override runs for every line, as without us).
PER_LINE_METHODS = {
    "stock.quant": ("_update_available_quantity", "_update_reserved_quantity"),
    "stock.move.line": ("_synchronize_quant",),
}
# The code whose definitions of those methods the batch computes.
KNOWN_MODULES = ("odoo.addons.stock.models.", "odoo.addons.stock_scalable.models.")


class Row:
    """One quant key of the batch: its row (``quant_id``, None until a new
    key's quant is created) and its values."""

    __slots__ = (
        "key",
        "quant_id",
        "quantity",
        "reserved",
        "in_date",
        "changed",
        "taken",
        "serial",
    )

    def __init__(self, key, quant_id, quantity, reserved, in_date):
        self.key = key
        self.quant_id = quant_id
        self.quantity = quantity
        self.reserved = reserved
        self.in_date = in_date
        self.changed = False
        self.taken = 0.0
        self.serial = False


def _positive(quantity, rounding):
    return float_compare(quantity, 0, precision_rounding=rounding) > 0


def _defined_by_others(model, method):
    """Whether a class of another module than stock and stock_scalable defines
    ``method`` on ``model`` (an override that must keep running per line)."""
    return any(
        method in vars(cls)
        and cls.__module__.startswith("odoo.addons.")
        and not cls.__module__.startswith(KNOWN_MODULES)
        for cls in type(model).__mro__
    )


def overridden_elsewhere(env):
    """The per-line quant methods that another module overrides in the
    registry of ``env`` (``model.method`` names); empty when the batch may
    compute Odoo's per-line steps. Asked by every posting (a walk of a few
    class hierarchies, nothing is kept), and logged by stock.quant's
    ``_register_hook`` when the registry is loaded."""
    return [
        f"{model}.{method}"
        for model, methods in PER_LINE_METHODS.items()
        for method in methods
        if _defined_by_others(env[model], method)
    ]


class QuantBatch:
    """The quant changes of one posting, recorded, then applied at once."""

    def __init__(self, quants, keys):
        self.quants = quants  # stock.quant, sudo
        self.digits = quants.env["decimal.precision"].precision_get("Product Unit of Measure")
        self.preload = set(keys)
        self.rows = {}  # key -> Row, or None: the key has no quant
        # The move line whose steps run per line (see stock.move.line's
        # _synchronize_quant): once one of its steps did, the others follow.
        self.per_line_id = None
        # Keys created by the batch, in the walk's order (not yet applied).
        self.new_rows = []
        # The walk's quants_cache (Odoo's _action_done): quants created by the
        # batch are added to it, as Odoo's create adds them.
        self.quants_cache = None

    # -- reading the rows --------------------------------------------------

    def _ensure(self, keys):
        missing = [key for key in keys if key not in self.rows]
        if not missing:
            return
        wanted = set(missing) | {key for key in self.preload if key not in self.rows}
        locked = self.quants._sscale_lock_keys(list(wanted))
        records = self.quants.browse(locked.values())
        records.fetch(list(VALUE_FIELDS))
        for key in wanted:
            quant_id = locked.get(key)
            if not quant_id:
                self.rows[key] = None
                continue
            quant = self.quants.browse(quant_id)
            row = Row(key, quant_id, quant.quantity, quant.reserved_quantity, quant.in_date)
            self.rows[key] = row

    def forget(self):
        """The rows changed outside the batch (Odoo's per-line step): read
        them again when next needed."""
        self.rows.clear()
        self.new_rows = []

    # -- one step ----------------------------------------------------------

    def step(self, quants_cache, move, product, location, quantity, reserved, *key, in_date):
        """Odoo's ``_update_available_quantity`` of one line of ``move`` (as
        stock_scalable implements it on the key's one row), computed on the
        batch: returns ``(available, in_date)`` as it would, or None when the
        step must run per line (see the module's docstring). ``quants_cache``
        is the walk's (Odoo's ``_action_done`` puts it in the context)."""
        if quants_cache is None:
            return None
        self.quants_cache = quants_cache
        if self.quants._get_removal_strategy(product, location) == "least_packages":
            return None  # Odoo's _gather then searches the database
        lot, package, owner = key
        key = QuantKey.of(product, location, lot, package, owner)
        untracked = key._replace(lot_id=0)
        with_untracked = bool(lot) and not (quantity and quantity > 0)
        self._ensure([key, untracked] if with_untracked else [key])
        rounding = product.uom_id.rounding
        candidates = [self.rows.get(key)]
        if with_untracked:
            candidates.append(self.rows.get(untracked))
        candidates = [row for row in candidates if row]
        if with_untracked:
            # As Odoo: a lot is never taken from an untracked quant at or
            # below zero.
            candidates = [
                row
                for row in candidates
                if row.key.lot_id
                or float_compare(row.quantity, 0, precision_rounding=rounding) > 0
            ]
        dates = []
        if not location.should_bypass_reservation():
            dates = [
                row.in_date
                for row in candidates
                if row.in_date and _positive(row.quantity, rounding)
            ]
        if in_date:
            dates.append(in_date)
        new_in_date = min(dates) if dates else fields.Datetime.now()
        row = candidates[0] if candidates else None
        if row:
            new_quantity = row.quantity + quantity if quantity else row.quantity
            new_reserved = max(0, row.reserved + reserved) if reserved else row.reserved
        else:
            new_quantity, new_reserved = quantity or 0.0, reserved or 0.0
        # As the ORM's cache keeps them (the field's digits).
        new_quantity = float_round(new_quantity, precision_digits=self.digits)
        new_reserved = float_round(new_reserved, precision_digits=self.digits)
        target = row.key if row else key
        values = {target: (new_quantity, new_reserved)}
        available = self._available(product, key, values)
        if quantity and float_compare(available, 0, precision_rounding=rounding) < 0:
            if quantity < 0 and not move._should_bypass_reservation(location):
                return None  # Odoo then frees other moves' reservations
            if lot and self._untracked_free(product, untracked, values):
                return None  # Odoo then takes the lot's shortage from the untracked quant
        if row is None:
            row = Row(key, None, new_quantity, new_reserved, new_in_date)
            self.rows[key] = row
            self.new_rows.append(row)  # created in the walk's order (ids: FIFO ties)
        row.quantity, row.reserved, row.in_date = new_quantity, new_reserved, new_in_date
        row.changed = True
        if quantity and quantity < 0:
            row.taken -= quantity
        elif quantity and lot and product.tracking == "serial":
            row.serial = True
        return available, new_in_date

    def _free(self, key, values):
        """Quantity minus reserved of ``key``'s quant (0 without one), with the
        step's new ``values`` ({key: (quantity, reserved)})."""
        if key in values:
            quantity, reserved = values[key]
            return quantity - reserved
        self._ensure([key])
        row = self.rows.get(key)
        return row.quantity - row.reserved if row else 0.0

    def _available(self, product, key, values):
        """Odoo's ``_get_available_quantity(strict=True, allow_negative=True)``
        after the step. Odoo reads the quants of the walk's ``quants_cache``:
        those of the lines' keys that existed when the walk began, and those
        created since (Odoo's create adds them): with one quant per key, the
        key's quant, and for a lot the untracked quant of the same place,
        which Odoo counts only for a product without tracking."""
        if not key.lot_id:
            return self._free(key, values)
        available = self._free(key, values)
        if product.tracking == "none":
            available += self._free(key._replace(lot_id=0), values)
        return available

    def _untracked_free(self, product, untracked, values):
        """Odoo's ``_get_available_quantity(lot_id=False, strict=True)`` (no
        negative): whether untracked units are there for a lot's shortage."""
        return _positive(self._free(untracked, values), product.uom_id.rounding)

    # -- applying ----------------------------------------------------------

    def apply(self):
        """Write what the batch recorded: the changed quants in one statement,
        the new keys claimed together and created by one ORM create, the
        guard's checks recorded (run when the posting ends)."""
        changed = [row for row in self.rows.values() if row and row.changed]
        if not changed:
            return
        existing = [row for row in changed if row.quant_id]
        new = [row for row in self.new_rows if not row.quant_id]
        self.new_rows = []
        if existing:
            self.quants._sscale_write_quant_values(
                {row.quant_id: (row.quantity, row.reserved, row.in_date) for row in existing}
            )
        if new:
            created = self.quants._sscale_create_quants(
                [
                    {
                        "product_id": row.key.product_id,
                        "location_id": row.key.location_id,
                        "lot_id": row.key.lot_id or False,
                        "package_id": row.key.package_id or False,
                        "owner_id": row.key.owner_id or False,
                        "in_date": row.in_date,
                        "quantity": row.quantity,
                        "reserved_quantity": row.reserved,
                    }
                    for row in new
                ]
            )
            for row, quant in zip(new, created, strict=True):
                row.quant_id = quant.id
                if self.quants_cache is not None:
                    # As Odoo's create does within the walk.
                    self.quants_cache[
                        quant.product_id.id,
                        quant.location_id.id,
                        quant.lot_id.id,
                        quant.package_id.id,
                        quant.owner_id.id,
                    ] |= quant
        for row in changed:
            quant = self.quants.browse(row.quant_id)
            if row.taken:
                posting_guard.record_decrease(quant, row.taken)
            if row.serial:
                posting_guard.record_serial(quant)
            row.changed, row.taken, row.serial = False, 0.0, False


def current(cr):
    """The open batch of ``cr``'s posting, or None."""
    return cr.cache.get(BATCH_SLOT)


def _transaction_holder(cr):
    """Once per transaction, a holder of the open batch for callbacks at the
    transaction's end: should it end while a batch is open (a flow that
    commits inside a posting), a commit applies what the batch recorded
    first, and a commit or a rollback drops what it read (invariant 7).
    The callbacks hold the holder, emptied when the batch's block ends:
    nothing of a posting outlives its block."""
    holder = cr.precommit.data.get(BATCH_SLOT)
    if holder is None:
        holder = cr.precommit.data[BATCH_SLOT] = [None]

        def apply():
            if holder[0] is not None:
                holder[0].apply()

        def forget():
            if holder[0] is not None:
                holder[0].forget()

        cr.precommit.add(apply)
        cr.postcommit.add(forget)
        cr.postrollback.add(forget)
    return holder


@contextlib.contextmanager
def batch(quants, keys):
    """Within this block (one ``stock.move.line._action_done``), Odoo's
    per-line quant steps are recorded and applied when it ends (or earlier,
    before a step that must run per line). Nested postings share the outer
    batch."""
    cr = quants.env.cr
    per_line = quants.env.context.get(PER_LINE_CONTEXT)
    if BATCH_SLOT in cr.cache or per_line or overridden_elsewhere(quants.env):
        yield None
        return
    current_batch = cr.cache[BATCH_SLOT] = QuantBatch(quants, keys)
    holder = _transaction_holder(cr)
    holder[0] = current_batch
    try:
        yield current_batch
        current_batch.apply()
    finally:
        holder[0] = None
        cr.cache.pop(BATCH_SLOT, None)
