# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Materialized views owned by stock_scalable_reporting.

Every object is named with :data:`PREFIX`, so that the uninstall hook finds
them all. Refreshes are serialized by a transaction-level advisory lock, so at
most one runs per view and a second caller returns at once instead of queueing
behind it. ``REFRESH ... CONCURRENTLY`` lets readers go on during a refresh; it
needs a unique index on plain columns.
"""

import hashlib
import time
import zlib
from typing import NamedTuple

from odoo.tools import SQL

PREFIX = "sscale_rpt_"
# First key of the two-int advisory lock: the namespace of our refreshes.
ADVISORY_NAMESPACE = 0x55CA1E


class Definition(NamedTuple):
    """A materialized view: its query (an ``SQL``), what it holds in words
    (its label on the Report Refreshes screen), its indexes (lists of
    columns) beside the unique one that ``REFRESH ... CONCURRENTLY`` needs,
    and that one's columns (a row number, ``id``, unless said)."""

    query: object
    label: str
    indexes: tuple = ()
    unique: tuple = ("id",)


def _identifier(name):
    if not name.startswith(PREFIX):
        raise ValueError(f"materialized view {name!r} must start with {PREFIX!r}")
    return SQL.identifier(name)


def advisory_key(name):
    """Stable 32-bit key of a view name, for pg_try_advisory_xact_lock."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def definition_tag(query, unique_columns=(), indexes=()):
    """A stable tag of a view's definition (query and indexes), stored as the
    view's comment: an upgrade rebuilds a view whose tag changed."""
    text = repr((query.code, query.params, list(unique_columns), [list(i) for i in indexes]))
    return "stock_scalable_reporting " + hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_tag(cr, name):
    """The definition tag stored on view ``name``, or None (missing view, or
    one created before tags existed)."""
    cr.execute(SQL("SELECT obj_description(to_regclass(%s), 'pg_class')", name))
    row = cr.fetchone()
    return row[0] if row else None


def create(cr, name, query, unique_columns, indexes=()):
    """(Re)create materialized view ``name`` from ``query`` (an ``SQL``),
    WITH NO DATA, plus the unique index that ``REFRESH ... CONCURRENTLY``
    needs and the other ``indexes`` (lists of columns). Views that read it
    go with it (CASCADE)."""
    ident = _identifier(name)
    cr.execute(SQL("DROP MATERIALIZED VIEW IF EXISTS %s CASCADE", ident))
    cr.execute(SQL("CREATE MATERIALIZED VIEW %s AS %s WITH NO DATA", ident, query))
    cr.execute(
        SQL(
            "COMMENT ON MATERIALIZED VIEW %s IS %s",
            ident,
            definition_tag(query, unique_columns, indexes),
        )
    )
    named = [(f"{name}_uniq", SQL("UNIQUE"), unique_columns)] + [
        (f"{name}_idx{number}", SQL(""), columns) for number, columns in enumerate(indexes, 1)
    ]
    for index, unique, columns in named:
        cr.execute(
            SQL(
                "CREATE %s INDEX %s ON %s (%s)",
                unique,
                SQL.identifier(index),
                ident,
                SQL(", ").join(SQL.identifier(c) for c in columns),
            )
        )


def exists(cr, name):
    """Whether materialized view ``name`` is in the database."""
    cr.execute(SQL("SELECT 1 FROM pg_matviews WHERE matviewname = %s", name))
    return bool(cr.fetchone())


def existing_matviews(cr, prefix=PREFIX):
    """Names of the materialized views whose names start with ``prefix``,
    in the order they were created."""
    cr.execute(
        SQL(
            "SELECT relname FROM pg_class WHERE relkind = 'm' AND relname LIKE %s"
            " AND relnamespace = current_schema()::regnamespace ORDER BY oid",
            prefix.replace("_", r"\_") + "%",
        )
    )
    return [row[0] for row in cr.fetchall()]


def table_exists(cr, name):
    """Whether table ``name`` is in the database."""
    cr.execute(SQL("SELECT to_regclass(%s) IS NOT NULL", name))
    return cr.fetchone()[0]


def is_populated(cr, name):
    cr.execute(SQL("SELECT ispopulated FROM pg_matviews WHERE matviewname = %s", name))
    row = cr.fetchone()
    return bool(row and row[0])


def refresh(cr, name, lock=True, analyze=False):
    """Refresh ``name`` under its advisory lock, in the caller's transaction.

    Returns the duration in seconds, or ``None`` when another refresh of the
    same view holds the lock (nothing is done then). The first refresh of a
    view that was created WITH NO DATA cannot be concurrent; later ones are.
    With ``analyze``, the planner's statistics are taken at once (a refresh
    does not, and autovacuum comes later), so that the next reads get good
    plans.
    """
    ident = _identifier(name)
    # Transaction-level advisory lock, tried without waiting: a second
    # refresh returns at once; the lock goes with the commit or rollback.
    if lock and not try_lock(cr, name):
        return None
    started = time.monotonic()
    if is_populated(cr, name):
        cr.execute(SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY %s", ident))
    else:
        cr.execute(SQL("REFRESH MATERIALIZED VIEW %s", ident))
    if analyze:
        cr.execute(SQL("ANALYZE %s", ident))
    return time.monotonic() - started


def try_lock(cr, name):
    """Take the refresh lock of ``name`` for this transaction, if free."""
    cr.execute(
        SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", ADVISORY_NAMESPACE, advisory_key(name))
    )
    return cr.fetchone()[0]


def existing(cr, prefix=PREFIX):
    """(kind, name) of this addon's materialized views, views, tables,
    functions, and indexes on other tables (Odoo's), whose names start with
    ``prefix`` (a bridge addon's own prefix starts with PREFIX)."""
    if not prefix.startswith(PREFIX):
        raise ValueError(f"prefix {prefix!r} must start with {PREFIX!r}")
    cr.execute(
        SQL(
            """
        SELECT 'index', indexname FROM pg_indexes
         WHERE schemaname = current_schema() AND indexname LIKE %(p)s
           AND tablename NOT LIKE %(p)s
        UNION ALL
        SELECT 'matview', matviewname FROM pg_matviews WHERE matviewname LIKE %(p)s
        UNION ALL
        SELECT 'view', viewname FROM pg_views WHERE viewname LIKE %(p)s
        UNION ALL
        SELECT 'table', tablename FROM pg_tables
         WHERE schemaname = current_schema() AND tablename LIKE %(p)s
        UNION ALL
        SELECT 'function', p.oid::regprocedure::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.proname LIKE %(p)s
            """,
            p=prefix.replace("_", r"\_") + "%",
        )
    )
    return cr.fetchall()


def drop_all(cr, prefix=PREFIX):
    """Drop every object of this addon, or of the bridge addon whose objects
    start with ``prefix`` (the indexes of its views and tables go with
    them)."""
    for kind, name in existing(cr, prefix):
        if kind == "index":
            cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
        elif kind == "function":
            # regprocedure text, e.g. sscale_rpt_f(integer): already quoted.
            cr.execute(SQL("DROP FUNCTION IF EXISTS %s CASCADE", SQL(name)))
        elif kind == "table":
            cr.execute(SQL("DROP TABLE IF EXISTS %s CASCADE", SQL.identifier(name)))
        elif kind == "matview":
            cr.execute(SQL("DROP MATERIALIZED VIEW IF EXISTS %s CASCADE", SQL.identifier(name)))
        else:
            cr.execute(SQL("DROP VIEW IF EXISTS %s CASCADE", SQL.identifier(name)))
