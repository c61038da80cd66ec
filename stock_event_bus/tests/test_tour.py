# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestEventBusTour(HttpCase):
    def test_event_bus_tour(self):
        """In a browser: the status screen and its buttons, the outbox and
        its header buttons without and with a selection, an event's form."""
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        product = self.env["product.product"].create({"name": "Tour Event", "is_storable": True})
        quant = (
            self.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": warehouse.lot_stock_id.id,
                    "inventory_quantity": 4,
                }
            )
        )
        quant.action_apply_inventory()
        events = self.env["stock.event.outbox"].search([("product_id", "=", product.id)])
        self.assertTrue(events)
        events.sudo().write({"state": "failed", "last_error": "tour: broker said no"})
        self.env["stock.event.dispatcher"].sudo().create(
            {"name": "tour-dispatcher", "state": "running", "last_seen": "2026-01-01 00:00:00"}
        )
        self.start_tour("/odoo", "stock_event_bus_tour", login="admin", timeout=180)
        self.assertTrue(all(e.state == "pending" for e in events), events.mapped("state"))

    def test_amqp_user_tour(self):
        """In a browser: a Settings administrator maps a RabbitMQ user on an
        Odoo user's form (Access Rights); the consumer then finds that user."""
        user = self.env["res.users"].create(
            {
                "name": "Tour WMS",
                "login": "tour-wms",
                "groups_id": [(6, 0, [self.env.ref("stock.group_stock_user").id])],
            }
        )
        self.start_tour(
            f"/odoo/action-base.action_res_users/{user.id}",
            "stock_event_bus_amqp_user_tour",
            login="admin",
            timeout=120,
        )
        self.assertEqual(user.sudo().amqp_user, "tour-wms")
        self.assertEqual(self.env["res.users"]._stock_event_bus_user_of("tour-wms"), user)
