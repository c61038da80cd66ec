# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The demo's story: a year of warehouse history, loaded by scripts/run-demo.

Run inside an Odoo shell of a database that has the three addons (run-demo
does it once, after installing them):

    odoo shell -c odoo.conf -d stock_scalable_demo < (load(env); env.cr.commit())

It is not module demo data on purpose: every database created with demo data
(Odoo's own test runs included) would get it, and Odoo's suites read the
warehouses and journal items that such data adds.

What it makes, through Odoo's own flows (validated transfers, applied counts,
scraps), so that quants, the outbox and the reports see it like any posting:

* two more warehouses, EAST and WEST, beside the company's WH, and a shelf
  (EAST/Stock/Shelf A) below EAST's stock;
* six products in two categories, with barcodes, one serial-tracked and one
  sold by weight;
* each week of the last year: a receipt and a delivery per warehouse; every
  four weeks a transfer from EAST to WEST; every eight a scrap; every
  thirteen a count; every quarter two serial-tracked scanners received;
* a receipt still waiting and a delivery ready to validate, so the "To Do"
  lists are not empty.

Each document is dated back to its week (moves, move lines, done date), as
if it had been posted then; the events in the outbox keep the time they were
written. Deterministic (a seeded random generator). Marks the database with
the system parameter ``stock_scalable.demo_loaded``.

The demo's RabbitMQ user (the one of ``amqp_url``, ``guest``) is mapped to
``admin`` (AMQP User on the user's form), so that commands it publishes with
``user_id`` are posted as admin; done at each load, also on a demo loaded
before, unless another user holds that broker user.
"""

import datetime
import random
import urllib.parse

MARKER = "stock_scalable.demo_loaded"

PRODUCTS = [
    # name, default code, barcode, category, uom xmlid, cost, price, weekly receipt
    ("Pallet Jack", "SSD-JACK", "5901234123457", "equipment", "uom.product_uom_unit", 300, 450, 8),
    (
        "Steel Shelf Unit",
        "SSD-SHELF",
        "5901234123464",
        "equipment",
        "uom.product_uom_unit",
        70,
        120,
        20,
    ),
    (
        "Thermal Label Roll",
        "SSD-LABEL",
        "5901234123471",
        "consumables",
        "uom.product_uom_unit",
        4,
        9,
        200,
    ),
    (
        "Packing Tape",
        "SSD-TAPE",
        "5901234123495",
        "consumables",
        "uom.product_uom_unit",
        1.5,
        3,
        300,
    ),
    (
        "Stretch Film",
        "SSD-FILM",
        "5901234123501",
        "consumables",
        "uom.product_uom_kgm",
        2.2,
        4.5,
        150,
    ),
]
SCANNER = ("Handheld Barcode Scanner", "SSD-SCAN", "5901234123488", 190, 280)


def _product(env, categories, name, code, barcode, category, uom_xmlid, cost, price):
    uom = env.ref(uom_xmlid)
    return env["product.product"].create(
        {
            "name": name,
            "default_code": code,
            "barcode": barcode,
            "categ_id": categories[category].id,
            "is_storable": True,
            "uom_id": uom.id,
            "uom_po_id": uom.id,
            "standard_price": cost,
            "list_price": price,
        }
    )


def _picking(env, picking_type, src, dest, lines, origin):
    return env["stock.picking"].create(
        {
            "picking_type_id": picking_type.id,
            "location_id": src.id,
            "location_dest_id": dest.id,
            "origin": origin,
            "move_ids": [
                (
                    0,
                    0,
                    {
                        "name": product.name,
                        "product_id": product.id,
                        "product_uom": product.uom_id.id,
                        "product_uom_qty": qty,
                        "location_id": src.id,
                        "location_dest_id": dest.id,
                    },
                )
                for product, qty in lines
            ],
        }
    )


def _backdate(moves, when):
    moves.write({"date": when})
    moves.move_line_ids.write({"date": when})
    moves.picking_id.write({"date_done": when})
    if "stock_valuation_layer_ids" in moves._fields:
        # With stock_account (run-demo --accounting): the valuation layers
        # too, whose creation date is what valuation reports read.
        layers = moves.stock_valuation_layer_ids
        if layers:
            moves.env.flush_all()
            moves.env.cr.execute(
                "UPDATE stock_valuation_layer SET create_date = %s WHERE id = ANY(%s)",
                [when, layers.ids],
            )
            layers.invalidate_recordset(["create_date"])


def _post(picking, when, dest=None):
    """Confirm, reserve and validate ``picking`` (on a shelf when ``dest``),
    then date it back to ``when``."""
    picking.action_confirm()
    picking.action_assign()
    for move in picking.move_ids:
        if not move.move_line_ids:
            continue
        if dest:
            move.move_line_ids.location_dest_id = dest
        move.picked = True
    picking.with_context(skip_backorder=True, cancel_backorder=True).button_validate()
    _backdate(picking.move_ids, when)


def map_broker_user(env):
    """Map the RabbitMQ user of the demo's ``amqp_url`` (``guest`` by
    default) to ``admin``, unless a user holds it already. Returns the
    broker user, or None when the addon has no such field (not upgraded)."""
    if "amqp_user" not in env["res.users"]._fields:
        return None
    settings = env["stock.event.outbox"]._get_bus_settings()
    urls = settings.amqp_urls
    broker_user = (urllib.parse.urlsplit(urls[0]).username if urls else None) or "guest"
    users = env["res.users"].with_context(active_test=False)
    if not users.search([("amqp_user", "=", broker_user)]):
        env.ref("base.user_admin").amqp_user = broker_user
    return broker_user


def load(env, weeks=52, today=None):
    """Load the story into ``env``'s database (superuser env). Returns a
    dict of counts. Does nothing when it was loaded already, but map the
    demo's broker user (:func:`map_broker_user`)."""
    map_broker_user(env)
    params = env["ir.config_parameter"].sudo()
    if params.get_param(MARKER):
        return {}
    rng = random.Random(2026)
    today = today or datetime.datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
    start = today - datetime.timedelta(weeks=weeks)
    company = env.company
    warehouses = [env["stock.warehouse"].search([("company_id", "=", company.id)], limit=1)]
    for name, code in (("East Distribution Center", "EAST"), ("West Distribution Center", "WEST")):
        warehouses.append(
            env["stock.warehouse"].create({"name": name, "code": code, "company_id": company.id})
        )
    east, west = warehouses[1], warehouses[2]
    shelf = env["stock.location"].create(
        {"name": "Shelf A", "location_id": east.lot_stock_id.id, "usage": "internal"}
    )
    categories = {
        "equipment": env["product.category"].create({"name": "Warehouse Equipment"}),
        "consumables": env["product.category"].create({"name": "Warehouse Consumables"}),
    }
    products = [(_product(env, categories, *spec[:7]), spec[7]) for spec in PRODUCTS]
    scanner = _product(
        env,
        categories,
        SCANNER[0],
        SCANNER[1],
        SCANNER[2],
        "equipment",
        "uom.product_uom_unit",
        SCANNER[3],
        SCANNER[4],
    )
    scanner.tracking = "serial"
    supplier = env.ref("stock.stock_location_suppliers")
    customer = env.ref("stock.stock_location_customers")
    stock = {(wh.id, product.id): 0.0 for wh in warehouses for product, _w in products}
    counts = {"receipts": 0, "deliveries": 0, "transfers": 0, "scraps": 0, "counts": 0}
    serial = 0
    for week in range(weeks):
        monday = start + datetime.timedelta(weeks=week)
        for index, wh in enumerate(warehouses):
            day = monday + datetime.timedelta(days=index)
            lines = [
                (product, max(1, round(weekly * rng.uniform(0.6, 1.4))))
                for product, weekly in rng.sample(products, 3)
            ]
            receipt = _picking(
                env, wh.in_type_id, supplier, wh.lot_stock_id, lines, f"DEMO-PO-{week:02d}{index}"
            )
            # Half of EAST's receipts are put away on Shelf A.
            _post(receipt, day, dest=shelf if wh == east and week % 2 else None)
            for product, qty in lines:
                stock[wh.id, product.id] += qty
            counts["receipts"] += 1
            out = [
                (product, round(stock[wh.id, product.id] * rng.uniform(0.3, 0.7)))
                for product, _w in rng.sample(products, 2)
            ]
            out = [(product, qty) for product, qty in out if qty > 0]
            if out:
                delivery = _picking(
                    env,
                    wh.out_type_id,
                    wh.lot_stock_id,
                    customer,
                    out,
                    f"DEMO-SO-{week:02d}{index}",
                )
                _post(delivery, day + datetime.timedelta(days=2, hours=3))
                for product, qty in out:
                    stock[wh.id, product.id] -= qty
                counts["deliveries"] += 1
        if week % 4 == 3:
            product, _w = products[week // 4 % len(products)]
            qty = round(stock[east.id, product.id] / 4)
            if qty > 0:
                transfer = _picking(
                    env,
                    east.int_type_id,
                    east.lot_stock_id,
                    west.lot_stock_id,
                    [(product, qty)],
                    f"DEMO-REPLENISH-{week:02d}",
                )
                _post(transfer, monday + datetime.timedelta(days=4))
                stock[east.id, product.id] -= qty
                stock[west.id, product.id] += qty
                counts["transfers"] += 1
        if week % 8 == 5:
            # Not EAST, whose stock is partly on Shelf A: a scrap of EAST/Stock
            # only sees what lies in EAST/Stock itself.
            wh = (warehouses[0], west)[week // 8 % 2]
            product, _w = products[week % len(products)]
            if stock[wh.id, product.id] >= 2:
                scrap = env["stock.scrap"].create(
                    {
                        "product_id": product.id,
                        "product_uom_id": product.uom_id.id,
                        "scrap_qty": 2,
                        "location_id": wh.lot_stock_id.id,
                        "origin": f"DEMO-DAMAGE-{week:02d}",
                    }
                )
                scrap.action_validate()
                assert scrap.state == "done", f"scrap {scrap.name} not done"
                _backdate(scrap.move_ids, monday + datetime.timedelta(days=3))
                scrap.date_done = monday + datetime.timedelta(days=3)
                stock[wh.id, product.id] -= 2
                counts["scraps"] += 1
        if week % 13 == 12:
            # A quarterly count finds one unit missing in WEST.
            product, _w = products[week % len(products)]
            quant = env["stock.quant"].search(
                [("product_id", "=", product.id), ("location_id", "=", west.lot_stock_id.id)],
                limit=1,
            )
            if quant and quant.quantity >= 1:
                quant.with_context(inventory_mode=True).inventory_quantity = quant.quantity - 1
                before = env["stock.move"].search([], order="id desc", limit=1).id
                quant.with_context(inventory_mode=True).action_apply_inventory()
                _backdate(
                    env["stock.move"].search([("id", ">", before)]),
                    monday + datetime.timedelta(days=4, hours=6),
                )
                stock[west.id, product.id] -= 1
                counts["counts"] += 1
            # Two serial-tracked scanners arrive in EAST.
            lines = []
            for _n in range(2):
                serial += 1
                lines.append(f"SCN-{serial:04d}")
            receipt = _picking(
                env,
                east.in_type_id,
                supplier,
                east.lot_stock_id,
                [(scanner, 2)],
                f"DEMO-PO-SCAN-{week:02d}",
            )
            receipt.action_confirm()
            move = receipt.move_ids
            move.move_line_ids.unlink()
            env["stock.move.line"].create(
                [
                    {
                        "move_id": move.id,
                        "picking_id": receipt.id,
                        "product_id": scanner.id,
                        "product_uom_id": scanner.uom_id.id,
                        "lot_name": name,
                        "quantity": 1,
                        "location_id": supplier.id,
                        "location_dest_id": east.lot_stock_id.id,
                    }
                    for name in lines
                ]
            )
            move.picked = True
            receipt.button_validate()
            _backdate(receipt.move_ids, monday + datetime.timedelta(days=1, hours=2))
            counts["receipts"] += 1
    # Documents still to do today.
    product, _w = products[0]
    pending = _picking(
        env, west.in_type_id, supplier, west.lot_stock_id, [(product, 6)], "DEMO-PO-OPEN"
    )
    pending.action_confirm()
    ready = _picking(
        env,
        east.out_type_id,
        east.lot_stock_id,
        customer,
        [(products[1][0], 3), (products[2][0], 25)],
        "DEMO-SO-OPEN",
    )
    ready.action_confirm()
    ready.action_assign()
    if "stock.report.refresh" in env:
        env["stock.report.refresh"]._refresh_reports()
    params.set_param(MARKER, today.date().isoformat())
    return counts


BARCODES_MARKER = "stock_scalable.demo_barcodes"
BARCODES_IN = "stock_barcodes.stock_barcodes_option_group_picking_in"
BARCODES_OUT = "stock_barcodes.stock_barcodes_option_group_picking_out"


def configure_barcodes(env):
    """Set the database up for scanning with OCA's stock_barcodes, when it is
    installed (run-demo does it once, then marks the database with the
    system parameter ``stock_scalable.demo_barcodes``): receipts read with its
    shipped "Picking IN options" group, deliveries with its shipped "Picking
    OUT options" group, changed here so that a product's barcode is read.
    Operation types that have a group already keep it. Returns the (in, out)
    groups, or None without stock_barcodes.

    As shipped, "Picking IN options" puts every receipt of its operation
    types in a new package when it is validated, from the reader or not
    (stock_barcodes' ``button_validate``): inventory commands' receipts too.
    Here it does not: the demo's stock stays loose, as the rest of its
    history.

    As shipped, "Picking OUT options" reads only a package in its first step
    (the guided screen fills the product and lot of the line it proposes), so
    a product's EAN is "Barcode not found with this screen values". Here the
    product and the lot or serial number are read in that step too, and the
    screen is free instead of guided: the lines in any order, the source
    location taken from the line's reservation. A product read does not
    take its package from the stock (as shipped it did, and then kept the
    package as the destination too, which Odoo refuses for part of a
    package, e.g. 2 of the 3 units a "Picking IN" receipt packed); a
    package read still takes it whole. The quantity is still typed and each
    reading confirmed, as shipped."""
    picking_out = env.ref(BARCODES_OUT, raise_if_not_found=False)
    if not picking_out:
        return None
    picking_in = env.ref(BARCODES_IN)
    picking_in.auto_put_in_pack = False
    picking_out.write({"barcode_guided_mode": False, "fill_fields_from_lot": False})
    picking_out.option_ids.filtered(
        lambda option: option.field_name in ("product_id", "lot_id")
    ).to_scan = True
    types = env["stock.picking.type"].search(
        [("code", "in", ("incoming", "outgoing")), ("barcode_option_group_id", "=", False)]
    )
    for picking_type in types:
        picking_type.barcode_option_group_id = (
            picking_in if picking_type.code == "incoming" else picking_out
        )
    env["ir.config_parameter"].sudo().set_param(BARCODES_MARKER, "1")
    return picking_in, picking_out
