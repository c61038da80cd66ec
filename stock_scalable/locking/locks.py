# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The row locks of a posting: every lock statement of stock_scalable, in one
place. Each function takes a cursor and plain ids or keys; the ORM glue
(flushing pending writes, recordsets) stays in the models.

The protocol these statements implement is written once, as numbered
invariants, in docs/architecture.md ("Lock protocol"); each function names
the invariant it implements.

All statements run with ``log_exceptions=False``: under REPEATABLE READ a
lost race is a serialization failure or a deadlock, which Odoo's RPC layer
replays; that is expected under contention, not a bad query.
"""

import contextlib

import psycopg2

from odoo.tools import SQL

from ..lib.quant_key import QuantKey, key_columns, lock_order
from . import turnstile

# The unique index that makes one quant row per key (created by
# stock.quant's init() and checked by the post_init_hook, see hooks.py;
# dropped by the uninstall_hook).
KEY_INDEX = "stock_quant_sscale_key_uniq"
KEY_COLUMNS = SQL(key_columns())
# cr.cache slot: the rows a posting has locked so far.
LOCK_SLOT = "stock_scalable_lock_scope"


@contextlib.contextmanager
def lock_scope(cr):
    """Within a posting (validation, reservation, inventory apply), the rows
    it locked stay locked until the transaction ends: remember them, so
    that the nested steps of the same posting do not lock them again.
    Outside such a block every call locks. Yields ``{"keys": {key: quant
    id, or None for a key found without a row}, "reservations": {(product
    id, location id)}}``.

    Invariant 7: the memory is cleared at commit and rollback (a flow that
    commits between batches locks again afterwards). A savepoint rolled back
    inside a posting would release its locks early; Odoo's posting flows do
    not roll back savepoints around quant updates."""
    cache = cr.cache
    outer = LOCK_SLOT not in cache
    if outer:
        cache[LOCK_SLOT] = {"keys": {}, "reservations": set()}
        current_scope(cr)
    try:
        yield cache[LOCK_SLOT]
    finally:
        if outer:
            cache.pop(LOCK_SLOT, None)


def forget_at_transaction_end(cr, state, clear):
    """Call ``clear()`` when the current transaction commits or rolls back.

    Odoo runs a commit or rollback callback once, and a callback added while
    its list runs would run again at once: instead, ``state`` (a dict of the
    caller's) remembers that this transaction has the callback, and every
    use of the state in a later transaction arms it again."""
    if state.get("_armed"):
        return
    state["_armed"] = True

    def forget():
        clear()
        state["_armed"] = False

    cr.postcommit.add(forget)
    cr.postrollback.add(forget)


def current_scope(cr):
    """The open lock scope of ``cr``, or None; what it holds is forgotten when
    the transaction ends (invariant 7)."""
    scope = cr.cache.get(LOCK_SLOT)
    if scope is not None:

        def clear():
            scope["keys"].clear()
            scope["reservations"].clear()

        forget_at_transaction_end(cr, scope, clear)
    return scope


@contextlib.contextmanager
def lock_race(cr, product_ids):
    """Around a lock statement, or a whole posting of ``product_ids``: when it
    loses a race (rows changed after our snapshot, or a deadlock), the
    request's replay goes through the products' turnstile (invariant 4,
    locking/turnstile.py). A posting marks its products even when the failure
    comes from Odoo's own statements."""
    try:
        yield
    except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected):
        turnstile.mark(cr, product_ids)
        raise


def lock_keys(cr, keys):
    """Invariant 2: lock the quant row of every key of ``keys`` that has one,
    in the global key order, ``FOR NO KEY UPDATE`` (it conflicts with other
    quant updates, not with foreign keys pointing at the quant), waiting for
    other transactions (never SKIP LOCKED, never NOWAIT), through the
    products' gate (invariant 4). Keys the open scope holds are not locked
    again. Returns ``{key: quant id}``."""
    scope = current_scope(cr)
    held = scope["keys"] if scope else {}
    todo = [key for key in lock_order(keys) if key not in held]
    locked = {key: held[key] for key in keys if held.get(key)}
    if not todo:
        return locked
    products = {key.product_id for key in todo}
    with lock_race(cr, products):
        cr.execute(
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
    for row in cr.fetchall():
        locked[QuantKey(*row[1:])] = row[0]
    if scope:
        # A key without a row is remembered as such (None): our snapshot
        # cannot see a row another transaction creates, and ours are added
        # when claimed (invariant 3).
        held.update(dict.fromkeys(todo))
        held.update(locked)
    return locked


def claim_key(cr, key):
    """Invariant 3, through the product's gate (invariant 4): put a bare row
    of ``key`` in the unique index with ``INSERT ... ON CONFLICT (key) DO
    NOTHING`` and delete it at once (our
    own deleted row does not conflict with our next insert of the key, and
    other transactions keep waiting on it until we end). Returns True when
    the key is ours to create, False when its row is already visible to us.

    A concurrent creator makes the statement wait; when it commits,
    PostgreSQL raises a serialization failure (its row is newer than our
    snapshot), replayed by Odoo. No unique violation is ever raised."""
    return key in claim_keys(cr, [key])


def claim_keys(cr, keys):
    """Invariant 3 for many keys at once (a posting's new keys), in the
    global key order, through the products' gate (invariant 4): one
    ``INSERT ... ON CONFLICT (key) DO NOTHING`` of bare rows, deleted at
    once, as :func:`claim_key` does for one. Returns the keys that are ours
    to create; a key left out has a row visible to us already."""
    keys = lock_order(keys)
    if not keys:
        return set()
    products = {key.product_id for key in keys}
    columns = list(zip(*keys, strict=True))
    with lock_race(cr, products):
        cr.execute(
            SQL(
                """
                INSERT INTO stock_quant (product_id, location_id, lot_id, package_id, owner_id,
                                         company_id, quantity, reserved_quantity, in_date)
                SELECT k.product_id, loc.id, NULLIF(k.lot_id, 0), NULLIF(k.package_id, 0),
                       NULLIF(k.owner_id, 0), loc.company_id, 0, 0, NOW() AT TIME ZONE 'UTC'
                  FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::int[])
                       WITH ORDINALITY AS k(product_id, location_id, lot_id, package_id,
                                            owner_id, n)
                  JOIN stock_location loc ON loc.id = k.location_id
                 WHERE %s
                 ORDER BY k.n
                ON CONFLICT (%s) DO NOTHING
                RETURNING id, %s
                """,
                *(list(column) for column in columns),
                turnstile.gate_sql(products),
                KEY_COLUMNS,
                KEY_COLUMNS,
            ),
            log_exceptions=False,
        )
        claims = cr.fetchall()
    if claims:
        cr.execute(SQL("DELETE FROM stock_quant WHERE id IN %s", tuple(row[0] for row in claims)))
    return {QuantKey(*row[1:]) for row in claims}


def lock_quant_ids(cr, quant_ids, product_ids):
    """Invariant 2: lock existing quant rows (reservation candidates) in key
    order, through the products' gate."""
    if not quant_ids:
        return
    with lock_race(cr, product_ids):
        cr.execute(
            SQL(
                "SELECT id FROM stock_quant WHERE id IN %s AND %s ORDER BY %s FOR NO KEY UPDATE",
                tuple(quant_ids),
                turnstile.gate_sql(product_ids),
                KEY_COLUMNS,
            ),
            log_exceptions=False,
        )


def lock_reservation_candidates(cr, product_ids, parent_paths):
    """Invariant 2: lock, in key order, every quant of ``product_ids`` in the
    locations under ``parent_paths`` (a reservation's candidates). Returns
    ``{key: quant id}``."""
    with lock_race(cr, product_ids):
        cr.execute(
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
                tuple(product_ids),
                [f"{path}%" for path in parent_paths],
                turnstile.gate_sql(product_ids),
                SQL(key_columns("q")),
            ),
            log_exceptions=False,
        )
    return {QuantKey(*row[1:]): row[0] for row in cr.fetchall()}


def _lock_in_id_order(cr, table, ids):
    """Lock rows of ``table`` (a trusted table name) by id, in id order,
    ``FOR NO KEY UPDATE``."""
    cr.execute(
        SQL(
            "SELECT id FROM %s WHERE id IN %s ORDER BY id FOR NO KEY UPDATE",
            SQL.identifier(table),
            tuple(ids),
        ),
        log_exceptions=False,
    )


def lock_pickings(cr, picking_ids, product_ids):
    """Invariant 1: lock the transfers being validated, in id order, before
    anything else: a second validation of the same transfer waits, then
    fails with a serialization failure, and its replay finds it done."""
    with lock_race(cr, product_ids):
        _lock_in_id_order(cr, "stock_picking", picking_ids)


def lock_lots(cr, lot_ids, product_ids):
    """Invariant 6: lock the lots' rows in id order, then update them (no-op):
    the lock orders the postings of a serial number, and the new row version
    makes a concurrent posting that waited on it fail (REPEATABLE READ)
    instead of reading a snapshot without our quant."""
    with lock_race(cr, product_ids):
        _lock_in_id_order(cr, "stock_lot", lot_ids)
        cr.execute(
            SQL("UPDATE stock_lot SET write_date = write_date WHERE id IN %s", tuple(lot_ids)),
            log_exceptions=False,
        )
