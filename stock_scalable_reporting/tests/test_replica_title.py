# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
from unittest.mock import patch

import pytz

from odoo.tests import TransactionCase, tagged

from ..lib import replica

UTC = datetime.timezone.utc


@tagged("post_install", "-at_install")
class TestReplicaTitle(TransactionCase):
    """When the reports' titles say "as of": only when a replica serves them
    and is more than a second behind the primary (lib/replica.py; the
    real standby is in tests/test_replica.py)."""

    now = datetime.datetime(2026, 3, 4, 10, 42, 9, tzinfo=UTC)

    def test_stale_only_on_a_lagging_standby(self):
        replayed = self.now - datetime.timedelta(seconds=5)
        self.assertEqual(replica.stale_as_of(True, False, replayed, self.now), replayed)
        # the primary itself (no replica, or Odoo fell back to it)
        self.assertIsNone(replica.stale_as_of(False, False, replayed, self.now))
        # caught up with the primary's position, however old its last commit
        self.assertIsNone(replica.stale_as_of(True, True, replayed, self.now))
        # a second or less behind
        just = self.now - datetime.timedelta(seconds=1)
        self.assertIsNone(replica.stale_as_of(True, False, just, self.now))
        # no transaction replayed since the standby started: unknown
        self.assertIsNone(replica.stale_as_of(True, False, None, self.now))

    def test_label_time_today_date_before(self):
        replayed = datetime.datetime(2026, 3, 4, 10, 42, 7)
        self.assertEqual(
            replica.as_of_label(replayed, datetime.date(2026, 3, 4), "%m/%d/%Y", "%H:%M:%S"),
            "10:42:07",
        )
        self.assertEqual(
            replica.as_of_label(replayed, datetime.date(2026, 3, 5), "%m/%d/%Y", "%H:%M:%S"),
            "03/04/2026 10:42:07",
        )

    def test_title_in_the_readers_zone_and_language(self):
        refresh = self.env["stock.report.refresh"].with_context(tz="Europe/Brussels")
        replayed = datetime.datetime.now(UTC) - datetime.timedelta(minutes=3)
        with patch.object(type(refresh), "_replica_as_of", return_value=replayed):
            title = refresh._report_title("Stock Movements")
            action = refresh._action_open_report(
                "stock_scalable_reporting.action_stock_movement_report"
            )
        local = replayed.astimezone(pytz.timezone("Europe/Brussels"))
        self.assertEqual(title, f"Stock Movements (as of {local:%H:%M:%S})")
        self.assertEqual(action["name"], title)
        self.assertEqual(action["display_name"], title)

    def test_no_replica_no_change(self):
        """Without db_replica_host (and in tests), the title is the name."""
        refresh = self.env["stock.report.refresh"]
        self.assertIsNone(refresh._replica_as_of())
        self.assertEqual(refresh._report_title("Stock Levels"), "Stock Levels")
