# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError

from .common import EventBusCommon


class TestOutboxAccess(EventBusCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.event_a = cls._create_event(cls.company_a)
        cls.event_b = cls._create_event(cls.company_b)
        cls.stock_user = cls._create_user(
            "sscale_stock_user", ["stock.group_stock_user"], [cls.company_a, cls.company_b]
        )
        cls.manager_a = cls._create_user(
            "sscale_stock_manager_a", ["stock.group_stock_manager"], [cls.company_a]
        )
        cls.manager_ab = cls._create_user(
            "sscale_stock_manager_ab",
            ["stock.group_stock_manager"],
            [cls.company_a, cls.company_b],
        )

    def test_stock_user_cannot_read_outbox(self):
        """Only stock managers read the outbox."""
        with self.assertRaises(AccessError):
            self.env["stock.event.outbox"].with_user(self.stock_user).search([])

    def test_manager_sees_only_own_companies(self):
        """The multi-company rule hides other companies' events."""
        outbox = self.env["stock.event.outbox"]
        events = (self.event_a | self.event_b).ids
        seen_a = outbox.with_user(self.manager_a).search([("id", "in", events)])
        self.assertEqual(seen_a, self.event_a)
        seen_ab = (
            outbox.with_user(self.manager_ab)
            .with_context(allowed_company_ids=[self.company_a.id, self.company_b.id])
            .search([("id", "in", events)])
        )
        self.assertEqual(seen_ab, self.event_a | self.event_b)

    def test_manager_cannot_forge_events(self):
        """Events are written by postings, never by hand."""
        with self.assertRaises(AccessError):
            self._create_event(self.company_a).with_user(self.manager_a).write({"quantity": 5})
