# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.stock_scalable.tests.common import StockScalableCommon


@tagged("post_install", "-at_install")
class TestReportActions(StockScalableCommon):
    def test_refresh_now_queues_the_cron(self):
        """Refresh Now never refreshes in the request: it triggers the cron."""
        cron = self.env.ref("stock_scalable_reporting.ir_cron_refresh_reports")
        before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.env.cr.execute("SELECT refreshed_at FROM sscale_rpt_state")
        refreshed_at = self.env.cr.fetchone()[0]
        result = self.env["stock.movement.report"].action_refresh_now()
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), before + 1
        )
        self.env.cr.execute("SELECT refreshed_at FROM sscale_rpt_state")
        self.assertEqual(self.env.cr.fetchone()[0], refreshed_at)

    def test_menus_open_for_stock_users(self):
        """The Stock Movements and Stock Levels menus run server actions (on
        stock.report.refresh): a stock user who is no administrator opens
        them (the web client's /web/action/run runs the action as the user)."""
        user = self.env["res.users"].create(
            {
                "name": "Report reader",
                "login": "sscale_report_reader",
                "groups_id": [Command.set([self.env.ref("stock.group_stock_user").id])],
            }
        )
        self.assertFalse(user.has_group("base.group_system"))
        for xmlid, model in (
            ("action_server_stock_movement_report", "stock.movement.report"),
            ("action_server_stock_level_report", "stock.level.report"),
        ):
            action = self.env.ref(f"stock_scalable_reporting.{xmlid}").with_user(user)
            result = action.run()
            self.assertEqual(result["res_model"], model)
            self.env[model].with_user(user).web_read_group([], [], ["warehouse_id"])

    def test_report_title_is_the_report_name(self):
        """The title is the report's name alone, short enough not to be cut."""
        self.env["stock.report.refresh"]._refresh_reports()
        action = self.env["stock.report.refresh"]._action_open_report(
            "stock_scalable_reporting.action_stock_movement_report"
        )
        self.assertEqual(action["name"], "Stock Movements")
        self.assertEqual(action["res_model"], "stock.movement.report")

    def test_refresh_log_says_what_and_how_long(self):
        """Report Refreshes names what each view holds, durations in seconds."""
        logs = self.env["stock.report.refresh"]._refresh_reports()
        self.assertTrue(logs)
        labels = dict(
            self.env["stock.report.refresh"]._fields["summary"]._description_selection(self.env)
        )
        for log in logs:
            self.assertTrue(log.summary, log.view_name)
            self.assertNotIn("sscale", labels[log.summary])
        self.assertEqual(
            self.env["stock.report.refresh"]._fields["duration"].string, "Duration (s)"
        )

    def test_refresh_interval_setting_drives_the_cron(self):
        settings = self.env["res.config.settings"].create({"sscale_report_refresh_minutes": 5})
        settings.execute()
        cron = self.env.ref("stock_scalable_reporting.ir_cron_refresh_reports")
        self.assertEqual((cron.interval_number, cron.interval_type), (5, "minutes"))
        self.assertEqual(
            self.env["res.config.settings"].create({}).sscale_report_refresh_minutes, 5
        )
        for wrong in (0, -5, 2_000_000_000):
            with self.assertRaisesRegex(ValidationError, f"not every {wrong}"):
                self.env["res.config.settings"].create({"sscale_report_refresh_minutes": wrong})
        self.assertEqual((cron.interval_number, cron.interval_type), (5, "minutes"))

    def test_inventory_at_date_wizard(self):
        self._receive(self.product, 8)
        wizard = self.env["stock.inventory.date.wizard"].create(
            {"date": datetime.date.today(), "warehouse_ids": [(6, 0, self.warehouse.ids)]}
        )
        action = wizard.action_open()
        self.assertEqual(action["res_model"], "stock.inventory.date.report")
        self.assertEqual(action["domain"], [("warehouse_id", "in", self.warehouse.ids)])
        self.assertEqual(action["context"]["search_default_nonzero"], 1)
        rows = (
            self.env["stock.inventory.date.report"]
            .with_context(**action["context"])
            .search(action["domain"] + [("product_id", "=", self.product.id)])
        )
        self.assertEqual(sum(rows.mapped("quantity")), 8)

    def test_movement_report_sees_postings_of_this_transaction(self):
        """Exact at read time: a posting not yet in the views is counted."""
        self._receive(self.product, 3)
        self._deliver(self.product, 1)
        groups = self.env["stock.movement.report"].read_group(
            [("product_id", "=", self.product.id)], ["qty_net:sum"], ["movement_type"]
        )
        by_type = {g["movement_type"]: g["qty_net"] for g in groups}
        self.assertEqual(by_type, {"receipt": 3.0, "sale": -1.0})
        self.env["stock.report.refresh"]._refresh_reports()
        groups = self.env["stock.movement.report"].read_group(
            [("product_id", "=", self.product.id)], ["qty_net:sum"], ["movement_type"]
        )
        self.assertEqual({g["movement_type"]: g["qty_net"] for g in groups}, by_type)
