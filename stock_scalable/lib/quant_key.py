# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Quant keys and the one global order in which postings lock them.

A quant key is what Odoo's ``stock.quant._merge_quants`` groups by: product,
location, lot, package and owner (the company is the location's). Every
posting locks its keys sorted by :func:`lock_order`, so that two postings that
touch the same keys always wait for each other in the same order and can
never deadlock.
"""

import typing


class QuantKey(typing.NamedTuple):
    """Ids of a quant key; ``0`` stands for "none" (a NULL column)."""

    product_id: int
    location_id: int
    lot_id: int = 0
    package_id: int = 0
    owner_id: int = 0

    @classmethod
    def of(cls, product_id, location_id, lot_id=None, package_id=None, owner_id=None):
        """Build a key from ids or records (falsy values mean "none")."""

        def _id(value):
            return getattr(value, "id", value) or 0

        return cls(_id(product_id), _id(location_id), _id(lot_id), _id(package_id), _id(owner_id))

    @classmethod
    def from_vals(cls, vals):
        """The key of a quant's create() values."""
        return cls.of(*(vals.get(field) for field in cls._fields))


def lock_order(keys):
    """The distinct keys, in the global lock order (the SQL order of the
    unique index columns, NULL as 0)."""
    return sorted(set(keys))


def key_columns(alias=None, **columns):
    r"""The SQL expressions of a quant key, in the lock order, as the unique
    index has them: ``product_id, location_id, COALESCE(lot_id, 0),
    COALESCE(package_id, 0), COALESCE(owner_id, 0)``. ``alias`` prefixes the
    columns; ``columns`` renames some (the destination side of a move line:
    ``location_id="location_dest_id", package_id="result_package_id"``).
    Every SQL statement that locks or groups by the whole key is built
    from this one definition (an on-hand answer that sums every owner of
    a place filters by the other columns).

    >>> import re
    >>> def lines(sql):
    ...     print("\n".join(re.split(r", (?!0\))", sql)))
    >>> lines(key_columns("q"))
    q.product_id
    q.location_id
    COALESCE(q.lot_id, 0)
    COALESCE(q.package_id, 0)
    COALESCE(q.owner_id, 0)
    >>> dest = {"location_id": "location_dest_id", "package_id": "result_package_id"}
    >>> lines(key_columns(named=True, **dest))
    product_id AS product_id
    location_dest_id AS location_id
    COALESCE(lot_id, 0) AS lot_id
    COALESCE(result_package_id, 0) AS package_id
    COALESCE(owner_id, 0) AS owner_id
    """
    named = columns.pop("named", False)
    prefix = f"{alias}." if alias else ""
    parts = []
    for field in QuantKey._fields:
        column = prefix + columns.get(field, field)
        expression = column if field in ("product_id", "location_id") else f"COALESCE({column}, 0)"
        parts.append(f"{expression} AS {field}" if named else expression)
    return ", ".join(parts)
