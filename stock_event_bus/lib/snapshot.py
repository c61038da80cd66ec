# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level snapshots: every key's level of a company or warehouse at one
point, stored, then read in keyset pages (``GET /api/stock/levels``) or
published to a queue (``odoo stock_level_snapshot``). No Odoo import.

Taking a snapshot is ONE statement (:data:`TAKE_SQL`): it copies the levels
(lib/levels.py's single definition, over :data:`levels.WAREHOUSE_KEYS`) and
the level sequence of every key into ``stock_level_snapshot_line``, and
stamps the snapshot's row with its count and time. One statement reads one
database snapshot, so every page is of the same point, whatever commits
between two page requests. Pages are keyset pages over that copy, ordered
by ``(warehouse_id, product_id)`` (the unique index of the line table).
The schema: ``schemas/stock_level_snapshot.v1.schema.json``.
"""

import datetime
import json
import re
import uuid

from . import events, levels
from .events import isoformat_utc, schemas_dir

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = schemas_dir() / "stock_level_snapshot.v1.schema.json"
SNAPSHOT = "LEVEL_SNAPSHOT"
SNAPSHOT_END = "LEVEL_SNAPSHOT_END"

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
MAX_ID = 2**31 - 1  # an Odoo id is a PostgreSQL integer
PARAMETERS = ("warehouse_id", "company_id", "limit", "snapshot", "after")

# code: (HTTP status, what it means). Besides these, the API layer shared
# with the inventory commands (stock_scalable's ir.http) answers
# ``unauthorized`` (401), ``forbidden`` (403, a user refused by Odoo),
# ``not_found`` (404) and ``method_not_allowed`` (405) in the same shape.
ERRORS = {
    "bad_parameter": (
        400,
        "A query parameter that is unknown, given twice, empty, not a whole number in range,"
        " not a snapshot id or cursor, or not allowed with the others.",
    ),
    "forbidden": (
        403,
        "The user has no Inventory rights, or the company or warehouse is not one of the"
        " user's companies.",
    ),
    "unknown_warehouse": (404, "No warehouse with this id."),
    "unknown_company": (404, "No company with this id."),
    "unknown_snapshot": (404, "No snapshot with this id taken by this user (or deleted)."),
    "snapshot_expired": (410, "The snapshot expired; take a new one (first page)."),
    "internal_error": (500, "The server failed; take a new snapshot later."),
}

_DIGITS = re.compile(r"[0-9]{1,10}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CURSOR = re.compile(r"([0-9]{1,10})\.([0-9]{1,10})")


class SnapshotError(Exception):
    """A request refused, with a code of :data:`ERRORS` (the same answer
    shape as the inventory commands': ``status`` and ``as_dict()``)."""

    def __init__(self, code, message, **details):
        assert code in ERRORS, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self):
        return ERRORS[self.code][0]

    def as_dict(self):
        """The error body: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": self.details}


def _bad(message):
    return SnapshotError("bad_parameter", message)


def _whole(name, value, low=1, high=MAX_ID):
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise _bad(f"{name} must be a whole number from {low} to {high}")
    return int(value)


def parse_query(args):
    """Check the query parameters of a page request, ``args`` a list of
    ``(name, value)`` pairs as sent. Returns a dict with ``warehouse_id``,
    ``company_id`` (first page), ``snapshot`` and ``after`` (next pages, as
    a ``(warehouse_id, product_id)`` pair) and ``limit``, None when absent.
    Raises :class:`SnapshotError` (``bad_parameter``).

    >>> parse_query([("warehouse_id", "3"), ("limit", "10")])["warehouse_id"]
    3
    >>> refusal([("limit", "10"), ("limit", "10")])
    'bad_parameter: limit is given twice'
    >>> refusal([("limit", "10001")])
    'bad_parameter: limit must be a whole number from 1 to 10000'
    >>> refusal([("warehouse_id", "\u0663")])  # an Arabic-Indic three
    'bad_parameter: warehouse_id must be a whole number from 1 to 2147483647'
    >>> refusal([("after", "1.2")])
    'bad_parameter: after needs snapshot (the snapshot id of the first page)'
    >>> parse_query([("snapshot", "5f0c6c9e-3d3a-4f7e-9d1b-6a1f0b2c3d4e"), ("after", "1.2")])[
    ...     "after"
    ... ]
    (1, 2)
    """
    seen = {}
    for name, value in args:
        if name not in PARAMETERS:
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise _bad(f"unknown parameter {shown!r}; known: {', '.join(PARAMETERS)}")
        if name in seen:
            raise _bad(f"{name} is given twice")
        seen[name] = value
    query = dict.fromkeys(PARAMETERS)
    query["limit"] = DEFAULT_LIMIT
    if "limit" in seen:
        query["limit"] = _whole("limit", seen["limit"], 1, MAX_LIMIT)
    for name in ("warehouse_id", "company_id"):
        if name in seen:
            query[name] = _whole(name, seen[name])
    if query["warehouse_id"] and query["company_id"]:
        raise _bad("give warehouse_id or company_id, not both")
    if "snapshot" in seen:
        if not _UUID.fullmatch(seen["snapshot"]):
            raise _bad("snapshot must be the snapshot id of a first page")
        if query["warehouse_id"] or query["company_id"]:
            raise _bad("a next page takes snapshot, after and limit: the scope is the snapshot's")
        query["snapshot"] = seen["snapshot"]
        if "after" not in seen:
            raise _bad("a next page needs after (the next cursor of the previous page)")
    if "after" in seen:
        if "snapshot" not in seen:
            raise _bad("after needs snapshot (the snapshot id of the first page)")
        cursor = _CURSOR.fullmatch(seen["after"])
        if not cursor or max(int(cursor[1]), int(cursor[2])) > MAX_ID:
            raise _bad("after must be the next cursor of the previous page")
        query["after"] = (int(cursor[1]), int(cursor[2]))
    return query


def refusal(args):
    """Why :func:`parse_query` refuses ``args`` (``"code: message"``), or
    None."""
    try:
        parse_query(args)
    except SnapshotError as exc:
        return str(exc)
    return None


def cursor_of(level):
    """The cursor after ``level`` (opaque to clients)."""
    return f"{level['warehouse_id']}.{level['product_id']}"


# One statement: every key's level and sequence, copied into the lines of
# snapshot %(snapshot)s, whose row gets the count and the statement's time.
# (An f-string of constants: levels_sql and WAREHOUSE_KEYS.)
TAKE_SQL = f"""
    WITH taken AS (
        INSERT INTO stock_level_snapshot_line
            (snapshot_id, product_id, warehouse_id, company_id, sequence, on_hand, reserved,
             default_code, barcode, uom, uom_rounding)
        SELECT %(snapshot)s, lv.product, lv.warehouse, lv.company, lv.seq, lv.on_hand,
               lv.reserved, lv.default_code, lv.barcode, lv.uom, lv.rounding
          FROM ({levels.levels_sql(levels.WAREHOUSE_KEYS)})
            AS lv(product, warehouse, company, seq, on_hand, reserved, default_code, barcode,
                  uom, rounding, at)
        RETURNING 1
    )
    UPDATE stock_level_snapshot
       SET total = (SELECT COUNT(*) FROM taken),
           taken_at = statement_timestamp() AT TIME ZONE 'UTC'
     WHERE id = %(snapshot)s
"""  # noqa: S608

# One keyset page: the lines after a (warehouse, product), one more than
# asked to know whether a next page exists. Columns as levels.level reads.
PAGE_SQL = """
    SELECT product_id, warehouse_id, company_id, sequence, on_hand, reserved,
           default_code, barcode, uom, uom_rounding
      FROM stock_level_snapshot_line
     WHERE snapshot_id = %s AND (warehouse_id, product_id) > (%s, %s)
     ORDER BY warehouse_id, product_id
     LIMIT %s
"""


def read_page(cr, snapshot_id, after=None, limit=DEFAULT_LIMIT):
    """The levels after ``after`` (a ``(warehouse_id, product_id)`` pair, or
    None for the first page) of stored snapshot ``snapshot_id`` (its
    database id), at most ``limit``: ``(levels, next cursor or None)``."""
    warehouse, product = after or (0, 0)
    cr.execute(PAGE_SQL, [snapshot_id, warehouse, product, limit + 1])
    rows = cr.fetchall()
    found = [levels.level(row) for row in rows[:limit]]
    return found, (cursor_of(found[-1]) if len(rows) > limit else None)


def page_body(header, found, next_cursor):
    """The JSON body of a page: ``header`` (:func:`header`) and its levels."""
    return dict(header, levels=found, next=next_cursor)


def header(uuid_, taken_at, company_id, warehouse_id, total):
    """What every page of a snapshot says about it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "snapshot": uuid_,
        "taken_at": isoformat_utc(taken_at),
        "company_id": company_id or None,
        "warehouse_id": warehouse_id or None,
        "total": total,
    }


# -- AMQP -----------------------------------------------------------------


def level_message(snapshot_uuid, taken_at, level):
    """``(message id, body bytes, properties)`` of one LEVEL_SNAPSHOT message."""
    body = dict(level, snapshot=snapshot_uuid, schema_version=SCHEMA_VERSION)
    message_id = f"{snapshot_uuid}.{cursor_of(level)}"
    return message_id, _dumps(body), _properties(message_id, SNAPSHOT, taken_at)


def end_message(snapshot_uuid, taken_at, total):
    """``(message id, body bytes, properties)`` of the LEVEL_SNAPSHOT_END
    message, published after every level of the snapshot."""
    body = {
        "schema_version": SCHEMA_VERSION,
        "snapshot": snapshot_uuid,
        "total": total,
        "taken_at": isoformat_utc(taken_at),
    }
    message_id = f"{snapshot_uuid}.end"
    return message_id, _dumps(body), _properties(message_id, SNAPSHOT_END, taken_at)


def _dumps(body):
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _properties(message_id, type_, taken_at):
    if taken_at.tzinfo is None:
        taken_at = taken_at.replace(tzinfo=datetime.timezone.utc)
    return {
        "message_id": message_id,
        "content_type": "application/json",
        "type": type_,
        "timestamp": int(taken_at.timestamp()),
        "headers": {"schema_version": SCHEMA_VERSION},
    }


class PublishError(Exception):
    """The snapshot could not be published whole; the message says why."""


def publish(publisher, queue, pages, snapshot_uuid, taken_at, total, attempts=5):
    """Publish a snapshot to ``queue`` through the default exchange with
    ``publisher`` (a lib.publisher.Publisher on exchange ``""``: persistent,
    mandatory, publisher confirms): one LEVEL_SNAPSHOT message per level of
    ``pages`` (an iterable of lists of levels, in key order), each page
    confirmed before the next, then LEVEL_SNAPSHOT_END. A message the broker
    nacks is published again (``attempts`` times in all); one that no queue
    takes (the queue was deleted) or a lost connection raises
    :class:`PublishError`. Returns the number of level messages."""
    count = 0
    for found in pages:
        _publish_batch(
            publisher,
            queue,
            [level_message(snapshot_uuid, taken_at, lv) for lv in found],
            attempts,
        )
        count += len(found)
    if count != total:
        raise PublishError(f"snapshot {snapshot_uuid}: {count} levels read, {total} taken")
    _publish_batch(publisher, queue, [end_message(snapshot_uuid, taken_at, total)], attempts)
    return count


def _publish_batch(publisher, queue, messages, attempts):
    from .publisher import NACKED, BrokerError  # noqa: PLC0415 - pika only when publishing

    pending = {message_id: (body, props) for message_id, body, props in messages}
    for _attempt in range(attempts):
        try:
            results = publisher.publish(
                [(mid, queue, body, props, True) for mid, (body, props) in pending.items()]
            )
        except BrokerError as exc:
            raise PublishError(str(exc)) from None
        refused = {mid: reason for mid, reason in results.items() if reason}
        unroutable = [reason for reason in refused.values() if reason != NACKED]
        if unroutable:
            raise PublishError(f"queue {queue!r}: {unroutable[0]}")
        missing = set(pending) - set(results)
        pending = {mid: pending[mid] for mid in set(refused) | missing}
        if not pending:
            return
    raise PublishError(f"queue {queue!r}: {len(pending)} message(s) nacked {attempts} times")


def new_uuid():
    """A snapshot's public id."""
    return str(uuid.uuid4())


def load_schema():
    return json.loads(SCHEMA_PATH.read_text())


_validators = {}


def validate(document, kind):
    """Raise ``ValueError`` naming the first problem of ``document`` against
    the schema's ``$defs/<kind>`` (page, level, snapshot_level,
    snapshot_end, error)."""
    validator = _validators.get(kind)
    if validator is None:
        schema = load_schema()
        validator = _validators[kind] = events.SchemaCheck(
            {"$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}
        )
    error = validator.first_error(document)
    if error is not None:
        raise ValueError(
            f"{kind} does not follow schema {SCHEMA_VERSION}: {events.error_text(error)}"
        )
