# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level events: the absolute on-hand, reserved and available quantity of
one (product, warehouse), computed when dispatched. No Odoo import.

A transaction that changes quants appends one marker row per key it touched
to ``stock_level_change`` (plain INSERT: no counter, no unique index, nothing
for two postings or reservations to wait on). A dispatcher, in one
transaction of its own (:func:`materialize`):

1. claims markers (``DELETE ... FOR UPDATE SKIP LOCKED RETURNING``);
2. locks and bumps each key's row of ``stock_level_sequence`` (only
   dispatchers write it), in key order;
3. then reads the levels with a new statement: under READ COMMITTED it sees
   every commit made before it got the lock, so a key's levels follow its
   sequence in commit order;
4. writes one LEVEL event per key into the outbox, which the normal publish
   path sends with confirms (routing key ``stock_level.<company>.<warehouse>``,
   events.routing_key).

The levels are Odoo's for the warehouse: quants of every location under the
warehouse's view location (``product.with_context(warehouse_id=W)``:
``qty_available``, reserved, ``free_qty``), in the product's unit.
"""

import decimal
import uuid

from .events import LEVEL as EVENT_TYPE
from .events import SCHEMA_VERSION, isoformat_utc

MARKER_BATCH = 1000

CLAIM_SQL = """
    DELETE FROM stock_level_change
     WHERE id IN (SELECT id FROM stock_level_change
                   ORDER BY id LIMIT %s
                     FOR UPDATE SKIP LOCKED)
    RETURNING product_id, warehouse_id
"""

# Keys of products and warehouses that still exist, in key order (two
# dispatchers lock their common keys in the same order).
BUMP_SQL = """
    INSERT INTO stock_level_sequence (product_id, warehouse_id, last_sequence)
    SELECT k.product, k.warehouse, 1
      FROM unnest(%s::int[], %s::int[]) AS k(product, warehouse)
      JOIN product_product pp ON pp.id = k.product
      JOIN stock_warehouse wh ON wh.id = k.warehouse
     ORDER BY k.product, k.warehouse
    ON CONFLICT (product_id, warehouse_id)
    DO UPDATE SET last_sequence = stock_level_sequence.last_sequence + 1
    RETURNING product_id, warehouse_id, last_sequence
"""

# The sequence each key's next LEVEL event would get, read only (no lock,
# nothing bumped): the keys BUMP_SQL would number, in the same order.
NEXT_SEQUENCES_SQL = """
    SELECT k.product, k.warehouse, COALESCE(s.last_sequence, 0) + 1
      FROM unnest(%s::int[], %s::int[]) AS k(product, warehouse)
      JOIN product_product pp ON pp.id = k.product
      JOIN stock_warehouse wh ON wh.id = k.warehouse
      LEFT JOIN stock_level_sequence s
        ON s.product_id = k.product AND s.warehouse_id = k.warehouse
     ORDER BY k.product, k.warehouse
"""


def levels_sql(keys):
    """The one definition of a key's levels: a SELECT of the rows
    ``(product, warehouse, company, sequence, on_hand, reserved,
    default_code, barcode, uom, uom rounding, statement time)`` of the keys
    that ``keys`` yields, a FROM item naming ``k(product, warehouse, seq)``:
    :data:`KEY_LIST` (given keys, the dispatcher) or :data:`WAREHOUSE_KEYS`
    (every key of some warehouses, a snapshot). Quantities are the raw sums
    (zero when no quant is left), rounded by :func:`level`."""
    return f"""
    SELECT k.product, k.warehouse, wh.company_id, k.seq,
           COALESCE(s.on_hand, 0), COALESCE(s.reserved, 0),
           pp.default_code, pp.barcode,
           COALESCE(uom.name->>'en_US', uom.name->>(SELECT key FROM jsonb_each_text(uom.name)
                                                   LIMIT 1)),
           uom.rounding, statement_timestamp() AT TIME ZONE 'UTC'
      FROM {keys}
      JOIN stock_warehouse wh ON wh.id = k.warehouse
      JOIN stock_location view ON view.id = wh.view_location_id
      JOIN product_product pp ON pp.id = k.product
      JOIN product_template pt ON pt.id = pp.product_tmpl_id
      JOIN uom_uom uom ON uom.id = pt.uom_id
      LEFT JOIN LATERAL (
            SELECT SUM(q.quantity) AS on_hand, SUM(q.reserved_quantity) AS reserved
              FROM stock_quant q
              JOIN stock_location loc ON loc.id = q.location_id
             WHERE q.product_id = k.product
               AND loc.parent_path LIKE view.parent_path || '%%'
      ) s ON TRUE
"""  # noqa: S608 - keys is one of this module's constants


# Given keys and their sequences: three arrays (products, warehouses,
# sequences).
KEY_LIST = "unnest(%s::int[], %s::int[], %s::int[]) AS k(product, warehouse, seq)"

# Every key of the warehouses %(warehouses)s (an int array): a product with a
# quant under the warehouse's view location, or with a level sequence (its
# quants may be gone: then its levels are zero), with its last level
# sequence (0 when none yet).
WAREHOUSE_KEYS = """(
        SELECT keys.product, keys.warehouse, COALESCE(ls.last_sequence, 0)
          FROM (SELECT q.product_id, wh.id
                  FROM stock_warehouse wh
                  JOIN stock_location view ON view.id = wh.view_location_id
                  JOIN stock_location loc ON loc.parent_path LIKE view.parent_path || '%%'
                  JOIN stock_quant q ON q.location_id = loc.id
                 WHERE wh.id = ANY(%(warehouses)s)
                UNION
                SELECT product_id, warehouse_id FROM stock_level_sequence
                 WHERE warehouse_id = ANY(%(warehouses)s)
               ) AS keys(product, warehouse)
          LEFT JOIN stock_level_sequence ls
            ON ls.product_id = keys.product AND ls.warehouse_id = keys.warehouse
       ) AS k(product, warehouse, seq)"""

# Run after BUMP_SQL, as a statement of its own: its snapshot is taken once
# the key rows are locked.
LEVELS_SQL = levels_sql(KEY_LIST)

INSERT_SQL = """
    INSERT INTO stock_event_outbox
        (event_uuid, company_id, warehouse_id, product_id, event_type, quantity,
         sequence, payload, state, attempts, create_date, write_date)
    SELECT e.uuid, e.company, e.warehouse, e.product, %s, e.available, e.seq, e.payload,
           'pending', 0, NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC'
      FROM unnest(%s::varchar[], %s::int[], %s::int[], %s::int[], %s::float8[], %s::int[],
                  %s::jsonb[])
             AS e(uuid, company, warehouse, product, available, seq, payload)
"""


def float_round(value, rounding):
    """Odoo's float_round (half up) to a unit's rounding, e.g. 0.01."""
    if not rounding or rounding <= 0:
        return float(value)
    step = decimal.Decimal(repr(float(rounding)))
    steps = (decimal.Decimal(repr(float(value))) / step).quantize(
        decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP
    )
    return float(steps * step)


def level(row):
    """The level of one row of :func:`levels_sql` (its first ten columns):
    the contract's shape, quantities rounded to the product's unit."""
    (product, warehouse, company, seq, on_hand, reserved, default_code, barcode, uom, rounding) = (
        row[:10]
    )
    on_hand = float_round(on_hand, rounding)
    reserved = float_round(reserved, rounding)
    return {
        "company_id": company,
        "warehouse_id": warehouse,
        "product_id": product,
        "default_code": default_code or None,
        "barcode": barcode or None,
        "sequence": seq,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": float_round(on_hand - reserved, rounding),
        "uom": uom or "",
    }


def build_payload(row, event_id=None):
    """The LEVEL event of one row of LEVELS_SQL."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": EVENT_TYPE,
        "occurred_at": isoformat_utc(row[10]),
        **level(row),
    }


def read_levels(cr, numbered):
    """The LEVEL events (payloads) of ``numbered``, ``[(product id,
    warehouse id, sequence)]``: the keys' levels as ``cr`` sees them now
    (LEVELS_SQL), each with its given sequence. The one definition of a
    level, for the dispatcher and for :func:`preview`."""
    if not numbered:
        return []
    cr.execute(
        LEVELS_SQL, [[n[0] for n in numbered], [n[1] for n in numbered], [n[2] for n in numbered]]
    )
    return [build_payload(row) for row in cr.fetchall()]


def preview(cr, keys):
    """The LEVEL events the dispatcher would write now for ``keys``
    (``(product id, warehouse id)`` pairs), read only: no marker claimed,
    no sequence bumped or locked (tests and tools; the caller flushes the
    ORM first). Keys of a deleted product or warehouse are left out, as
    the dispatcher leaves them out."""
    keys = sorted(set(keys))
    if not keys:
        return []
    cr.execute(NEXT_SEQUENCES_SQL, [[k[0] for k in keys], [k[1] for k in keys]])
    return read_levels(cr, cr.fetchall())


def materialize(cr, json_dumps, batch_size=MARKER_BATCH):
    """Turn one batch of markers into LEVEL events of the outbox, in the
    caller's transaction (``cr`` of a READ COMMITTED connection; the caller
    commits). Returns ``(markers claimed, events written)``."""
    cr.execute(CLAIM_SQL, [batch_size])
    markers = cr.fetchall()
    if not markers:
        return 0, 0
    keys = sorted(set(markers))
    cr.execute(BUMP_SQL, [[k[0] for k in keys], [k[1] for k in keys]])
    bumped = sorted(cr.fetchall())
    if not bumped:
        return len(markers), 0
    payloads = read_levels(cr, bumped)
    cr.execute(
        INSERT_SQL,
        [
            EVENT_TYPE,
            [p["event_id"] for p in payloads],
            [p["company_id"] for p in payloads],
            [p["warehouse_id"] for p in payloads],
            [p["product_id"] for p in payloads],
            [p["available"] for p in payloads],
            [p["sequence"] for p in payloads],
            [json_dumps(p) for p in payloads],
        ],
    )
    return len(markers), len(payloads)
