# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The movement-type table (lib/movement_types.py): its doctests."""

import doctest

from odoo.tests import BaseCase, tagged

from ..lib import movement_types


@tagged("post_install", "-at_install")
class TestMovementTypes(BaseCase):
    def test_doctests(self):
        """The module's examples are its specification."""
        result = doctest.testmod(movement_types, optionflags=doctest.ELLIPSIS)
        self.assertGreater(result.attempted, 0)
        self.assertEqual(result.failed, 0)

    def test_every_usage_and_direction_has_one_type(self):
        """Every pair gives one of the types, and its report type exists."""
        usages = ("supplier", "customer", "inventory", "production", "transit", "internal", "view")
        for usage in usages:
            for incoming in (True, False):
                for same_warehouse in (True, False):
                    kind = movement_types.movement_type(
                        usage, incoming=incoming, same_warehouse=same_warehouse
                    )
                    self.assertIn(kind, movement_types.TYPES)
                    self.assertIn(
                        movement_types.report_type(kind, incoming=incoming),
                        movement_types.REPORT_TYPES,
                    )
