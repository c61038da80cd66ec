# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks' databases: built the same way for vanilla Odoo and the
addons (odoo -i, odoo shell seeds, createdb -T copies), and their data:
seeded products with stock, or N generated done move lines in set-based
SQL (minutes for millions: bench/generate_stock_data.py)."""

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import stack

from .report import ROOT

# ----------------------------------------------------------------------
# odoo -i, odoo shell, SQL
# ----------------------------------------------------------------------


def install(conf, dbname, modules, without_demo=False):
    """``odoo -i modules --stop-after-init`` on ``dbname`` (created if
    missing); the finished process, its output as text."""
    cmd = stack.odoo_command() + ["-c", str(conf), "-d", dbname, "-i", modules]
    if without_demo:
        cmd.append("--without-demo=all")
    return subprocess.run(
        cmd + ["--stop-after-init"],
        env=stack.odoo_env(),
        check=True,
        capture_output=True,
        text=True,
    )


def copy_and_install(conf, template, dbname, modules):
    """``dbname``: a copy of ``template`` (with its filestore) where
    ``modules`` are then installed."""
    stack.copy_database(template, dbname, Path(conf).parent / "data")
    install(conf, dbname, modules)


def shell(conf, dbname, script, *markers):
    """Run ``script`` in ``odoo shell`` on ``dbname``; the JSON each of its
    ``print("MARKER " + json.dumps(...))`` lines gave, one per marker."""
    out = subprocess.run(
        stack.odoo_command() + ["shell", "-c", str(conf), "-d", dbname, "--no-http"],
        input=script,
        text=True,
        env=stack.odoo_env(),
        check=True,
        capture_output=True,
    ).stdout
    found = [json.loads(out.split(f"{marker} ", 1)[1].splitlines()[0]) for marker in markers]
    return found[0] if len(found) == 1 else found


def query(dbname, sql, params=None, one=False):
    """The rows of ``sql`` in ``dbname`` (its first row with ``one``), on a
    connection of its own."""
    conn = stack.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchone() if one else cr.fetchall()
    finally:
        conn.close()


# ----------------------------------------------------------------------
# a hot SKU and 1,000 SKUs (quant_contention, event_latency, posting_overhead)
# ----------------------------------------------------------------------

SKU_PRODUCTS = """
import json
%(before)s
values = {"is_storable": True, %(values)s}
products = env["product.product"].create(
    [dict(values, name="Hot SKU")] + [dict(values, name=f"SKU {i:04d}") for i in range(1000)]
)
stock = env["stock.warehouse"].search([], limit=1).lot_stock_id
quants = env["stock.quant"].with_context(inventory_mode=True).create([
    {"product_id": p.id, "location_id": stock.id,
     "inventory_quantity": %(hot_stock)d if i == 0 else 1000}
    for i, p in enumerate(products)
])
quants.action_apply_inventory()
env.cr.commit()
print("PRODUCTS " + json.dumps(products.ids))
"""


def build_sku_databases(conf, prefix, hot_stock, modules="stock", before="", values=""):
    """Two databases built the same way: ``modules`` without demo data and
    1,001 storable products with stock (the first has ``hot_stock`` units,
    the others 1,000), then stock_scalable on a copy of it. ``before``:
    shell code run before the products are created; ``values``: more
    values of the products (Python dict items). Returns (vanilla, ours,
    product ids)."""
    vanilla, ours = f"{prefix}_vanilla", f"{prefix}_ours"
    print(
        f"==> building {vanilla}: {modules} without demo data, 1,001 seeded products", flush=True
    )
    install(conf, vanilla, modules, without_demo=True)
    product_ids = shell(
        conf,
        vanilla,
        SKU_PRODUCTS % {"hot_stock": hot_stock, "before": before, "values": values},
        "PRODUCTS",
    )
    print(f"==> copying it to {ours} and installing stock_scalable", flush=True)
    copy_and_install(conf, vanilla, ours, "stock_scalable")
    return vanilla, ours, product_ids


# ----------------------------------------------------------------------
# products with internal references (command_throughput, loadtest)
# ----------------------------------------------------------------------

CODED_PRODUCTS = """
import json
stock = env["stock.warehouse"].search([], limit=1, order="id").lot_stock_id
products = env["product.product"].create(
    [{"name": "Hot product", "default_code": "BENCH-HOT", "is_storable": True}]
    + [{"name": f"Product {i:04d}", "default_code": f"BENCH-{i:04d}", "is_storable": True}
       for i in range(%(products)d)]
)
quants = env["stock.quant"].with_context(inventory_mode=True).create([
    {"product_id": p.id, "location_id": stock.id,
     "inventory_quantity": %(hot_stock)d if i == 0 else %(sku_stock)d}
    for i, p in enumerate(products)
])
quants.action_apply_inventory()
env.cr.commit()
print("PRODUCTS " + json.dumps([[p.id, p.default_code] for p in products]))
print("STOCK " + json.dumps([stock.id, stock.complete_name]))
"""


def coded_products(products, hot_stock, sku_stock):
    """Shell code seeding a hot product (BENCH-HOT, ``hot_stock`` units) and
    ``products`` others (BENCH-0000..., ``sku_stock`` each) in WH/Stock; it
    prints PRODUCTS [[id, code]] and STOCK [id, name]."""
    return CODED_PRODUCTS % {"products": products, "hot_stock": hot_stock, "sku_stock": sku_stock}


# ----------------------------------------------------------------------
# N generated done move lines (ledger_check, report_latency, valuation_latency)
# ----------------------------------------------------------------------

SETUP = """
import json
Warehouse = env["stock.warehouse"]
for i in range(1, %(warehouses)d + 1):
    if not Warehouse.search([("code", "=", f"GEN{i}")]):
        Warehouse.create({"name": f"Generated {i}", "code": f"GEN{i}"})
warehouses = Warehouse.search([("code", "like", "GEN")], order="id")
Product = env["product.product"]
existing = Product.search_count([("default_code", "=like", "GEN-%%")])
Product.create([
    {"name": f"Generated product {i:05d}", "default_code": f"GEN-{i:05d}", "is_storable": True}
    for i in range(existing + 1, %(products)d + 1)
])
products = Product.search([("default_code", "=like", "GEN-%%")], order="id", limit=%(products)d)
env.cr.commit()
print("SETUP " + json.dumps({
    "company": env.company.id,
    "uom": env.ref("uom.product_uom_unit").id,
    "products": products.ids,
    "stock": [w.lot_stock_id.id for w in warehouses],
    "in_type": [w.in_type_id.id for w in warehouses],
    "out_type": [w.out_type_id.id for w in warehouses],
    "int_type": [w.int_type_id.id for w in warehouses],
    "supplier": env.ref("stock.stock_location_suppliers").id,
    "customer": env.ref("stock.stock_location_customers").id,
    "inventory": env["stock.location"].search(
        [("usage", "=", "inventory"), ("scrap_location", "=", False),
         ("company_id", "=", env.company.id)], limit=1).id,
    "scrap": env["stock.location"].search(
        [("scrap_location", "=", True), ("company_id", "=", env.company.id)], limit=1).id,
}))
"""

# One row per generated move line: kind, product, warehouses, quantity, date.
GENERATE = """
SELECT setseed(%(seed)s);
CREATE TEMP TABLE sscale_gen ON COMMIT DROP AS
SELECT move_id, product_id, wh, qty, date,
       -- another warehouse than wh (itself when there is only one)
       1 + (wh + floor(random() * GREATEST(%(n_wh)s - 1, 1))::int) %% %(n_wh)s AS wh2,
       CASE WHEN r < 0.45 THEN 'receipt' WHEN r < 0.80 THEN 'sale'
            WHEN r < 0.90 AND %(n_wh)s > 1 THEN 'transfer' WHEN r < 0.90 THEN 'sale'
            WHEN r < 0.925 THEN 'adjust_in' WHEN r < 0.95 THEN 'adjust_out'
            ELSE 'scrap' END AS kind
  FROM (SELECT nextval('stock_move_id_seq') AS move_id,
               (%(products)s::int[])[1 + floor(random() * %(n_products)s)::int] AS product_id,
               1 + floor(random() * %(n_wh)s)::int AS wh,
               1 + floor(random() * 10)::int AS qty,
               random() AS r,
               (now() AT TIME ZONE 'UTC') - random() * interval '%(days)s days' AS date
          FROM generate_series(1, %(lines)s)) g;
"""

ROUTE = """
CREATE TEMP TABLE sscale_route ON COMMIT DROP AS
SELECT g.move_id, g.product_id, g.qty, g.date, g.kind,
       CASE g.kind WHEN 'receipt' THEN %(supplier)s WHEN 'adjust_in' THEN %(inventory)s
                   ELSE (%(stock)s::int[])[g.wh] END AS src,
       CASE g.kind WHEN 'receipt' THEN (%(stock)s::int[])[g.wh]
                   WHEN 'sale' THEN %(customer)s
                   WHEN 'transfer' THEN (%(stock)s::int[])[g.wh2]
                   WHEN 'adjust_in' THEN (%(stock)s::int[])[g.wh]
                   WHEN 'adjust_out' THEN %(inventory)s
                   ELSE %(scrap)s END AS dest,
       CASE g.kind WHEN 'receipt' THEN (%(in_type)s::int[])[g.wh]
                   WHEN 'sale' THEN (%(out_type)s::int[])[g.wh]
                   WHEN 'transfer' THEN (%(int_type)s::int[])[g.wh] END AS picking_type_id
  FROM sscale_gen g;

INSERT INTO stock_move (id, name, reference, company_id, date, location_id, location_dest_id,
                        location_final_id, procure_method, product_id, product_uom,
                        product_uom_qty, product_qty, quantity, state, picked, scrapped,
                        is_inventory, picking_type_id, create_uid, create_date, write_uid,
                        write_date)
SELECT move_id, 'GEN/' || move_id, 'GEN/' || move_id, %(company)s, date, src, dest, dest,
       'make_to_stock', product_id, %(uom)s, qty, qty, qty, 'done', TRUE, kind = 'scrap',
       kind IN ('adjust_in', 'adjust_out'), picking_type_id, 1, date, 1, date
  FROM sscale_route;

INSERT INTO stock_move_line (move_id, company_id, date, location_id, location_dest_id,
                             product_id, product_uom_id, quantity, quantity_product_uom, state,
                             picked, reference, create_uid, create_date, write_uid, write_date)
SELECT move_id, %(company)s, date, src, dest, product_id, %(uom)s, qty, qty, 'done', TRUE,
       'GEN/' || move_id, 1, date, 1, date
  FROM sscale_route;
"""

REBUILD_QUANTS = """
DELETE FROM stock_quant WHERE product_id = ANY(%(products)s::int[]);
INSERT INTO stock_quant (product_id, location_id, lot_id, package_id, owner_id, company_id,
                         storage_category_id, quantity, reserved_quantity,
                         inventory_diff_quantity, inventory_quantity_set, in_date,
                         create_uid, create_date, write_uid, write_date)
SELECT l.product_id, l.location_id, NULLIF(l.lot_id, 0), NULLIF(l.package_id, 0),
       NULLIF(l.owner_id, 0), loc.company_id, loc.storage_category_id, l.qty, 0, 0, FALSE,
       l.in_date, 1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC'
  FROM (SELECT product_id, location_id, lot_id, package_id, owner_id,
               SUM(qty) AS qty, MIN(date) AS in_date
          FROM (SELECT product_id, location_dest_id AS location_id, COALESCE(lot_id, 0) lot_id,
                       COALESCE(result_package_id, 0) package_id, COALESCE(owner_id, 0) owner_id,
                       quantity_product_uom AS qty, date
                  FROM stock_move_line
                 WHERE state = 'done' AND product_id = ANY(%(products)s::int[])
                UNION ALL
                SELECT product_id, location_id, COALESCE(lot_id, 0), COALESCE(package_id, 0),
                       COALESCE(owner_id, 0), -quantity_product_uom, date
                  FROM stock_move_line
                 WHERE state = 'done' AND product_id = ANY(%(products)s::int[])) moves
         GROUP BY 1, 2, 3, 4, 5) l
  JOIN stock_location loc ON loc.id = l.location_id
 WHERE l.qty <> 0;
"""


def build_database(conf, db_name, lines, modules="stock_scalable"):
    """Create ``db_name`` with stock + ``modules`` (no demo data) and load
    ``lines`` generated done move lines into it (bench/generate_stock_data.py,
    as its own process). Returns the seconds the generation took."""
    print(f"==> {db_name}: stock + {modules}, no demo data", flush=True)
    install(conf, db_name, modules, without_demo=True)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bench.generate_stock_data", "--conf", str(conf)]
        + ["--database", db_name, "--lines", str(lines)],
        check=True,
        cwd=ROOT,
    )
    return time.monotonic() - started


def generate(conf, database, lines, products, warehouses, days, batch, seed):
    """Create ``products`` products and ``warehouses`` warehouses in
    ``database`` through the ORM, then insert ``lines`` done moves and
    move lines spread over ``days`` (``batch`` lines per transaction,
    random ``seed``), and rebuild the quants of those products from them."""
    started = time.monotonic()
    setup = shell(
        conf, database, SETUP % {"warehouses": warehouses, "products": products}, "SETUP"
    )
    print(
        f"==> {len(setup['products'])} products, {len(setup['stock'])} warehouses "
        f"({time.monotonic() - started:.0f}s)",
        flush=True,
    )
    params = dict(setup, n_products=len(setup["products"]), n_wh=len(setup["stock"]), days=days)
    conn = stack.connect(database)
    conn.autocommit = False
    done = 0
    with conn.cursor() as cr:
        while done < lines:
            size = min(batch, lines - done)
            cr.execute(GENERATE, dict(params, lines=size, seed=(seed + done / 1e9) % 1))
            cr.execute(ROUTE, params)
            conn.commit()
            done += size
            print(f"    {done:,} move lines ({time.monotonic() - started:.0f}s)", flush=True)
        cr.execute(REBUILD_QUANTS, params)
        conn.commit()
        conn.autocommit = True
        cr.execute("ANALYZE stock_move; ANALYZE stock_move_line; ANALYZE stock_quant")
    conn.close()
    print(
        f"==> {lines:,} done move lines and their quants in " f"{time.monotonic() - started:.0f}s",
        flush=True,
    )
