# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo's stock levels as the level events and a downstream projection must
give them, and the requests that change them: what the level-event, sync
and fault tests compare against."""

from . import stock_flows
from .event_bus import levels_pending


def odoo_levels(env, product_id, warehouse):
    """Odoo's levels of one key: qty_available, the quants' reserved
    quantity and free_qty, with the warehouse in context."""
    product = env["product.product"].browse(product_id).with_context(warehouse_id=warehouse.id)
    quants = env["stock.quant"].search(
        [
            ("product_id", "=", product_id),
            ("location_id", "child_of", warehouse.view_location_id.id),
        ]
    )
    return {
        "on_hand": product.qty_available,
        "reserved": sum(quants.mapped("reserved_quantity")),
        "available": product.free_qty,
    }


def odoo_view(committed_db, keys):
    """Odoo's ``(sequence, on_hand, reserved, available)`` of each key, the
    sequence being the key's last level sequence (0: none yet)."""
    with committed_db.env() as env:
        env.cr.execute("SELECT product_id, warehouse_id, last_sequence FROM stock_level_sequence")
        sequences = {(p, w): s for p, w, s in env.cr.fetchall()}
        view = {}
        for product_id, warehouse_id in keys:
            warehouse = env["stock.warehouse"].browse(warehouse_id)
            levels = odoo_levels(env, product_id, warehouse)
            view[product_id, warehouse_id] = (
                sequences.get((product_id, warehouse_id), 0),
                levels["on_hand"],
                levels["reserved"],
                levels["available"],
            )
        return view


def converged(client, committed_db, keys):
    """Whether the projection of ``client`` (tests.harness.stock_events)
    equals Odoo for ``keys`` once the outbox is drained."""
    if levels_pending(committed_db):
        return False
    mine = client.levels()
    return all(mine.get(key) == value for key, value in odoo_view(committed_db, keys).items())


def differences(client, committed_db, keys):
    """``{key: (projection's row, Odoo's)}`` of the keys that differ."""
    mine = client.levels()
    return {
        key: (mine.get(key), value)
        for key, value in odoo_view(committed_db, keys).items()
        if mine.get(key) != value
    }


def level_operation(rng, warehouses, product_ids, mine):
    """One request of a worker: a receipt, a delivery, a reservation, an
    unreservation, a cancellation or a count, in one of the warehouses.
    ``mine``: the ids of the worker's reserved deliveries (an unreservation
    or a cancellation releases the last one). Returns ``(kind, run)``:
    ``run(env)`` does the request's work (and returns the id of a delivery
    it reserved, else None)."""
    warehouse_id = rng.choice(warehouses)
    product_id = rng.choice(product_ids)
    kind = rng.choice(["receive", "deliver", "reserve", "reserve", "unreserve", "cancel", "count"])
    quantity = rng.randint(1, 3)
    counted = rng.randint(40, 60)
    release = mine.pop() if kind in ("unreserve", "cancel") and mine else None

    def run(env):
        wh = env["stock.warehouse"].browse(warehouse_id)
        lines = [(product_id, quantity)]
        if kind == "receive":
            stock_flows.validate_all(stock_flows.create_picking(env, wh.in_type_id, lines))
        elif kind == "deliver":
            stock_flows.validate_all(stock_flows.create_picking(env, wh.out_type_id, lines))
        elif kind == "reserve":
            picking = stock_flows.create_picking(env, wh.out_type_id, lines)
            picking.action_assign()
            return picking.id
        elif kind == "count":
            product = env["product.product"].browse(product_id)
            stock_flows.set_inventory(env, product, counted, wh.lot_stock_id)
        elif release:
            picking = env["stock.picking"].browse(release)
            if kind == "unreserve":
                picking.do_unreserve()
            else:
                picking.action_cancel()
        return None

    return kind, run
