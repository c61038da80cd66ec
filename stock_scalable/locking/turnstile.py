# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Per-product turnstile: a posting that lost a lock race on a product goes
first on its retry.

Under REPEATABLE READ, a transaction that waited for a quant row gets a
serialization failure when the holder commits, and Odoo's RPC layer replays
the request after a random pause. On a hot product, the replay meets the
same crowd and can lose five times in a row. The turnstile makes the replay
win:

* every quant lock statement first takes a *shared* transaction-level
  advisory lock per product (``gate_sql``): free when nobody is retrying, so
  ordinary postings never wait on each other here;
* when a quant lock statement fails with a serialization failure, the cursor
  is marked with the products involved (``mark``);
* the replay's first statement, before its snapshot exists, takes the
  *exclusive* lock of those products (``_enter``): it waits for the postings
  that hold the gate to end, and postings that come later queue behind it.
  Its snapshot is then taken with nobody else able to change those quants,
  so the replay does not fail on them again. Replays queue in arrival order
  (PostgreSQL's lock queue).

The exclusive lock is taken at session level only for the instant between
the wait (outside any transaction, so the wait does not age the snapshot)
and the first statement of the replay, where it becomes transaction-level:
the transaction's end releases it, whatever happens, so a pooled connection
never keeps it.

Odoo is not patched. ``mark`` gives the one cursor object that lost the race
an ``execute`` of its own (an attribute of that object, which lives as long
as its request): at the replay's first statement it enters the turnstile and
removes itself. Every other cursor, and every statement of a request that
lost no race, runs Odoo's ``Cursor.execute`` untouched; nothing of the
process changes. Test cursors (``TestCursor``: the one real cursor a test's
requests share, replays included, inside a savepoint) are left alone: there a
mark has no effect.
"""

import types

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import sql_db
from odoo.tools import SQL

# classid of the two-integer advisory locks (objid = product id): "SS".
LOCK_CLASS = 0x5353
_PENDING = "_sscale_turnstile_pending"
_HELD = "_sscale_turnstile_held"
_EXECUTE = "execute"


def gate_sql(product_ids):
    """Lock protocol, invariant 4 (docs/architecture.md). A condition to
    AND into a quant lock statement: waits (shared) while a replay holds the
    turnstile of one of ``product_ids``. PostgreSQL runs it once, before
    locking any row (an InitPlan one-time filter)."""
    return SQL(
        "(SELECT COUNT(pg_advisory_xact_lock_shared(%s, p)) FROM unnest(%s::int[]) p) >= 0",
        LOCK_CLASS,
        sorted(set(product_ids)),
    )


def mark(cr, product_ids):
    """The current transaction lost a lock race on ``product_ids``: its replay
    goes through the turnstile (with the products it already held). Only
    ``cr`` changes: it gets its own ``execute`` until the replay's first
    statement."""
    products = set(product_ids) | cr.__dict__.get(_HELD, set()) | cr.__dict__.get(_PENDING, set())
    cr.__dict__[_PENDING] = products
    if isinstance(cr, sql_db.Cursor):
        cr.__dict__[_EXECUTE] = types.MethodType(_execute, cr)


def marked(cr):
    """The products whose turnstile the next transaction of ``cr`` enters
    first (empty when none)."""
    return set(cr.__dict__.get(_PENDING, ()))


def _enter(cr, products):
    """Outside any transaction: wait for the turnstile, then open the replay's
    transaction holding it."""
    ids = sorted(products)
    raw = cr._obj
    held = []
    try:
        for product_id in ids:
            # Session level, in a throwaway transaction committed at once.
            raw.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, product_id))
            held.append(product_id)
            cr._cnx.commit()
        # First statement of the replay: the snapshot starts here, with the
        # turnstile held at transaction level; the session level goes.
        raw.execute(
            "SELECT pg_advisory_xact_lock(%s, p) FROM unnest(%s::int[]) p", (LOCK_CLASS, ids)
        )
        # Only now (the transaction level is held) let the session level go.
        raw.execute("SELECT pg_advisory_unlock(%s, p) FROM unnest(%s::int[]) p", (LOCK_CLASS, ids))
        held = []
    finally:
        if held:
            # Interrupted (deadlock, cancel): give back what was taken.
            cr._cnx.rollback()
            raw.execute(
                "SELECT pg_advisory_unlock(%s, p) FROM unnest(%s::int[]) p",
                (LOCK_CLASS, held),
            )
            cr._cnx.commit()
    cr.__dict__[_HELD] = set(ids)
    cr.postcommit.add(lambda: cr.__dict__.pop(_HELD, None))


def _execute(self, query, params=None, log_exceptions=True):
    """The ``execute`` of a marked cursor: the first statement of its next
    transaction enters the turnstile; then the cursor's own ``execute`` goes
    and Odoo's runs from then on."""
    pending = self.__dict__.get(_PENDING)
    if pending and self._cnx.info.transaction_status == TRANSACTION_STATUS_IDLE:
        del self.__dict__[_PENDING]
        try:
            _enter(self, pending)
        except Exception:
            self.__dict__[_PENDING] = pending  # the next replay tries again
            raise
        self.__dict__.pop(_EXECUTE, None)
    elif not pending:
        self.__dict__.pop(_EXECUTE, None)
    return sql_db.Cursor.execute(self, query, params, log_exceptions)
