# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The movement-type table (lib/movement_types.py): its doctests, every
usage and direction, and the classification of a move line into events."""

import doctest

from odoo.tests import BaseCase, tagged

from ..lib import movement_types
from ..lib.movement_types import Place, classify

WH1, WH2 = 1, 2
STOCK1 = Place("internal", WH1)
SHELF1 = Place("internal", WH1)
STOCK2 = Place("internal", WH2)
VENDOR = Place("supplier")
CUSTOMER = Place("customer")
INVENTORY = Place("inventory")
SCRAP = Place("inventory", scrap=True)
PRODUCTION = Place("production")
TRANSIT = Place("transit")


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


@tagged("post_install", "-at_install")
class TestClassify(BaseCase):
    def test_external_counterparts(self):
        cases = [
            (VENDOR, STOCK1, {}, [(WH1, "RECEIPT", 1)]),
            (STOCK1, CUSTOMER, {}, [(WH1, "SALE", -1)]),
            (CUSTOMER, STOCK1, {}, [(WH1, "RETURN", 1)]),
            (STOCK1, VENDOR, {}, [(WH1, "RETURN", -1)]),
            (INVENTORY, STOCK1, {}, [(WH1, "ADJUSTMENT", 1)]),
            (STOCK1, INVENTORY, {}, [(WH1, "ADJUSTMENT", -1)]),
            (STOCK1, SCRAP, {}, [(WH1, "SCRAP", -1)]),
            (PRODUCTION, STOCK1, {}, [(WH1, "PRODUCTION", 1)]),
            (STOCK1, PRODUCTION, {}, [(WH1, "PRODUCTION", -1)]),
        ]
        for src, dest, flags, expected in cases:
            with self.subTest(src=src, dest=dest, flags=flags):
                self.assertEqual(classify(src, dest, **flags), expected)

    def test_transfers_and_internal(self):
        self.assertEqual(classify(STOCK1, SHELF1), [(WH1, "INTERNAL", 0)])
        self.assertEqual(classify(STOCK1, STOCK2), [(WH1, "TRANSFER", -1), (WH2, "TRANSFER", 1)])
        self.assertEqual(classify(STOCK1, TRANSIT), [(WH1, "TRANSFER", -1)])
        self.assertEqual(classify(TRANSIT, STOCK2), [(WH2, "TRANSFER", 1)])

    def test_no_warehouse_no_event(self):
        """A dropship (vendor to customer) changes no warehouse's stock."""
        self.assertEqual(classify(VENDOR, CUSTOMER), [])
        self.assertEqual(classify(Place("internal", 0), CUSTOMER), [])
        # A view or non-internal location of a warehouse holds no stock.
        self.assertEqual(classify(Place("view", WH1), CUSTOMER), [])
