# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stock reports at a million move lines: Odoo's own queries against the
stock_scalable_reporting models, side by side, through the ORM.

One database: stock + stock_scalable, no demo data, N done move lines
generated in set-based SQL (bench/lib/data.py). The initial
build of the views is timed by installing stock_scalable_reporting; then
some postings land after the refresh (so the reports' read-time delta is not
empty), and each question is asked R times the way the web client asks it
(read_group), vanilla then ours:

1. stock by warehouse (vanilla: stock.quant and stock.move.line grouped by
   location / destination, as Inventory > Reporting does);
2. movements by product × month over 12 months (vanilla: the Moves Analysis
   pivot on stock.move.line);
3. movements by warehouse and by category over 12 months (vanilla: done
   move lines grouped by destination location and by product category);
4. the Stock Movements list's first page (vanilla: the first page of done
   move lines, newest first);
5. inventory at a date 180 days back for 200 products (vanilla: Odoo's own
   qty_available computation with the to_date context, read with the
   products' names as a list of products shows them; ours: the Inventory at
   Date report, which returns the names too);
6. on-hand at that date in one location with its children (WH/Stock of
   the first warehouse), 200 products: Odoo's computation (stock's
   ``_compute_quantities_dict``, called past our override) against our
   Inventory at Date report filtered on the location, and against the same
   Odoo field through stock_scalable_reporting's override (what Odoo's own
   Inventory at Date screen reads).

For each of ours, the table names the view that answered (the planner's
choice for the movement questions).

Every timed call starts with an empty ORM cache, as a request does.

It also times a REFRESH ... CONCURRENTLY of the views and reports the memory
it takes in its PostgreSQL backend and the views' size.
Goals at 1M lines: each of ours has p95 under 100 ms and is at least 20×
faster than vanilla.

    python3 -m bench.report_latency --lines 1000000 --write
"""

import datetime
import sys
import time

from bench.lib import cli, data, questions
from bench.lib.monitor import BackendMemory
from bench.lib.report import row
from tests.harness import odoo_conf, stack, stock_flows


def odoo_quantities(products, *args):
    """Odoo's own ``product.product._compute_quantities_dict`` (addons/stock),
    called past the overrides of the installed addons: vanilla's figure on
    this database."""
    for cls in type(products).__mro__:
        if cls.__module__ == "odoo.addons.stock.models.product" and (
            "_compute_quantities_dict" in vars(cls)
        ):
            return vars(cls)["_compute_quantities_dict"](products, *args)
    raise LookupError("stock's _compute_quantities_dict not found")


def report_questions(env, product_ids, day):
    """(name, vanilla callable, ours callable, what answered ours)."""
    since = (datetime.date.today() - datetime.timedelta(days=365)).replace(day=1)
    end_of_day = datetime.datetime.combine(day, datetime.time(23, 59, 59))
    Quant, Line = env["stock.quant"], env["stock.move.line"]
    Level, Movement = env["stock.level.report"], env["stock.movement.report"]
    AtDate = env["stock.inventory.date.report"].with_context(inventory_date=str(day))
    products = env["product.product"].browse(product_ids)
    warehouse = env["stock.warehouse"].search([("code", "=", "GEN1")], limit=1)
    at_location = products.with_context(to_date=end_of_day, location=warehouse.lot_stock_id.id)

    def planned(domain, groupby, aggregates):
        return Movement._sscale_rollup(domain, groupby, aggregates, []) or "stock.movement.report"

    def vanilla_stock():
        Quant.read_group(
            [("location_id.usage", "=", "internal")], ["quantity:sum"], ["location_id"]
        )
        return Line.read_group(
            [("state", "=", "done"), ("location_dest_id.usage", "=", "internal")],
            ["quantity:sum"],
            ["location_dest_id"],
        )

    def vanilla_at_date():
        # What a list of products at that date reads (ours returns the names too).
        products.read(["display_name"])
        return odoo_quantities(
            products.with_context(to_date=end_of_day), None, None, None, False, end_of_day
        )

    year = [("date", ">=", since)]
    done_year = [("state", "=", "done"), ("date", ">=", since)]
    return [
        (
            "stock by warehouse",
            vanilla_stock,
            lambda: Level.read_group(
                [], ["quantity:sum", "available_quantity:sum"], ["warehouse_id"]
            ),
            "stock.level.report (quants)",
        ),
        (
            "movements by warehouse, 12 months",
            lambda: Line.read_group(done_year, ["quantity:sum"], ["location_dest_id"]),
            lambda: Movement.read_group(year, ["qty_in:sum", "qty_out:sum"], ["warehouse_id"]),
            planned(year, ["warehouse_id"], ["qty_in:sum", "qty_out:sum", "__count"]),
        ),
        (
            "movements by category, 12 months",
            lambda: Line.read_group(done_year, ["quantity:sum"], ["product_category_name"]),
            lambda: Movement.read_group(year, ["qty_in:sum", "qty_out:sum"], ["categ_id"]),
            planned(year, ["categ_id"], ["qty_in:sum", "qty_out:sum", "__count"]),
        ),
        (
            "movements by product × month, 12 months",
            lambda: Line.read_group(
                done_year, ["quantity:sum"], ["product_id", "date:month"], lazy=False
            ),
            lambda: Movement.read_group(
                year, ["qty_in:sum", "qty_out:sum"], ["product_id", "date:month"], lazy=False
            ),
            planned(year, ["product_id", "date:month"], ["qty_in:sum", "qty_out:sum"]),
        ),
        (
            "same, the query alone (_read_group, no formatting of 26k groups)",
            lambda: Line._read_group(done_year, ["product_id", "date:month"], ["quantity:sum"]),
            lambda: Movement._read_group(
                year, ["product_id", "date:month"], ["qty_in:sum", "qty_out:sum"]
            ),
            planned(year, ["product_id", "date:month"], ["qty_in:sum", "qty_out:sum"]),
        ),
        (
            "movements by category × month, 12 months (the pivot's default)",
            lambda: Line.read_group(
                done_year, ["quantity:sum"], ["product_category_name", "date:month"], lazy=False
            ),
            lambda: Movement.read_group(
                year, ["qty_net:sum"], ["categ_id", "date:month"], lazy=False
            ),
            planned(year, ["categ_id", "date:month"], ["qty_net:sum"]),
        ),
        (
            "the movements list's first page (80 rows, newest first)",
            lambda: Line.search_read(
                [("state", "=", "done")],
                ["date", "product_id", "location_id", "location_dest_id", "quantity"],
                limit=80,
                order="date desc, id desc",
            ),
            lambda: Movement.search_read(
                [],
                [
                    "date",
                    "warehouse_id",
                    "location_id",
                    "product_id",
                    "movement_type",
                    "qty_in",
                    "qty_out",
                ],
                limit=80,
            ),
            "stock.movement.report (daily view + journal)",
        ),
        (
            "inventory 180 days back, 200 products",
            vanilla_at_date,
            lambda: AtDate.read_group(
                [("product_id", "in", product_ids)], ["quantity:sum"], ["product_id"]
            ),
            "stock.inventory.date.report",
        ),
        (
            "same, the quantities alone (no product names)",
            lambda: odoo_quantities(
                products.with_context(to_date=end_of_day), None, None, None, False, end_of_day
            ),
            lambda: AtDate._read_group(
                [("product_id", "in", product_ids)], ["product_id"], ["quantity:sum"]
            ),
            "stock.inventory.date.report",
        ),
        (
            "inventory 180 days back, WH/Stock and its children, 200 products",
            lambda: odoo_quantities(at_location, None, None, None, False, end_of_day),
            lambda: AtDate._read_group(
                [
                    ("product_id", "in", product_ids),
                    ("location_id", "child_of", warehouse.lot_stock_id.id),
                ],
                ["product_id"],
                ["quantity:sum"],
            ),
            "stock.inventory.date.report",
        ),
        (
            "Odoo's qty_available 180 days back, WH/Stock and its children, 200 products",
            lambda: odoo_quantities(at_location, None, None, None, False, end_of_day),
            lambda: at_location._compute_quantities_dict(None, None, None, False, end_of_day),
            "product.product override (daily and monthly views by location + journal)",
        ),
    ]


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000, help="done move lines to generate")
    cli.question_runs(parser)
    args = cli.parse(parser)
    import odoo  # noqa: PLC0415

    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(log_level="info")
    db_name = f"sscale_bench_rpt_{int(time.time())}"
    try:
        generate_time = data.build_database(conf, db_name, args.lines)
        print("==> installing stock_scalable_reporting (initial build of the views)", flush=True)
        install_time, progress = questions.install_reporting(
            conf, db_name, lambda line: "stock_scalable_reporting:" in line
        )
        db = CommittedDatabase(db_name)
        with db.env() as env:
            env.cr.execute("SELECT COUNT(*) FROM stock_move_line WHERE state = 'done'")
            lines = env.cr.fetchone()[0]
            products = env["product.product"].search(
                [("default_code", "=like", "GEN-%")], limit=200, order="id"
            )
            product_ids = products.ids
            for product in products[: args.postings]:
                stock_flows.set_inventory(env, product, 500)
        print(f"==> timing REFRESH ... CONCURRENTLY at {lines:,} lines", flush=True)
        with db.env() as env:
            env.cr.execute("SELECT pg_backend_pid()")
            memory = BackendMemory(env.cr.fetchone()[0])
            memory.start()
            started = time.perf_counter()
            env["stock.report.refresh"]._refresh_reports()
            refresh_kb = memory.stop()
        with db.env() as env:
            refresh_time = time.perf_counter() - started
            env.cr.execute(
                "SELECT COUNT(*), SUM(pg_total_relation_size(oid)) FROM pg_class"
                " WHERE relkind = 'm' AND relname LIKE 'sscale\\_rpt\\_%'"
            )
            mv_count, mv_bytes = env.cr.fetchone()
            env.cr.execute("SELECT COUNT(*) FROM sscale_rpt_movement")
            mv_rows = env.cr.fetchone()[0]
            env.cr.execute("SELECT pg_total_relation_size('stock_move_line')")
            sml_bytes = env.cr.fetchone()[0]
        print(
            f"==> {args.postings} deliveries posted after the refresh (read-time delta)",
            flush=True,
        )
        for product_id in product_ids[: args.postings]:
            db.call(lambda env, p=product_id: stock_flows.deliver(env, [(p, 1)]))
        day = datetime.date.today() - datetime.timedelta(days=180)
        with db.env() as env:
            results = questions.ask(env, report_questions(env, product_ids, day), args.runs)
            # Cross-check: inventory at date equals Odoo's own to_date figure.
            end_of_day = datetime.datetime.combine(day, datetime.time(23, 59, 59))
            env.invalidate_all()
            products = env["product.product"].browse(product_ids)
            vanilla_qty = {
                product_id: values["qty_available"]
                for product_id, values in odoo_quantities(
                    products.with_context(to_date=end_of_day), None, None, None, False, end_of_day
                ).items()
            }
            ours_qty = {
                g["product_id"][0]: g["quantity"]
                for g in env["stock.inventory.date.report"]
                .with_context(inventory_date=str(day))
                .read_group([("product_id", "in", product_ids)], ["quantity:sum"], ["product_id"])
            }
            mismatches = sum(
                abs(vanilla_qty[p] - ours_qty.get(p, 0.0)) > 1e-6 for p in product_ids
            )
            # The generated lines take from and put into WH/Stock itself (no
            # sub-locations), where Odoo's walk back through the moves is
            # right: ours must give the same figures there.
            stock = env["stock.warehouse"].search([("code", "=", "GEN1")], limit=1).lot_stock_id
            at_location = products.with_context(to_date=end_of_day, location=stock.id)
            odoo_at = odoo_quantities(at_location, None, None, None, False, end_of_day)
            ours_at = at_location._compute_quantities_dict(None, None, None, False, end_of_day)
            report_at = dict(
                env["stock.inventory.date.report"]
                .with_context(inventory_date=str(day))
                ._read_group(
                    [("product_id", "in", product_ids), ("location_id", "child_of", stock.id)],
                    ["product_id"],
                    ["quantity:sum"],
                )
            )
            location_mismatches = sum(
                abs(odoo_at[p]["qty_available"] - ours_at[p]["qty_available"]) > 1e-6
                or abs(odoo_at[p]["qty_available"] - report_at.get(products.browse(p), 0.0)) > 1e-6
                for p in product_ids
            )
        db.close()
        lines_out = questions.latency_table(results)
        lines_out += [
            "",
            "| figure | value |",
            "|---|---:|",
            f"| done move lines | {lines:,} |",
            f"| data generation (set-based SQL), s | {generate_time:.0f} |",
            row(
                "install of stock_scalable_reporting incl. the initial build, s",
                f"{install_time:.0f}",
            ),
            row(f"REFRESH ... CONCURRENTLY of the {mv_count} views, s", f"{refresh_time:.1f}"),
            row(
                "memory the refresh took in its PostgreSQL backend (peak private RSS "
                "above its start, sampled every 10 ms; sorts and hashes spill to disk "
                "beyond work_mem)",
                f"{refresh_kb / 1024:.0f} MB" if refresh_kb is not None else "n/a (remote server)",
            ),
            row(
                "materialized views on disk (rows of movement facts)",
                f"{mv_bytes / 2**20:.0f} MB ({mv_rows:,} rows)",
            ),
            f"| stock_move_line on disk, for comparison | {sml_bytes / 2**20:.0f} MB |",
            f"| postings after the refresh (in the read-time delta) | {args.postings} |",
            row(
                "inventory at date: products where ours ≠ Odoo's to_date",
                f"{mismatches} of {len(product_ids)}",
            ),
            row(
                "on-hand at that date in WH/Stock: products where our field or report ≠ "
                "Odoo's (the generated lines use no sub-location)",
                f"{location_mismatches} of {len(product_ids)}",
            ),
        ]
        questions.publish(
            f"report_latency_{args.lines}",
            f"Stock reports at {lines:,} move lines",
            f"python3 -m bench.report_latency --lines {args.lines}",
            args,
            lines_out,
            "Initial build (install log)",
            progress,
            results,
        )
    finally:
        if not args.keep:
            odoo.sql_db.close_db(db_name)
            stack.drop_database(db_name)


if __name__ == "__main__":
    sys.exit(main())
