# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestStockScalableTour(HttpCase):
    def test_stock_scalable_tour(self):
        """In a browser, as the administrator: the drift report's header
        buttons without and with a selection, its repair, the settings, and
        the guard's refusal of a transfer that takes more than is there."""
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        stock = warehouse.lot_stock_id
        self.env.company.sscale_negative_stock_policy = "forbid_internal"
        # A quant that drifts from its ledger (a write outside any posting).
        drift = self.env["product.product"].create(
            {"name": "Tour Drift Product", "is_storable": True}
        )
        self.env["stock.quant"]._update_available_quantity(drift, stock, 3)
        self.env.cr.execute(
            "UPDATE stock_quant SET quantity = 7 WHERE product_id = %s AND location_id = %s",
            [drift.id, stock.id],
        )
        # A delivery of 5 with 2 in stock, forced to 5 and picked.
        guard = self.env["product.product"].create(
            {"name": "Tour Guard Product", "is_storable": True}
        )
        self.env["stock.quant"]._update_available_quantity(guard, stock, 2)
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": warehouse.out_type_id.id,
                "location_id": stock.id,
                "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                "origin": "TOUR-GUARD",
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": guard.name,
                            "product_id": guard.id,
                            "product_uom_qty": 5,
                            "location_id": stock.id,
                            "location_dest_id": self.env.ref("stock.stock_location_customers").id,
                        },
                    )
                ],
            }
        )
        picking.action_confirm()
        picking.action_assign()
        picking.move_ids.quantity = 5
        picking.move_ids.picked = True
        # Two inventory commands: one posted (its transfer), one refused.
        self.env["stock.inventory.command"].create(
            [
                {
                    "idempotency_key": "TOUR-CMD-1",
                    "company_id": self.env.company.id,
                    "type": "deliver",
                    "state": "done",
                    "fingerprint": "0" * 64,
                    "product_id": guard.id,
                    "quantity": 5,
                    "location_id": stock.id,
                    "picking_id": picking.id,
                    "document": picking.name,
                },
                {
                    "idempotency_key": "TOUR-CMD-2",
                    "company_id": self.env.company.id,
                    "type": "deliver",
                    "state": "refused",
                    "fingerprint": "1" * 64,
                    "product_id": guard.id,
                    "quantity": 50,
                    "location_id": stock.id,
                    "result_code": "insufficient_stock",
                    "result_message": "Not enough stock",
                },
            ]
        )
        self.start_tour("/odoo", "stock_scalable_tour", login="admin", timeout=180)
        self.start_tour(
            f"/odoo/action-stock.action_picking_tree_all/{picking.id}",
            "stock_scalable_guard_tour",
            login="admin",
            timeout=120,
        )
        self.assertEqual(picking.state, "assigned")
        self.assertEqual(guard.qty_available, 2)
