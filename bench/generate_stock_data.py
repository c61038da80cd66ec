#!/usr/bin/env python3
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Load N realistic done move lines into an Odoo database with stock, with
quants consistent with them, in set-based SQL (minutes for millions).

    bench/generate_stock_data.py --conf odoo.conf --database DB --lines 1000000

Products (GEN-00001...) and warehouses (GEN1...) are created through the ORM;
moves and move lines are inserted with INSERT ... SELECT over
generate_series: receipts, sales, inter-warehouse transfers, inventory
adjustments (both ways) and scrap, spread over --days. Then the quants of the
generated products are rebuilt from that ledger, one per key.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import stacklib  # noqa: E402

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
    ``lines`` generated done move lines into it (this script, as its own
    process). Returns the seconds the generation took."""
    print(f"==> {db_name}: stock + {modules}, no demo data", flush=True)
    subprocess.run(
        stacklib.odoo_command()
        + ["-c", str(conf), "-d", db_name, "-i", modules, "--without-demo=all"]
        + ["--stop-after-init"],
        env=stacklib.odoo_env(),
        check=True,
        capture_output=True,
    )
    started = time.monotonic()
    subprocess.run(
        [sys.executable, __file__, "--conf", str(conf), "--database", db_name]
        + ["--lines", str(lines)],
        check=True,
    )
    return time.monotonic() - started


def main():
    parser = stacklib.argument_parser(__doc__)
    parser.add_argument("--conf", required=True, help="odoo.conf of the database")
    parser.add_argument("--database", required=True, help="database to fill")
    parser.add_argument("--lines", type=int, default=1_000_000, help="done move lines to generate")
    parser.add_argument("--products", type=int, default=2000, help="products to spread them over")
    parser.add_argument("--warehouses", type=int, default=3, help="warehouses")
    parser.add_argument("--days", type=int, default=365, help="days of history, back from today")
    parser.add_argument("--batch", type=int, default=250_000, help="lines per transaction")
    parser.add_argument(
        "--seed", type=float, default=0.42, help="random seed (same data each run)"
    )
    args = parser.parse_args()

    started = time.monotonic()
    out = subprocess.run(
        stacklib.odoo_command() + ["shell", "-c", args.conf, "-d", args.database, "--no-http"],
        input=SETUP % {"warehouses": args.warehouses, "products": args.products},
        text=True,
        capture_output=True,
        env=stacklib.odoo_env(),
        check=True,
    ).stdout
    setup = json.loads(out.split("SETUP ", 1)[1].splitlines()[0])
    print(
        f"==> {len(setup['products'])} products, {len(setup['stock'])} warehouses "
        f"({time.monotonic() - started:.0f}s)",
        flush=True,
    )
    params = dict(
        setup, n_products=len(setup["products"]), n_wh=len(setup["stock"]), days=args.days
    )
    conn = stacklib.connect(args.database)
    conn.autocommit = False
    done = 0
    with conn.cursor() as cr:
        while done < args.lines:
            batch = min(args.batch, args.lines - done)
            cr.execute(GENERATE, dict(params, lines=batch, seed=(args.seed + done / 1e9) % 1))
            cr.execute(ROUTE, params)
            conn.commit()
            done += batch
            print(f"    {done:,} move lines ({time.monotonic() - started:.0f}s)", flush=True)
        cr.execute(REBUILD_QUANTS, params)
        conn.commit()
        conn.autocommit = True
        cr.execute("ANALYZE stock_move; ANALYZE stock_move_line; ANALYZE stock_quant")
    conn.close()
    print(
        f"==> {args.lines:,} done move lines and their quants in "
        f"{time.monotonic() - started:.0f}s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
