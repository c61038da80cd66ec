# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The negative-stock policy, as a pure decision.

A company chooses a policy; a location, a product category or a product can
be an exception that allows negative stock anyway.
"""

FORBID_INTERNAL = "forbid_internal"
ALLOW = "allow"
POLICIES = (FORBID_INTERNAL, ALLOW)


def negative_allowed(policy, location_usage, location_allows, category_allows, product_allows):
    """Whether a quant of this location and product may go below zero."""
    if policy == ALLOW or location_usage != "internal":
        return True
    return bool(location_allows or category_allows or product_allows)


def goes_negative(quantity, rounding):
    """Whether ``quantity`` is below zero by at least half the UoM rounding."""
    return quantity <= -rounding / 2
