# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stock postings through the ORM, as a user's request makes them. Each
function takes an Environment and does the whole request's work; the caller
commits (``CommittedDatabase.call``). Shared by the tests and the benchmarks."""


def create_product(env, name, qty=0.0, location=None, **vals):
    """A storable product, with ``qty`` units applied by inventory count."""
    product = env["product.product"].create({"name": name, "is_storable": True, **vals})
    if qty:
        set_inventory(env, product, qty, location)
    return product


def main_warehouse(env):
    return env["stock.warehouse"].search(
        [("company_id", "=", env.company.id)], limit=1, order="id"
    )


def set_inventory(env, product, qty, location=None):
    """Count ``qty`` units of ``product`` in ``location`` and apply it."""
    location = location or main_warehouse(env).lot_stock_id
    quant = (
        env["stock.quant"]
        .with_context(inventory_mode=True)
        .create({"product_id": product.id, "location_id": location.id, "inventory_quantity": qty})
    )
    quant.action_apply_inventory()
    return quant


def create_picking(env, picking_type, lines, src=None, dest=None):
    """A confirmed picking of ``picking_type`` with one move per (product id, qty)."""
    src = src or picking_type.default_location_src_id
    dest = dest or picking_type.default_location_dest_id
    picking = env["stock.picking"].create(
        {
            "picking_type_id": picking_type.id,
            "location_id": src.id,
            "location_dest_id": dest.id,
            "move_ids": [
                (
                    0,
                    0,
                    {
                        "name": "sscale",
                        "product_id": product_id,
                        "product_uom_qty": qty,
                        "location_id": src.id,
                        "location_dest_id": dest.id,
                    },
                )
                for product_id, qty in lines
            ],
        }
    )
    picking.action_confirm()
    return picking


def take_demand(moves):
    """Set each move's quantity to its demand and mark it picked (as a
    scanner posting does)."""
    for move in moves:
        move.quantity = move.product_uom_qty
    moves.picked = True


def validate_all(picking):
    """Reserve what can be, take the full demand, and validate."""
    picking.action_assign()
    take_demand(picking.move_ids)
    return picking.button_validate()


def deliver(env, lines):
    """Validate a delivery of ``lines`` [(product id, qty)] from WH/Stock."""
    picking = create_picking(env, main_warehouse(env).out_type_id, lines)
    validate_all(picking)
    return picking.state


def receive(env, lines):
    """Validate a receipt of ``lines`` [(product id, qty)] into WH/Stock."""
    picking = create_picking(env, main_warehouse(env).in_type_id, lines)
    validate_all(picking)
    return picking.state


def reserve(env, lines):
    """Create a delivery and reserve it (Check Availability)."""
    picking = create_picking(env, main_warehouse(env).out_type_id, lines)
    picking.action_assign()
    return picking.id
