# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pure helpers for formatting many read_group rows at once (no ORM).

Odoo formats each group on its own: a babel date label, a display name and
a domain combined with ``expression.AND``, for every row. A report grouped
by product and month repeats the same few thousand products and twelve
months over tens of thousands of rows; these helpers let the report models
format each distinct value once and assemble the rows from the pieces.
"""

from odoo.osv.expression import AND_OPERATOR, FALSE_DOMAIN, TRUE_DOMAIN


def and_normalized(domains):
    """``expression.AND(domains)`` for domains that are already normalized:
    the same list, without normalizing each part again."""
    kept = []
    for domain in domains:
        if domain == TRUE_DOMAIN:
            continue
        if domain == FALSE_DOMAIN:
            return list(FALSE_DOMAIN)
        kept.append(domain)
    if not kept:
        return list(TRUE_DOMAIN)
    result = [AND_OPERATOR] * (len(kept) - 1)
    for domain in kept:
        result += domain
    return result


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
