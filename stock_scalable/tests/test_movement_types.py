# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The pure modules' doctests: the movement-type table, the quant key."""

import doctest

from odoo.tests import BaseCase, tagged

from ..lib import movement_types, quant_key


@tagged("post_install", "-at_install")
class TestMovementTypes(BaseCase):
    def test_doctests(self):
        """The module's examples are its specification."""
        result = doctest.testmod(movement_types, optionflags=doctest.ELLIPSIS)
        self.assertGreater(result.attempted, 0)
        self.assertEqual(result.failed, 0)

    def test_quant_key_doctests(self):
        """The one definition of the quant key's SQL (lib/quant_key.py)."""
        result = doctest.testmod(quant_key)
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
