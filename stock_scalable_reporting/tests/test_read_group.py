# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import gc
from unittest.mock import patch

from odoo import models
from odoo.tests import tagged

from odoo.addons.stock_scalable.tests.common import StockScalableCommon

from ..report.report_read_group import StockReportReadGroupMixin


@tagged("post_install", "-at_install")
class TestReportReadGroup(StockScalableCommon):
    """The reports' read_group formats each distinct value once; the groups
    it returns are Odoo's own, list for list, and the monthly rollups give
    the daily facts' sums."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["product.product"].create(
            {"name": "Read group other", "is_storable": True, "default_code": "RG-2"}
        )
        # Tenths: their sums are exact in numeric, not in binary floats.
        for product, qty in ((cls.product, 7), (cls.other, 5), (cls.other, 1.1), (cls.other, 2.2)):
            cls._receive(product, qty)
        cls._deliver(cls.product, 2)
        cls._deliver(cls.other, 1)

    def _plain(self, model, *args, **kwargs):
        """read_group with Odoo's formatting, row by row."""
        base = models.BaseModel
        with (
            patch.object(StockReportReadGroupMixin, "read_group", base.read_group),
            patch.object(
                StockReportReadGroupMixin,
                "_read_group_format_result",
                base._read_group_format_result,
            ),
            patch.object(
                StockReportReadGroupMixin,
                "_read_group_postprocess_groupby",
                base._read_group_postprocess_groupby,
            ),
        ):
            return model.read_group(*args, **kwargs)

    def test_groups_equal_odoos_formatting(self):
        since = datetime.date.today().replace(day=1) - datetime.timedelta(days=40)
        domains = [
            [],
            [("date", ">=", since)],
            ["|", ("product_id", "=", self.product.id), ("movement_type", "=", "sale")],
        ]
        groupbys = [
            ["product_id", "date:month"],
            ["date:day", "movement_type"],
            ["warehouse_id", "location_id", "date:year"],
            ["categ_id", "movement_type"],
        ]
        measures = ["qty_in:sum", "qty_out:sum", "qty_net:sum", "move_count:sum"]
        cases = [
            ("stock.movement.report", domain, groupby, measures)
            for domain in domains
            for groupby in groupbys
        ] + [
            ("stock.level.report", [], groupby, ["quantity:sum", "available_quantity:sum"])
            for groupby in (
                ["warehouse_id", "product_id"],
                ["product_id", "last_movement_date:day"],
            )
        ]
        several = 0
        for model, domain, groupby, fields_ in cases:
            Report = self.env[model].with_context(lang="en_US", tz="Europe/Brussels")
            for lazy in (False, True):
                with self.subTest(model=model, domain=domain, groupby=groupby, lazy=lazy):
                    ours = Report.read_group(domain, fields_, groupby, lazy=lazy)
                    self.assertTrue(ours)
                    several += len(ours) > 1
                    self.assertEqual(
                        ours, self._plain(Report, domain, fields_, groupby, lazy=lazy)
                    )
        # Most cases have several groups, where the fast path runs.
        self.assertGreater(several, len(cases))

    def test_pivot_groups_equal_odoos(self):
        """The pivot's questions (lazy=False), read from the raw rows, are
        Odoo's read_group, list for list and key for key in order: other
        forms of measures, empty aggregates, limits, and the questions left
        to Odoo's own code (an order, fill_temporal, a domain matching
        nothing, an aggregate named as a grouping)."""
        Report = self.env["stock.movement.report"].with_context(lang="en_US", tz="UTC")
        Level = self.env["stock.level.report"].with_context(lang="en_US", tz="Europe/Brussels")
        cases = [
            (Report, [], ["qty_in:sum", "__count", "moves:sum(move_count)"], ["product_id"], {}),
            (Report, [], ["qty_net:sum"], ["date", "product_id"], {}),
            (Report, [], ["qty_in:max", "qty_out:min"], ["movement_type", "date:week"], {}),
            (Report, [], ["qty_in:sum"], ["date:month_number", "warehouse_id"], {}),
            (Report, [], ["qty_in:sum"], ["product_id", "date:month"], {"limit": 1}),
            (Report, [], ["qty_in:sum"], ["product_id", "date:month"], {"offset": 1}),
            (Report, [], ["qty_in:sum"], ["product_id"], {"orderby": "product_id desc"}),
            (Report, [("id", "in", [])], ["qty_in:sum"], ["product_id", "date:month"], {}),
            (Report, [], ["product_id:count_distinct"], ["product_id", "date:month"], {}),
            (
                Report.with_context(fill_temporal=True),
                [],
                ["qty_in:sum"],
                ["date:month", "product_id"],
                {},
            ),
            # No lots: a NULL aggregate in every group.
            (Level, [], ["quantity:sum", "lot_id:max"], ["product_id"], {}),
            (Level, [], ["quantity:sum"], ["last_movement_date:month", "location_id"], {}),
        ]
        for model, domain, fields_, groupby, options in cases:
            with self.subTest(model=model._name, fields=fields_, groupby=groupby, **options):
                ours = model.read_group(domain, fields_, groupby, lazy=False, **options)
                odoos = self._plain(model, domain, fields_, groupby, lazy=False, **options)
                self.assertEqual(ours, odoos)
                self.assertEqual([list(row) for row in ours], [list(row) for row in odoos])
                self.assertEqual(
                    [row.get("__range") and list(row["__range"]) for row in ours],
                    [row.get("__range") and list(row["__range"]) for row in odoos],
                )
                # No row shares a domain or a range with another.
                objects = [
                    id(value)
                    for row in ours
                    for value in (
                        row["__domain"],
                        row.get("__range"),
                        *(row.get("__range") or {}).values(),
                    )
                    if value
                ]
                self.assertEqual(len(objects), len(set(objects)))

    def test_rollup_routing(self):
        Report = self.env["stock.movement.report"]
        month = datetime.date.today().replace(day=1)
        cases = [
            (["product_id", "date:month"], [("date", ">=", month)], "company"),
            # By category: the category rollup, or the product rollup when it
            # has no more rows (the planner reads the views' statistics).
            (["categ_id", "date:year"], [], ("company", "category")),
            (["product_id", "date:month"], [("warehouse_id", "!=", False)], "product"),
            (
                ["categ_id", "date:quarter"],
                [("warehouse_id", "!=", False)],
                ("product", "category"),
            ),
            (["warehouse_id", "date:month"], [("movement_type", "=", "sale")], "warehouse"),
            (["warehouse_id", "product_id"], [("date", ">=", month)], "product"),
            (["product_id", "date:month"], [("movement_type", "=", "sale")], "month"),
            (["location_id"], [], "location"),
            (["location_id", "product_id"], [("date", ">=", month)], "location"),
            (["location_id"], [("movement_type", "=", "sale")], "month"),
            (["product_id", "date:day"], [], None),
            (["product_id"], [("date", ">=", month + datetime.timedelta(days=2))], None),
        ]
        names = {
            "company": "stock.movement.company.product.month.report",
            "product": "stock.movement.product.month.report",
            "month": "stock.movement.month.report",
            "location": "stock.movement.location.month.report",
            "warehouse": "stock.movement.warehouse.month.report",
            "category": "stock.movement.category.month.report",
            None: None,
        }
        # __count too: the daily rows a monthly row stands for.
        measures = ["qty_in:sum", "qty_out:sum", "qty_net:sum", "move_count:sum", "__count"]
        base = models.BaseModel
        for groupby, domain, expected in cases:
            with self.subTest(groupby=groupby, domain=domain):
                expected = expected if isinstance(expected, tuple) else (expected,)
                self.assertIn(
                    Report._sscale_rollup(domain, groupby, measures, []),
                    [names[name] for name in expected],
                )
                # Same sums whichever facts answer, to the last bit: Odoo's
                # own _read_group on the daily facts, its sums read as
                # numeric (ours are sent as double precision).
                with patch.object(
                    StockReportReadGroupMixin, "_read_group_select", base._read_group_select
                ):
                    daily = base._read_group(Report, domain, groupby, measures)
                self.assertEqual(
                    sorted(map(repr, Report._read_group(domain, groupby, measures))),
                    sorted(map(repr, daily)),
                )
        self.assertIsNone(Report._sscale_rollup([], ["product_id"], ["qty_in:max"], []))

    def test_pivot_path_only_where_its_routing_is(self):
        """The raw rows' path answers the report views, whose _read_group
        routing it repeats; Inventory at Date chooses its query in
        _read_group from the question: Odoo's read_group answers it."""
        raw = StockReportReadGroupMixin._sscale_read_group_raw
        asked = []

        def spy(model, *args):
            asked.append(model._name)
            return raw(model, *args)

        with patch.object(StockReportReadGroupMixin, "_sscale_read_group_raw", spy):
            self.env["stock.movement.report"].read_group(
                [], ["qty_in:sum"], ["product_id", "date:month"], lazy=False
            )
            self.assertEqual(asked, ["stock.movement.company.product.month.report"])
            self.env["stock.inventory.date.report"].read_group(
                [], ["quantity:sum"], ["product_id", "location_id"], lazy=False
            )
        self.assertEqual(len(asked), 1)

    def test_planner_settings_are_put_back(self):
        cr = self.env.cr
        Report = self.env["stock.inventory.date.report"]

        def workers():
            cr.execute("SHOW max_parallel_workers_per_gather")
            return cr.fetchone()[0]

        cr.execute("SET LOCAL max_parallel_workers_per_gather = 3")
        with Report._sscale_settings(max_parallel_workers_per_gather=0):
            self.assertEqual(workers(), "0")
        self.assertEqual(workers(), "3")

    def test_read_group_leaves_the_garbage_collector_alone(self):
        """The collector is process-wide: a report must not pause it for the
        other threads of the server."""
        seen = []
        Report = self.env["stock.movement.report"]
        with patch.object(
            StockReportReadGroupMixin,
            "_read_group_format_result",
            lambda self, rows, groupby: seen.append(gc.isenabled()),
        ):
            Report.read_group([], ["qty_in:sum"], ["product_id"])
        self.assertEqual(seen, [True])
        self.assertTrue(gc.isenabled())
