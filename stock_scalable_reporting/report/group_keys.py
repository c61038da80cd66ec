# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pure helpers for formatting many read_group rows at once (no ORM).

Odoo formats each group on its own: a babel date label, a display name and
a domain combined with ``expression.AND``, for every row. A report grouped
by product and month repeats the same few thousand products and twelve
months over tens of thousands of rows; these helpers tell a column's
distinct values apart, so that the report models format each once and
assemble the rows from the pieces.
"""

from odoo.models import READ_GROUP_TIME_GRANULARITY


def value_key(value):
    """A dictionary key telling group values apart (``False`` from ``0``),
    cheap for records (their ids, not the recordset's hash); raises
    TypeError for unhashable values."""
    ids = getattr(value, "_ids", None)
    if ids is not None:
        return ids
    key = (type(value), value)
    hash(key)
    return key


def key_kind(spec, field_type):
    """How the groups of grouping ``spec`` (on a field of type
    ``field_type``) are told apart by ``column_keys``."""
    if field_type == "many2one":
        return "records"
    granularity = spec.partition(":")[2]
    if field_type in ("char", "selection") or (
        field_type in ("date", "datetime")
        and (not granularity or granularity in READ_GROUP_TIME_GRANULARITY)
    ):
        return "plain"
    # Numbers (False and 0 are equal keys), date parts, booleans.
    return "value"


def column_keys(kind, values):
    """``value_key`` of each of ``values``, one column of read_group rows,
    faster for the common kinds: "records" (their ids), "plain" (values that
    tell groups apart as they are, such as dates and strings, with False for
    none: never equal to another of them)."""
    if kind == "records":
        return [value._ids for value in values]
    if kind == "plain":
        return values
    return [value_key(value) for value in values]
