# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""stock.quant: the ORM glue of stock_scalable's posting path. The lock
statements are in locking/locks.py, the guard in locking/posting_guard.py, the
pure key and policy in lib/; the lock protocol in docs/architecture.md."""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, float_compare

from ..lib.quant_key import QuantKey, key_columns
from ..locking import locks, posting_guard, quant_batch

_logger = logging.getLogger(__name__)

# Kept here for the modules that import them from this one (hooks, tests).
KEY_INDEX = locks.KEY_INDEX
KEY_COLUMNS = locks.KEY_COLUMNS
KEY_FIELDS = list(QuantKey._fields)


class StockQuant(models.Model):
    _inherit = "stock.quant"

    # On hand equals the ledger and sums: a quant never holds NULL. Odoo's
    # field has no default, so a quant created without a quantity (a count
    # where nothing is stocked, applied at 0; a reservation alone) stored
    # NULL. Rows of earlier versions are set to 0 before the constraint is
    # added (hooks.pre_init_hook, migrations/18.0.2.0.0); Odoo drops the
    # constraint when the module is uninstalled.
    quantity = fields.Float(default=0.0)

    _sql_constraints = [
        (
            "sscale_quantity_set",
            "CHECK (quantity IS NOT NULL)",
            "A quant's quantity is a number, never empty.",
        ),
    ]

    @api.depends(
        "quantity", "inventory_quantity", "inventory_diff_quantity", "inventory_quantity_set"
    )
    def _compute_is_outdated(self):
        """Odoo's flag, with the dependencies its compute reads. Without
        them a flag read before the count's difference or the quantity
        changed stays in the cache: the conflict wizard's *Keep Counted
        Quantity* sets the difference and applies, finds the quants still
        outdated in a transaction that read the flag (the one that opened the
        wizard: a script, an integration, a command), returns the wizard
        again and applies nothing."""
        return super()._compute_is_outdated()

    def init(self):
        """Before any data of this module is loaded (demo data posts stock):
        merge split quants and create the one-quant-per-key index."""
        res = super().init()
        from ..hooks import ensure_key_index  # noqa: PLC0415 - hooks import this module

        ensure_key_index(self.env)
        return res

    def _register_hook(self):
        """Once the registry is loaded: say when postings cannot apply their
        quant changes in one set-based step, because another module overrides
        one of Odoo's per-line quant methods (its override then keeps running
        per line)."""
        res = super()._register_hook()
        overrides = quant_batch.overridden_elsewhere(self.env)
        if overrides:
            _logger.info(
                "stock_scalable: quant changes are applied line by line, because other"
                " modules override %s (locking/quant_batch.py)",
                ", ".join(overrides),
            )
        return res

    # ------------------------------------------------------------------
    # One row per key, locked
    # ------------------------------------------------------------------

    def _sscale_key(self):
        self.ensure_one()
        return QuantKey.of(
            self.product_id, self.location_id, self.lot_id, self.package_id, self.owner_id
        )

    @api.model
    def _sscale_lock_scope(self):
        """Context manager: the rows a posting locks stay remembered until its
        block ends (locking/locks.lock_scope; lock protocol, invariant 7)."""
        return locks.lock_scope(self.env.cr)

    @api.model
    def _sscale_lock_race(self, product_ids):
        """Context manager: a lost race marks ``product_ids`` for the
        turnstile (locking/locks.lock_race; invariant 4)."""
        return locks.lock_race(self.env.cr, product_ids)

    @api.model
    def _sscale_lock_keys(self, keys):
        """Lock the quant row of every key that has one, in the global key
        order (locking/locks.lock_keys; invariant 2). Returns ``{key: quant
        id}``. Pending ORM writes of key columns (a package moved by hand)
        are flushed first, unless the posting holds every key already (the
        hot path of a posting's nested steps)."""
        scope = locks.current_scope(self.env.cr)
        if not (scope and scope["keys"].keys() >= set(keys)):
            self.flush_model(KEY_FIELDS)
        return locks.lock_keys(self.env.cr, keys)

    @api.model
    def _sscale_create_quant(self, vals):
        """Create the quant of a key that has none, through Odoo's create
        (same values, constraints, computed fields and caches as without
        this module), once the key is claimed (locking/locks.claim_key;
        invariant 3): no statement fails with a unique violation, nothing is
        caught or hidden, no logger is touched. Returns the key's quant,
        locked."""
        key = QuantKey.from_vals(vals)
        if not locks.claim_key(self.env.cr, key):
            # The key's row is visible to us already (callers lock the key
            # first, so not under REPEATABLE READ): lock it and add to it.
            scope = locks.current_scope(self.env.cr)
            if scope:
                scope["keys"].pop(key, None)  # it was found without a row
            existing = self._sscale_lock_keys([key]).get(key)
            if not existing:
                raise ValidationError(
                    _("The stock of %s changed meanwhile, please try again.", key)
                )
            return self._sscale_merge_into(self.browse(existing), vals)
        quant = super().create([vals])
        scope = locks.current_scope(self.env.cr)
        if scope:
            scope["keys"][key] = quant.id
        return quant

    @api.model
    def _sscale_create_quants(self, vals_list):
        """Create the quants of keys that have none, many at once (a posting's
        set-based step): the keys are claimed in one statement, in the global
        key order (locking/locks.claim_keys; invariant 3), then created by one
        call of Odoo's create. A key whose row is visible to us already gets
        the values added to it. Returns the quants, in the order of
        ``vals_list``, locked."""
        keys = [QuantKey.from_vals(vals) for vals in vals_list]
        ours = locks.claim_keys(self.env.cr, keys)
        created = iter(
            super().create([v for v, k in zip(vals_list, keys, strict=True) if k in ours])
        )
        scope = locks.current_scope(self.env.cr)
        ids = []
        for vals, key in zip(vals_list, keys, strict=True):
            if key in ours:
                quant = next(created)
                if scope:
                    scope["keys"][key] = quant.id
            else:
                quant = self._sscale_create_quant(vals)
            ids.append(quant.id)
        return self.browse(ids)

    @api.model
    def _sscale_write_quant_values(self, values):
        """Write a posting's new quantity, reserved quantity and incoming date
        of many quants at once: ``values`` maps quant ids to ``(quantity,
        reserved_quantity, in_date)``, quantities already rounded to the
        fields' digits (locking/quant_batch.py). One statement (Odoo's batched
        ``_write_multi``, as a flush writes), the cache set to the values
        written (what Odoo reads next, the guard or the valuation, reads no
        row again), and the dependent fields marked, as ``write`` does."""
        quants = self.browse(list(values))
        names = list(quant_batch.VALUE_FIELDS)
        quants.flush_recordset(names)
        rows = [values[quant_id] for quant_id in quants.ids]
        quants._write_multi([dict(zip(names, row, strict=True)) for row in rows])
        quants.invalidate_recordset(["write_date", "write_uid"])
        for index, name in enumerate(names):
            self.env.cache.update(quants, self._fields[name], [row[index] for row in rows])
        quants.modified(names)
        quants._validate_fields(names)

    @api.model
    def _sscale_lock_quants(self, quants):
        """Lock existing quant rows (reservation candidates) in key order
        (locking/locks.lock_quant_ids; invariant 2)."""
        locks.lock_quant_ids(self.env.cr, quants.ids, set(quants.product_id.ids))

    @api.model
    def _sscale_lock_reservation_candidates(self, moves):
        """Lock, in key order, every quant that the reservation of ``moves``
        may take: their products in their source locations and children
        (locking/locks.lock_reservation_candidates; invariant 2)."""
        scope = locks.current_scope(self.env.cr)
        pairs = {(m.product_id.id, m.location_id.id) for m in moves}
        if scope:
            pairs -= scope["reservations"]
        if not pairs:
            return
        locations = self.env["stock.location"].browse({loc for _p, loc in pairs})
        self.flush_model(KEY_FIELDS)
        locked = locks.lock_reservation_candidates(
            self.env.cr, {p for p, _loc in pairs}, locations.mapped("parent_path")
        )
        if scope:
            scope["keys"].update(locked)
            scope["reservations"] |= pairs

    @api.model_create_multi
    def create(self, vals_list):
        """Creating a quant for a key that has one adds to that quant instead
        (what _merge_quants would do later), so the key index never refuses a
        create and on-hand stays the sum Odoo expects. Inventory-mode creation
        is left to Odoo, which finds the key's quant or comes back here."""
        inventory_mode = self._is_inventory_mode()
        quants = self.browse()
        for vals in vals_list:
            counted = inventory_mode and (
                "inventory_quantity" in vals or "inventory_quantity_auto_apply" in vals
            )
            if counted or not (vals.get("product_id") and vals.get("location_id")):
                quants |= super().create([vals])
            else:
                quants |= self._sscale_create_or_merge(vals)
        return quants

    @api.model
    def _sscale_create_or_merge(self, vals):
        key = QuantKey.from_vals(vals)
        existing = self._sscale_lock_keys([key]).get(key)
        if not existing:
            return self._sscale_create_quant(vals)
        return self._sscale_merge_into(self.browse(existing), vals)

    @api.model
    def _sscale_merge_into(self, quant, vals):
        """Add create() values of ``quant``'s key to ``quant`` (what
        _merge_quants would do with a second row)."""
        vals = dict(vals)
        for field in ("quantity", "reserved_quantity"):
            if field in vals:
                vals[field] = quant[field] + (vals[field] or 0.0)
        if vals.get("in_date") and quant.in_date:
            vals["in_date"] = min(fields.Datetime.to_datetime(vals["in_date"]), quant.in_date)
        for field in QuantKey._fields:
            vals.pop(field, None)
        if vals:
            quant.write(vals)
        return quant

    # ------------------------------------------------------------------
    # Quantity and reservation updates
    # ------------------------------------------------------------------

    @api.model
    def _update_available_quantity(
        self,
        product_id,
        location_id,
        quantity=False,
        reserved_quantity=False,
        lot_id=None,
        package_id=None,
        owner_id=None,
        in_date=None,
    ):
        """Same contract as Odoo's, on the one locked row of the key.

        Odoo locks one quant with SKIP LOCKED and creates another one when all
        are locked; here the key's row is created if needed and locked with a
        waiting lock, then updated. The negative-stock guard is evaluated
        under that lock: at once, or when the posting ends (see
        :meth:`_sscale_deferred_guard`).
        """
        if not (quantity or reserved_quantity):
            raise ValidationError(_("Quantity or Reserved Quantity should be set."))
        self = self.sudo()
        key = QuantKey.of(product_id, location_id, lot_id, package_id, owner_id)
        # Odoo's candidates: the key's quant, and, when a lot is taken from
        # or reserved, the untracked quant of the same place (used when the
        # lot has no quant there).
        untracked = key._replace(lot_id=0)
        with_untracked = bool(lot_id) and not (quantity and quantity > 0)
        locked = self._sscale_lock_keys([key, untracked] if with_untracked else [key])
        candidates = self.browse([locked[k] for k in (key, untracked) if k in locked])
        rounding = product_id.uom_id.rounding
        if with_untracked:
            # As Odoo (18.0 of 2026): a lot is never taken from an untracked
            # quant at or below zero; the lot gets its own quant instead.
            candidates = candidates.filtered(
                lambda q: q.lot_id
                or float_compare(q.quantity, 0, precision_rounding=q.product_uom_id.rounding) > 0
            )
        quant = candidates[:1]
        incoming_dates = []
        if not location_id.should_bypass_reservation():
            incoming_dates = [
                candidate.in_date
                for candidate in candidates
                if candidate.in_date
                and float_compare(candidate.quantity, 0, precision_rounding=rounding) > 0
            ]
        if in_date:
            incoming_dates.append(in_date)
        in_date = min(incoming_dates) if incoming_dates else fields.Datetime.now()
        if quant:
            vals = {"in_date": in_date}
            if quantity:
                vals["quantity"] = quant.quantity + quantity
            if reserved_quantity:
                vals["reserved_quantity"] = max(0, quant.reserved_quantity + reserved_quantity)
            quant.write(vals)
        else:
            # The key's first quant, created as Odoo creates it.
            vals = {
                "product_id": product_id.id,
                "location_id": location_id.id,
                "lot_id": lot_id and lot_id.id,
                "package_id": package_id and package_id.id,
                "owner_id": owner_id and owner_id.id,
                "in_date": in_date,
            }
            if quantity:
                vals["quantity"] = quantity
            if reserved_quantity:
                vals["reserved_quantity"] = reserved_quantity
            quant = self._sscale_create_quant(vals)
        if quantity and quantity < 0:
            self._sscale_guard_decrease(quant, -quantity)
        elif quantity and lot_id and product_id.tracking == "serial":
            self._sscale_guard_serial(quant)
        available = self._get_available_quantity(
            product_id,
            location_id,
            lot_id=lot_id,
            package_id=package_id,
            owner_id=owner_id,
            strict=True,
            allow_negative=True,
        )
        return available, in_date

    @api.model
    def _get_reserve_quantity(self, product_id, location_id, quantity, **kwargs):
        """Lock the candidate quants before Odoo reads what is free on them,
        so that concurrent reservations never reserve the same units."""
        scope = locks.current_scope(self.env.cr)
        covered = scope and (product_id.id, location_id.id) in scope["reservations"]
        if not covered and not location_id.should_bypass_reservation():
            candidates = self.sudo()._gather(
                product_id,
                location_id,
                lot_id=kwargs.get("lot_id"),
                package_id=kwargs.get("package_id"),
                owner_id=kwargs.get("owner_id"),
                strict=kwargs.get("strict", False),
            )
            self._sscale_lock_quants(candidates)
        return super()._get_reserve_quantity(product_id, location_id, quantity, **kwargs)

    def _apply_inventory(self):
        """Lock the counted quants (in key order) before Odoo reads their
        differences and posts the adjustment moves."""
        quants = self.sudo()
        with quants._sscale_lock_scope(), quants._sscale_lock_race(self.product_id.ids):
            quants._sscale_lock_keys([quant._sscale_key() for quant in self])
            return super()._apply_inventory()

    # ------------------------------------------------------------------
    # Negative-stock guard
    # ------------------------------------------------------------------

    @api.model
    def _sscale_deferred_guard(self):
        """Context manager: the guard's checks of the postings in this block
        run when it ends (locking/posting_guard.deferred; invariants 5, 7)."""
        return posting_guard.deferred(self)

    @api.model
    def _sscale_guard_decrease(self, quant, requested):
        posting_guard.record_decrease(quant, requested)

    @api.model
    def _sscale_guard_serial(self, quant):
        posting_guard.record_serial(quant)

    def _sscale_negative_allowed(self):
        self.ensure_one()
        return posting_guard.negative_allowed(self)

    def _sscale_check_negative(self, requested_by_quant):
        """See locking/posting_guard.check_negative."""
        posting_guard.check_negative(self, requested_by_quant)

    def _sscale_check_serials(self):
        """See locking/posting_guard.check_serials."""
        posting_guard.check_serials(self)

    # ------------------------------------------------------------------
    # Ledger
    # ------------------------------------------------------------------

    @api.model
    def _sscale_ledger_drift(self, product_ids=None):
        """Compare every quant key with its ledger.

        The ledger of a key is the sum of the done move lines that enter it
        minus those that leave it, in the product's UoM. Returns one dict per
        key whose on-hand differs from its ledger, or that has more than one
        quant row: ``product_id, location_id, lot_id, package_id, owner_id,
        quantity, ledger_quantity, quant_count``.

        Plain MVCC reads: no row lock is taken, so posting is never blocked.
        """
        self.env.flush_all()
        product_filter = SQL("")
        if product_ids:
            product_filter = SQL("AND product_id IN %s", tuple(product_ids))
        self.env.cr.execute(
            SQL(
                """
            WITH ledger AS (
                SELECT product_id, location_id, lot_id, package_id, owner_id,
                       SUM(qty) AS qty
                  FROM (
                    SELECT %(dest_key)s, quantity_product_uom AS qty
                      FROM stock_move_line
                     WHERE state = 'done' %(product_filter)s
                    UNION ALL
                    SELECT %(source_key)s, -quantity_product_uom
                      FROM stock_move_line
                     WHERE state = 'done' %(product_filter)s
                  ) moves
                 GROUP BY 1, 2, 3, 4, 5
            ),
            quants AS (
                SELECT %(quant_key)s, SUM(quantity) AS qty, COUNT(*) AS quant_count
                  FROM stock_quant
                 WHERE TRUE %(product_filter)s
                 GROUP BY 1, 2, 3, 4, 5
            )
            SELECT k.product_id, k.location_id,
                   NULLIF(k.lot_id, 0) AS lot_id,
                   NULLIF(k.package_id, 0) AS package_id,
                   NULLIF(k.owner_id, 0) AS owner_id,
                   COALESCE(q.qty, 0) AS quantity,
                   COALESCE(l.qty, 0) AS ledger_quantity,
                   COALESCE(q.quant_count, 0) AS quant_count
              FROM (SELECT product_id, location_id, lot_id, package_id, owner_id
                      FROM ledger
                    UNION
                    SELECT product_id, location_id, lot_id, package_id, owner_id
                      FROM quants) k
              JOIN product_product pp ON pp.id = k.product_id
              JOIN product_template pt ON pt.id = pp.product_tmpl_id
              JOIN uom_uom uom ON uom.id = pt.uom_id
         LEFT JOIN ledger l USING (product_id, location_id, lot_id, package_id, owner_id)
         LEFT JOIN quants q USING (product_id, location_id, lot_id, package_id, owner_id)
             WHERE pt.is_storable
               AND (ABS(COALESCE(q.qty, 0) - COALESCE(l.qty, 0)) >= uom.rounding / 2
                    OR COALESCE(q.quant_count, 0) > 1)
             ORDER BY k.product_id, k.location_id, k.lot_id, k.package_id, k.owner_id
                """,
                product_filter=product_filter,
                # The key of each end of a done line, and of a quant: one
                # definition (lib/quant_key.py).
                dest_key=SQL(
                    key_columns(
                        location_id="location_dest_id", package_id="result_package_id", named=True
                    )
                ),
                source_key=SQL(key_columns(named=True)),
                quant_key=SQL(key_columns(named=True)),
            )
        )
        return self.env.cr.dictfetchall()
