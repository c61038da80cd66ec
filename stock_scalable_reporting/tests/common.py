# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).


def validated_receipt(env, product, qty, **move_values):
    """A receipt of ``qty`` units of ``product`` from the suppliers into the
    company's first warehouse's stock, validated as a user does (confirm,
    set the quantity, pick, validate); ``move_values``: more values of its
    move (a ``price_unit``)."""
    warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
    supplier = env.ref("stock.stock_location_suppliers")
    receipt = env["stock.picking"].create(
        {
            "picking_type_id": warehouse.in_type_id.id,
            "location_id": supplier.id,
            "location_dest_id": warehouse.lot_stock_id.id,
            "move_ids": [
                (
                    0,
                    0,
                    {
                        "name": product.name,
                        "product_id": product.id,
                        "product_uom_qty": qty,
                        "location_id": supplier.id,
                        "location_dest_id": warehouse.lot_stock_id.id,
                        **move_values,
                    },
                )
            ],
        }
    )
    receipt.action_confirm()
    receipt.move_ids.quantity = qty
    receipt.move_ids.picked = True
    receipt.button_validate()
    return receipt
