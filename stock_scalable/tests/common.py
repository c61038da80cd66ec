# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import TransactionCase


class StockScalableCommon(TransactionCase):
    """Fixtures shared by the stock_scalable tests: one warehouse, one
    storable product, and helpers that post through the standard flows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.supplier_location = cls.env.ref("stock.stock_location_suppliers")
        cls.customer_location = cls.env.ref("stock.stock_location_customers")
        cls.product = cls.env["product.product"].create(
            {"name": "Scalable Widget", "is_storable": True, "default_code": "SSW-1"}
        )

    @classmethod
    def _create_picking(cls, picking_type, src, dest, product, qty):
        return cls.env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "location_id": src.id,
                "location_dest_id": dest.id,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": product.display_name,
                            "product_id": product.id,
                            "product_uom": product.uom_id.id,
                            "product_uom_qty": qty,
                            "location_id": src.id,
                            "location_dest_id": dest.id,
                        },
                    )
                ],
            }
        )

    @classmethod
    def _validate(cls, picking):
        picking.action_confirm()
        picking.action_assign()
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        return picking

    @classmethod
    def _receive(cls, product, qty):
        """Validate a receipt of ``qty`` units into WH/Stock."""
        return cls._validate(
            cls._create_picking(
                cls.warehouse.in_type_id,
                cls.supplier_location,
                cls.stock_location,
                product,
                qty,
            )
        )

    @classmethod
    def _deliver(cls, product, qty):
        """Validate a delivery of ``qty`` units from WH/Stock."""
        return cls._validate(
            cls._create_picking(
                cls.warehouse.out_type_id,
                cls.stock_location,
                cls.customer_location,
                product,
                qty,
            )
        )
