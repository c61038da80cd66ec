# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, float_compare, float_repr

from ..lib import guard
from ..lib.quant_key import QuantKey, key_columns, lock_order
from ..tools import turnstile

# The unique index that makes one quant row per key (created by init() and
# checked by the post_init_hook, see hooks.py; dropped by the uninstall_hook).
KEY_INDEX = "stock_quant_sscale_key_uniq"
KEY_COLUMNS = SQL(key_columns())
KEY_FIELDS = ["product_id", "location_id", "lot_id", "package_id", "owner_id"]
# cr.cache slots: the keys a posting decreased, checked when it ends; the
# rows a posting has locked so far.
GUARD_SLOT = "stock_scalable_deferred_guard"
LOCK_SLOT = "stock_scalable_lock_scope"


class StockQuant(models.Model):
    _inherit = "stock.quant"

    def init(self):
        """Before any data of this module is loaded (demo data posts stock):
        merge split quants and create the one-quant-per-key index."""
        res = super().init()
        from ..hooks import ensure_key_index  # noqa: PLC0415 - hooks import this module

        ensure_key_index(self.env)
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
    @contextlib.contextmanager
    def _sscale_lock_scope(self):
        """Within a posting (validation, reservation, inventory apply), the
        rows it locked stay locked until the transaction ends: remember them,
        so that the nested steps of the same posting do not lock them again.
        Outside such a block every call locks. (A savepoint rolled back inside
        a posting would release its locks early; Odoo's posting flows do not
        roll back savepoints around quant updates.) Lock protocol, invariant
        7 (docs/architecture.md): cleared at commit and rollback."""
        cr = self.env.cr
        cache = cr.cache
        outer = LOCK_SLOT not in cache
        if outer:
            scope = cache[LOCK_SLOT] = {"keys": {}, "reservations": set()}

            def forget():
                # The transaction ended (a flow that commits between
                # batches): its row locks are gone, lock again from now on.
                scope["keys"].clear()
                scope["reservations"].clear()

            cr.postcommit.add(forget)
            cr.postrollback.add(forget)
        try:
            yield cache[LOCK_SLOT]
        finally:
            if outer:
                cache.pop(LOCK_SLOT, None)

    @api.model
    @contextlib.contextmanager
    def _sscale_lock_race(self, product_ids):
        """Around a quant lock statement, or a whole posting of ``product_ids``:
        when it loses a race (rows changed after our snapshot, or a
        deadlock), the replay of the request goes through the products'
        turnstile (see tools/turnstile.py). A posting marks its products even
        when the failure comes from Odoo's own statements."""
        try:
            yield
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
            turnstile.mark(self.env.cr, product_ids)
            raise

    @api.model
    def _sscale_lock_keys(self, keys):
        """Lock the quant row of every key that has one, in the global key
        order, waiting for other transactions (never SKIP LOCKED, never
        NOWAIT). Returns ``{key: quant id}``.

        Under REPEATABLE READ, when the row was changed by a transaction that
        committed after ours began (possibly while we waited), PostgreSQL
        raises a serialization failure: Odoo's RPC layer rolls the request
        back and replays it. That is expected under contention, so it is not
        logged as a bad query.
        """
        scope = self.env.cr.cache.get(LOCK_SLOT)
        held = scope["keys"] if scope else {}
        todo = [key for key in lock_order(keys) if key not in held]
        locked = {key: held[key] for key in keys if key in held}
        if not todo:
            return locked
        # Pending ORM writes of key columns (a package moved by hand) first.
        self.flush_model(KEY_FIELDS)
        # Lock protocol, invariant 2 (docs/architecture.md).
        # FOR NO KEY UPDATE: the row lock that conflicts with other quant
        # updates but not with foreign keys pointing at the quant. Rows are
        # locked in ORDER BY order, which is the global key order. The gate
        # lets a replay that holds the products' turnstile go first.
        products = {key.product_id for key in todo}
        with self._sscale_lock_race(products):
            self.env.cr.execute(
                SQL(
                    """
                    SELECT id, %s
                      FROM stock_quant
                     WHERE (%s) IN %s AND %s
                     ORDER BY %s
                       FOR NO KEY UPDATE
                    """,
                    KEY_COLUMNS,
                    KEY_COLUMNS,
                    tuple(todo),
                    turnstile.gate_sql(products),
                    KEY_COLUMNS,
                ),
                log_exceptions=False,
            )
        for row in self.env.cr.fetchall():
            locked[QuantKey(*row[1:])] = row[0]
        if scope:
            held.update(locked)
        return locked

    @api.model
    def _sscale_create_quant(self, vals):
        """Create the quant of a key that has none, through Odoo's create
        (same values, constraints, computed fields and caches as without
        this module). Returns the key's quant, locked.

        The key is claimed first (lock protocol, invariant 3 in
        docs/architecture.md): one statement, ``INSERT ... ON CONFLICT (key)
        DO NOTHING``, puts a bare row of the key in the unique index.

        * Nobody else has the key: the claim is ours. It is deleted at once
          and Odoo's create inserts the real row in its place; a concurrent
          creator of the key waits on our uncommitted rows from the claim on.
        * Another transaction is creating it: the claim waits for it. When it
          commits, PostgreSQL raises a serialization failure (its row is
          newer than our snapshot), which Odoo's RPC layer replays; when it
          rolls back, the claim is ours.
        * Another transaction created it and committed after our snapshot:
          serialization failure, replayed the same way.
        * The row is visible to us already: it is locked and returned.

        No statement of ours fails with a unique violation, so nothing is
        caught or hidden, and no process-wide logger is touched.
        """
        key = QuantKey.from_vals(vals)
        with self._sscale_lock_race([key.product_id]):
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO stock_quant (product_id, location_id, lot_id, package_id, owner_id,
                                             company_id, quantity, reserved_quantity, in_date)
                    SELECT %s, loc.id, %s, %s, %s, loc.company_id, 0, 0, NOW() AT TIME ZONE 'UTC'
                      FROM stock_location loc WHERE loc.id = %s
                    ON CONFLICT (%s) DO NOTHING
                    RETURNING id
                    """,
                    key.product_id,
                    key.lot_id or None,
                    key.package_id or None,
                    key.owner_id or None,
                    key.location_id,
                    KEY_COLUMNS,
                ),
                log_exceptions=False,
            )
            claim = self.env.cr.fetchone()
        if claim is None:
            return self.browse(self._sscale_lock_keys([key])[key])
        # Our own deleted row does not conflict with our insert; other
        # transactions keep waiting on it until we end.
        self.env.cr.execute(SQL("DELETE FROM stock_quant WHERE id = %s", claim[0]))
        quant = super().create([vals])
        scope = self.env.cr.cache.get(LOCK_SLOT)
        if scope:
            scope["keys"][key] = quant.id
        return quant

    @api.model
    def _sscale_lock_quants(self, quants):
        """Lock existing quant rows (reservation candidates) in key order
        (lock protocol, invariant 2: docs/architecture.md)."""
        if not quants:
            return
        products = set(quants.product_id.ids)
        with self._sscale_lock_race(products):
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM stock_quant WHERE id IN %s AND %s"
                    " ORDER BY %s FOR NO KEY UPDATE",
                    tuple(quants.ids),
                    turnstile.gate_sql(products),
                    KEY_COLUMNS,
                ),
                log_exceptions=False,
            )

    @api.model
    def _sscale_lock_reservation_candidates(self, moves):
        """Lock, in key order, every quant that the reservation of ``moves``
        may take: their products in their source locations and children
        (lock protocol, invariant 2: docs/architecture.md)."""
        scope = self.env.cr.cache.get(LOCK_SLOT)
        pairs = {(m.product_id.id, m.location_id.id) for m in moves}
        if scope:
            pairs -= scope["reservations"]
        if not pairs:
            return
        locations = self.env["stock.location"].browse({loc for _p, loc in pairs})
        products = {p for p, _loc in pairs}
        self.flush_model(KEY_FIELDS)
        with self._sscale_lock_race(products):
            self.env.cr.execute(
                SQL(
                    """
                    SELECT q.id, %s
                      FROM stock_quant q
                      JOIN stock_location l ON l.id = q.location_id
                     WHERE q.product_id IN %s
                       AND l.parent_path LIKE ANY (%s)
                       AND %s
                     ORDER BY %s
                       FOR NO KEY UPDATE OF q
                    """,
                    SQL(key_columns("q")),
                    tuple(products),
                    [f"{path}%" for path in locations.mapped("parent_path")],
                    turnstile.gate_sql(products),
                    SQL(key_columns("q")),
                ),
                log_exceptions=False,
            )
        rows = self.env.cr.fetchall()
        if scope:
            scope["keys"].update({QuantKey(*row[1:]): row[0] for row in rows})
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
        quant = self.browse(existing)
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
        quant = candidates[:1]
        rounding = product_id.uom_id.rounding
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
        scope = self.env.cr.cache.get(LOCK_SLOT)
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
    @contextlib.contextmanager
    def _sscale_deferred_guard(self):
        """Within this block, quant decreases and serial numbers put on hand
        are checked once, when the block ends, on the final quantities (a
        posting may take from a key and give back to it, e.g. lot
        compensation, or move a serial from one shelf to another). The keys
        stay locked until commit, so the check is still made under the lock
        (lock protocol, invariants 5 and 7: docs/architecture.md)."""
        cr = self.env.cr
        cache = cr.cache
        outer = GUARD_SLOT in cache
        if not outer:
            pending = cache[GUARD_SLOT] = {"decreased": {}, "serials": set()}

            def forget():
                # The transaction ended inside the block (a flow that
                # commits between batches): what it changed is committed or
                # gone; the checks of what comes next start afresh.
                pending["decreased"].clear()
                pending["serials"].clear()

            cr.postcommit.add(forget)
            cr.postrollback.add(forget)
        try:
            yield
            if not outer:
                cache.pop(GUARD_SLOT)
                decreased = pending["decreased"]
                self.browse(list(decreased))._sscale_check_negative(decreased)
                self.browse(list(pending["serials"]))._sscale_check_serials()
        finally:
            if not outer:
                cache.pop(GUARD_SLOT, None)

    @api.model
    def _sscale_guard_decrease(self, quant, requested):
        deferred = self.env.cr.cache.get(GUARD_SLOT)
        if deferred is None:
            quant._sscale_check_negative({quant.id: requested})
        else:
            decreased = deferred["decreased"]
            decreased[quant.id] = decreased.get(quant.id, 0.0) + requested

    @api.model
    def _sscale_guard_serial(self, quant):
        """A serial number entered ``quant`` (an internal location): check
        now, or when the posting ends."""
        deferred = self.env.cr.cache.get(GUARD_SLOT)
        if deferred is None:
            quant._sscale_check_serials()
        else:
            deferred["serials"].add(quant.id)

    def _sscale_check_serials(self):
        """Raise a UserError when the serial number of a quant of ``self`` is
        on hand more than once in the internal locations of its company,
        where the company forbids it (``sscale_unique_serial``).

        The lots' rows are locked and updated first (in id order) so that two
        postings putting the same serial on hand at once conflict: the later
        one waits, then fails with a serialization failure and is retried,
        and its retry sees the first one's quant (lock protocol, invariant
        6: docs/architecture.md)."""
        quants = self.exists().filtered(
            lambda q: q.lot_id
            and q.product_id.tracking == "serial"
            and q.location_id.usage == "internal"
            and (q.location_id.company_id or self.env.company).sscale_unique_serial
        )
        if not quants:
            return
        lots = quants.lot_id
        self.flush_model(["quantity", "lot_id", "location_id"])
        with self._sscale_lock_race(lots.product_id.ids):
            # FOR NO KEY UPDATE then a no-op UPDATE: the lock orders the
            # postings, the new row version makes a concurrent one that
            # waited on it fail (REPEATABLE READ) instead of reading a
            # snapshot without our quant.
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM stock_lot WHERE id IN %s ORDER BY id FOR NO KEY UPDATE",
                    tuple(lots.ids),
                ),
                log_exceptions=False,
            )
            self.env.cr.execute(
                SQL(
                    "UPDATE stock_lot SET write_date = write_date WHERE id IN %s", tuple(lots.ids)
                ),
                log_exceptions=False,
            )
        self.env.cr.execute(
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
        for lot_id, _company_id, location_ids in self.env.cr.fetchall():
            lot = self.env["stock.lot"].browse(lot_id)
            locations = self.env["stock.location"].browse(location_ids)
            violations.append(
                _(
                    "Serial number %(serial)s of %(product)s would be on hand more than once:"
                    " %(locations)s.",
                    serial=lot.name,
                    product=lot.product_id.display_name,
                    locations=", ".join(locations.mapped("complete_name")),
                )
            )
        if violations:
            raise UserError(
                _("A serial number can be in stock only once.") + "\n" + "\n".join(violations)
            )

    def _sscale_negative_allowed(self):
        self.ensure_one()
        company = self.company_id or self.location_id.company_id or self.env.company
        return guard.negative_allowed(
            company._sscale_negative_policy(),
            self.location_id.usage,
            self.location_id.sscale_allow_negative_stock,
            self.product_id.categ_id.sscale_allow_negative_stock,
            self.product_id.sscale_allow_negative_stock,
        )

    def _sscale_check_negative(self, requested_by_quant):
        """Raise a UserError naming product, location and quantities for
        every quant of ``self`` that went below zero where that is forbidden.
        ``requested_by_quant`` maps quant ids to the quantity taken."""
        violations = []
        digits = self.env["decimal.precision"].precision_get("Product Unit of Measure")
        for quant in self.exists().sorted(lambda quant: quant._sscale_key()):
            uom = quant.product_id.uom_id
            if not guard.goes_negative(quant.quantity, uom.rounding):
                continue
            if quant._sscale_negative_allowed():
                continue
            requested = requested_by_quant.get(quant.id, 0.0)
            available = quant.quantity + requested
            details = [
                _("lot/serial %s", quant.lot_id.name) if quant.lot_id else None,
                _("package %s", quant.package_id.name) if quant.package_id else None,
                _("owner %s", quant.owner_id.display_name) if quant.owner_id else None,
            ]
            details = ", ".join(d for d in details if d)
            # (Outside the _() call: the translation extractor evaluates its
            # arguments' literals and cannot read an f-string there.)
            details = " (%s)" % details if details else ""  # noqa: UP031
            violations.append(
                _(
                    "%(product)s in %(location)s%(details)s: %(requested)s %(uom)s requested,"
                    " only %(available)s %(uom)s available.",
                    product=quant.product_id.display_name,
                    location=quant.location_id.complete_name,
                    details=details,
                    requested=float_repr(requested, digits),
                    available=float_repr(max(available, 0.0), digits),
                    uom=uom.name,
                )
            )
        if violations:
            raise UserError(
                _("Not enough stock: negative stock is not allowed here.")
                + "\n"
                + "\n".join(violations)
            )

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
