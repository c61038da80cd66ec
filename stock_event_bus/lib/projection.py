# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A downstream projection of stock levels: one row per (product,
warehouse) in a local SQLite (standard library) or PostgreSQL (psycopg2,
``pip install "stock-events-client[postgresql]"``) database. No Odoo import.

The database is chosen by URL: ``sqlite:///levels.db`` (a relative path),
``sqlite:////var/lib/shop/levels.db`` (an absolute one) or
``postgresql://user:password@host:5432/dbname``. The table::

    stock_levels(company_id, warehouse_id, product_id, default_code, barcode,
                 on_hand, reserved, available, uom, sequence, updated_at)
    PRIMARY KEY (product_id, warehouse_id)

Rules (the projection rule of the level schema): a key keeps the level of
the highest ``sequence`` it was given. :meth:`Projection.apply` (a LEVEL
event) changes a row only when the event's sequence is higher than the
stored one, so a duplicate or a late copy changes nothing, and a skipped
number loses nothing (levels are absolute). :meth:`Projection.apply_snapshot`
(rows of a snapshot, sequence 0 for a key without a level event yet)
replaces a row when its sequence is higher or equal (a snapshot of the same
sequence is at least as new). The stored sequence is the inbox: it is
written in the same local transaction as the levels, so a message acked
after :meth:`~Projection.apply` returned is applied exactly once in effect.

>>> projection = Projection("sqlite:///:memory:")
>>> level = {"company_id": 1, "warehouse_id": 1, "product_id": 42,
...          "default_code": "FURN_7800", "barcode": None, "sequence": 7,
...          "on_hand": 10.0, "reserved": 3.0, "available": 7.0, "uom": "Units"}
>>> projection.apply(level), projection.apply(level)  # a duplicate
(True, False)
>>> projection.apply(dict(level, sequence=6, available=99.0))  # older
False
>>> projection.apply(dict(level, sequence=9, reserved=4.0, available=6.0))
True
>>> row = projection.get(42, 1)
>>> row["sequence"], row["on_hand"], row["available"]
(9, 10.0, 6.0)
>>> projection.apply_snapshot([dict(level, sequence=9, reserved=0.0, available=10.0)])
1
>>> projection.get(42, 1)["available"]
10.0
>>> projection.close()
"""

import contextlib
import datetime
import os
import sqlite3
import urllib.parse

from .config import mask_url

COLUMNS = (
    "company_id",
    "warehouse_id",
    "product_id",
    "default_code",
    "barcode",
    "on_hand",
    "reserved",
    "available",
    "uom",
    "sequence",
    "updated_at",
)
LEVEL_FIELDS = COLUMNS[:-1]  # what a level gives; updated_at is local
QUANTITIES = ("on_hand", "reserved", "available")
BATCH_SIZE = 1000

# SQL of both dialects, written with %s (psycopg2's placeholder; SQLite's ?
# is substituted by _Cursor). Quantities are REAL in SQLite, double
# precision in PostgreSQL (the JSON numbers as they came).
CREATE_SQL = {
    "sqlite": """
        CREATE TABLE IF NOT EXISTS stock_levels (
            company_id integer NOT NULL,
            warehouse_id integer NOT NULL,
            product_id integer NOT NULL,
            default_code text,
            barcode text,
            on_hand REAL NOT NULL,
            reserved REAL NOT NULL,
            available REAL NOT NULL,
            uom text NOT NULL,
            sequence bigint NOT NULL,
            updated_at text NOT NULL,
            PRIMARY KEY (product_id, warehouse_id)
        )
    """,
    "postgresql": """
        CREATE TABLE IF NOT EXISTS stock_levels (
            company_id integer NOT NULL,
            warehouse_id integer NOT NULL,
            product_id integer NOT NULL,
            default_code text,
            barcode text,
            on_hand double precision NOT NULL,
            reserved double precision NOT NULL,
            available double precision NOT NULL,
            uom text NOT NULL,
            sequence bigint NOT NULL,
            updated_at text NOT NULL,
            PRIMARY KEY (product_id, warehouse_id)
        )
    """,
}
CREATE_STATE_SQL = """
    CREATE TABLE IF NOT EXISTS stock_events_state (name text PRIMARY KEY, value text NOT NULL)
"""
_UPSERT = """
    INSERT INTO stock_levels
        (company_id, warehouse_id, product_id, default_code, barcode,
         on_hand, reserved, available, uom, sequence, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (product_id, warehouse_id) DO UPDATE SET
        company_id = excluded.company_id, default_code = excluded.default_code,
        barcode = excluded.barcode, on_hand = excluded.on_hand,
        reserved = excluded.reserved, available = excluded.available,
        uom = excluded.uom, sequence = excluded.sequence, updated_at = excluded.updated_at
"""
# A level event: only a higher sequence changes the row.
APPLY_SQL = _UPSERT + " WHERE excluded.sequence > stock_levels.sequence"
# A snapshot row: a higher sequence, or the same one with other quantities
# (the row was changed by hand or by a bug: the snapshot is Odoo's truth).
SNAPSHOT_SQL = (
    _UPSERT
    + """
    WHERE excluded.sequence > stock_levels.sequence
       OR (excluded.sequence = stock_levels.sequence
           AND (excluded.on_hand <> stock_levels.on_hand
                OR excluded.reserved <> stock_levels.reserved
                OR excluded.available <> stock_levels.available))
"""
)
# Compare and set: replace a row only if it still has the sequence read.
REPLACE_SQL = """
    UPDATE stock_levels
       SET company_id = %s, default_code = %s, barcode = %s, on_hand = %s, reserved = %s,
           available = %s, uom = %s, sequence = %s, updated_at = %s
     WHERE product_id = %s AND warehouse_id = %s AND sequence = %s
"""
DELETE_SQL = """
    DELETE FROM stock_levels WHERE product_id = %s AND warehouse_id = %s AND sequence = %s
"""
SELECT_SQL = """
    SELECT company_id, warehouse_id, product_id, default_code, barcode,
           on_hand, reserved, available, uom, sequence, updated_at
      FROM stock_levels
"""
SELECT_KEY_SQL = SELECT_SQL + " WHERE product_id = %s AND warehouse_id = %s"
SELECT_SEQUENCE_SQL = (
    "SELECT sequence FROM stock_levels WHERE product_id = %s AND warehouse_id = %s"
)
SELECT_COMPANY_SQL = SELECT_SQL + " WHERE company_id = %s"
SELECT_WAREHOUSE_SQL = SELECT_SQL + " WHERE warehouse_id = %s"
SET_STATE_SQL = """
    INSERT INTO stock_events_state (name, value) VALUES (%s, %s)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value
"""
STATE_SQL = "SELECT name, value FROM stock_events_state"
COUNT_SQL = "SELECT COUNT(*) FROM stock_levels"


class ProjectionError(Exception):
    """A projection URL or database that cannot be used."""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _row_values(level, updated_at):
    try:
        return [level[f] for f in LEVEL_FIELDS] + [updated_at]
    except KeyError as exc:
        raise ValueError(f"a level without {exc.args[0]!r}: {level!r}") from None


def _dedup(levels):
    """One level per key, the highest sequence (first seen on a tie), in key
    order: one statement may not touch a row twice (PostgreSQL), and two
    writers lock rows in the same order."""
    best = {}
    for level in levels:
        key = (level["product_id"], level["warehouse_id"])
        if key not in best or level["sequence"] > best[key]["sequence"]:
            best[key] = level
    return [best[key] for key in sorted(best)]


class Projection:
    """Stock levels kept in a local database (see the module's doc).

    Every method that writes runs ONE local transaction and commits it
    before it returns: the caller acks its message after that."""

    def __init__(self, url, *, must_exist=False):
        """``must_exist``: refuse a projection with no ``stock_levels``
        table yet (reconcile: a mistyped path must not make a new one)."""
        self.url = url
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme == "sqlite":
            self.dialect = "sqlite"
            if must_exist:
                self._require_file(url)
            self._connection = self._open_sqlite(url)
        elif scheme in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self._connection = self._open_postgresql(url)
        else:
            raise ProjectionError(
                f"unknown projection database {mask_url(url)!r}: give sqlite:///path.db or"
                " postgresql://user@host/dbname"
            )
        try:
            with self._transaction() as cr:
                columns = self._columns(cr)
                if must_exist and not columns:
                    raise ProjectionError(
                        f"{mask_url(url)} has no stock_levels table: run stock-events sync first"
                    )
                if columns and not set(COLUMNS) <= columns:
                    raise ProjectionError(
                        f"{mask_url(url)} has a stock_levels table of other columns"
                        f" ({', '.join(sorted(columns))}): give another database"
                    )
                cr.execute(CREATE_SQL[self.dialect])
                cr.execute(CREATE_STATE_SQL)
        except ProjectionError:
            self.close()
            raise

    def _columns(self, cr):
        """The columns of an existing stock_levels table (empty: none)."""
        if self.dialect == "sqlite":
            cr.execute("SELECT name FROM pragma_table_info('stock_levels')")
        else:
            cr.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'stock_levels' AND table_schema = current_schema()"
            )
        return {row[0] for row in cr.fetchall()}

    @staticmethod
    def _require_file(url):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = urllib.parse.unquote(path.split("?", 1)[0])
        if path and path != ":memory:" and not os.path.isfile(path):
            raise ProjectionError(f"no projection at {path}: run stock-events sync first")

    # Connections ---------------------------------------------------------

    @staticmethod
    def _open_sqlite(url):
        # sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path:
            raise ProjectionError(f"no file in {url!r}: give sqlite:///path.db")
        path = urllib.parse.unquote(path.split("?", 1)[0])
        if path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise ProjectionError(f"no folder {folder} for the SQLite file of {url!r}")
        try:
            # isolation_level=None: transactions are ours (BEGIN IMMEDIATE
            # below), not the module's implicit ones.
            connection = sqlite3.connect(path, timeout=60, isolation_level=None)
            if path != ":memory:":
                # WAL: the shop reads while the sync writes. synchronous
                # stays FULL: a commit is on disk before the message is acked.
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise ProjectionError(f"cannot open the SQLite file of {url!r}: {exc}") from None
        return connection

    @staticmethod
    def _open_postgresql(url):
        try:
            import psycopg2  # noqa: PLC0415 - optional: the [postgresql] extra
        except ImportError:
            raise ProjectionError(
                "a PostgreSQL projection needs psycopg2:"
                ' pip install "stock-events-client[postgresql]"'
            ) from None
        try:
            return psycopg2.connect(url)
        except psycopg2.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ProjectionError(f"cannot connect to {mask_url(url)}: {reason}") from None

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def _transaction(self):
        """One local transaction: commit when the block ends, roll back when
        it raises. SQLite's is BEGIN IMMEDIATE (the write lock from the
        start: two writers, say sync and reconcile, wait for each other
        instead of failing when one upgrades a read lock)."""
        connection = self._connection
        if self.dialect == "sqlite":
            cr = connection.cursor()
            cr.execute("BEGIN IMMEDIATE")
            try:
                yield _Cursor(cr, "sqlite")
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        else:
            try:
                with connection.cursor() as cr:
                    yield _Cursor(cr, "postgresql")
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    # Writing ---------------------------------------------------------------

    def apply(self, level):
        """Apply one LEVEL event (or any level) in one local transaction:
        the row changes only when ``level["sequence"]`` is higher than the
        stored one. Returns whether it changed the row."""
        with self._transaction() as cr:
            cr.execute(APPLY_SQL, _row_values(level, _utcnow()))
            return cr.rowcount > 0

    def apply_snapshot_row(self, level):
        """Apply one row of a snapshot in one local transaction: it replaces
        the stored row when its sequence is higher or equal (and something
        differs). Returns whether it changed the row."""
        with self._transaction() as cr:
            cr.execute(SNAPSHOT_SQL, _row_values(level, _utcnow()))
            return cr.rowcount > 0

    def apply_many(self, levels, *, snapshot=False, batch_size=BATCH_SIZE):
        """Apply many levels (events, or with ``snapshot=True`` snapshot
        rows) in batches of ``batch_size``: one statement executed for the
        batch's rows and one commit per batch. Returns the number of rows
        changed."""
        sql = SNAPSHOT_SQL if snapshot else APPLY_SQL
        levels = list(levels)
        changed = 0
        for start in range(0, len(levels), batch_size):
            batch = _dedup(levels[start : start + batch_size])
            now = _utcnow()
            with self._transaction() as cr:
                changed += cr.executemany(sql, [_row_values(level, now) for level in batch])
        return changed

    def apply_snapshot(self, levels, *, batch_size=BATCH_SIZE):
        """:meth:`apply_many` of snapshot rows."""
        return self.apply_many(levels, snapshot=True, batch_size=batch_size)

    def replace(self, level, expected_sequence):
        """Replace the row of ``level``'s key by ``level`` whatever their
        sequences, but only if the stored row still has
        ``expected_sequence`` (compare and set: a level applied meanwhile
        wins). Returns whether it replaced the row."""
        values = dict(zip(COLUMNS, _row_values(level, _utcnow()), strict=True))
        key = [values.pop("product_id"), values.pop("warehouse_id")]
        with self._transaction() as cr:
            cr.execute(REPLACE_SQL, [*values.values(), *key, expected_sequence])
            return cr.rowcount > 0

    def delete(self, product_id, warehouse_id, expected_sequence):
        """Delete a key's row if it still has ``expected_sequence``."""
        with self._transaction() as cr:
            cr.execute(DELETE_SQL, [product_id, warehouse_id, expected_sequence])
            return cr.rowcount > 0

    def set_state(self, **values):
        """Remember ``name=value`` pairs (text) in the state table, e.g. the
        last snapshot applied."""
        with self._transaction() as cr:
            for name, value in sorted(values.items()):
                cr.execute(SET_STATE_SQL, [name, str(value)])

    # Reading ---------------------------------------------------------------

    def state(self):
        """The state table as a dict."""
        with self._transaction() as cr:
            cr.execute(STATE_SQL)
            return dict(cr.fetchall())

    def get(self, product_id, warehouse_id):
        """The row of one key as a dict, or None."""
        with self._transaction() as cr:
            cr.execute(SELECT_KEY_SQL, [product_id, warehouse_id])
            row = cr.fetchone()
        return dict(zip(COLUMNS, row, strict=True)) if row else None

    def sequences(self, keys):
        """The stored sequence of each of ``keys`` ((product_id,
        warehouse_id) pairs) that has a row, read in one transaction."""
        found = {}
        with self._transaction() as cr:
            for key in sorted(set(keys)):
                cr.execute(SELECT_SEQUENCE_SQL, list(key))
                row = cr.fetchone()
                if row:
                    found[key] = row[0]
        return found

    def levels(self, *, company_id=None, warehouse_id=None):
        """Every row (of a company or a warehouse), as
        ``{(product_id, warehouse_id): row dict}``."""
        if warehouse_id is not None and company_id is not None:
            raise ValueError("give a company or a warehouse, not both")
        sql, params = SELECT_SQL, []
        if company_id is not None:
            sql, params = SELECT_COMPANY_SQL, [company_id]
        if warehouse_id is not None:
            sql, params = SELECT_WAREHOUSE_SQL, [warehouse_id]
        with self._transaction() as cr:
            cr.execute(sql, params)
            rows = cr.fetchall()
        return {(row[2], row[1]): dict(zip(COLUMNS, row, strict=True)) for row in rows}

    def count(self):
        with self._transaction() as cr:
            cr.execute(COUNT_SQL)
            return cr.fetchone()[0]


class _Cursor:
    """A DB-API cursor taking %s placeholders in both dialects. Its SQL is
    always one of this module's constants, the values always parameters."""

    def __init__(self, cursor, dialect):
        self._cursor = cursor
        self._sqlite = dialect == "sqlite"

    def _sql(self, sql):
        return sql.replace("%s", "?") if self._sqlite else sql

    def execute(self, sql, params=()):
        self._cursor.execute(self._sql(sql), params)  # pylint: disable=sql-injection

    def executemany(self, sql, rows):
        """Run ``sql`` for each of ``rows``; the number of rows changed."""
        if not rows:
            return 0
        if self._sqlite:
            self._cursor.executemany(self._sql(sql), rows)  # pylint: disable=sql-injection
            return self._cursor.rowcount
        # psycopg2's executemany is one round trip per row; execute_values
        # sends the batch as one multi-row INSERT (its rowcount is the
        # statement's when the batch fits one page).
        from psycopg2.extras import execute_values  # noqa: PLC0415

        values = "VALUES (" + ", ".join(["%s"] * len(rows[0])) + ")"
        template_sql = sql.replace(values, "VALUES %s")
        execute_values(self._cursor, template_sql, rows, page_size=len(rows))
        return self._cursor.rowcount

    @property
    def rowcount(self):
        return self._cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()
