# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory valuation reports at a million valuation layers: Odoo's own
grouping of ``stock.valuation.layer`` against stock_scalable_reporting_account's
reports, side by side, through the ORM.

One database: stock_account + stock_scalable, no demo data; done moves
generated in set-based SQL (bench/lib/data.py), one valuation
layer per move that enters or leaves the company's stock (receipts, sales,
adjustments, scrap; not the inter-warehouse transfers), as Odoo makes them,
with FIFO's remaining quantity and value, and 20 product categories. The
initial build of the views is timed by installing stock_scalable_reporting
(the bridge installs itself); then some postings land after the refresh (the
reports' read-time delta is not empty), and each question is asked R times
the way the web client asks it (read_group), vanilla then ours:

1. valuation by product category (Inventory > Reporting > Valuation grouped
   by category: quantity and value of the storable products' layers);
2. the Valuation pivot's default: category × month of the last 12 months,
   remaining quantity and value;
3. valuation by product, and the same query without Odoo's formatting of
   the 2,000 groups (``_read_group``);
4. valuation at a date 180 days back by category (vanilla: the layers
   created up to then, as Odoo's Valuation at Date filters them);
5. the same by product, with and without the formatting.

For each of ours, the table names the view that answered. Every timed call
starts with an empty ORM cache, as a request does. The figures of ours are
checked against vanilla's for each question.

    python3 -m bench.valuation_latency --layers 1000000 --write
"""

import datetime
import sys
import time

from bench.lib import cli, data, questions
from bench.lib.report import row
from tests.harness import odoo_conf, stack, stock_flows

# Share of the generated moves that are valued (all but the transfers).
VALUED_SHARE = 0.9
CATEGORIES = 20

# One layer per valued generated move: in at a price per product and month,
# out at the product's average price of its receipts (what FIFO and AVCO
# come close to), remaining quantity and value on the incoming layers,
# spent oldest first as FIFO spends them.
LAYERS = """
INSERT INTO product_category (name, complete_name, parent_path, create_uid, create_date,
                              write_uid, write_date)
SELECT 'Generated category ' || n, 'Generated category ' || n, '', 1, now(), 1, now()
  FROM generate_series(1, %(categories)s) n;
UPDATE product_category SET parent_path = id || '/' WHERE name LIKE 'Generated category %%';
UPDATE product_template t
   SET categ_id = c.id
  FROM product_product p,
       (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM product_category
         WHERE name LIKE 'Generated category %%') c
 WHERE p.product_tmpl_id = t.id AND p.default_code LIKE 'GEN-%%'
   AND c.n = p.id %% %(categories)s;

CREATE TEMP TABLE sscale_valued ON COMMIT DROP AS
SELECT m.id AS move_id, m.company_id, m.product_id, t.categ_id, m.date,
       CASE WHEN ls.usage = 'internal' THEN -m.quantity ELSE m.quantity END AS quantity,
       (5 + (m.product_id %% 40) + extract(month FROM m.date)::int)::numeric AS price
  FROM stock_move m
  JOIN stock_location ls ON ls.id = m.location_id
  JOIN stock_location ld ON ld.id = m.location_dest_id
  JOIN product_product p ON p.id = m.product_id
  JOIN product_template t ON t.id = p.product_tmpl_id
 WHERE m.reference LIKE 'GEN/%%' AND m.state = 'done'
   AND (ls.usage = 'internal') <> (ld.usage = 'internal');

-- FIFO: what is left of each incoming layer after the outgoing quantity of
-- its product, spent oldest first.
INSERT INTO stock_valuation_layer (company_id, product_id, categ_id, quantity, unit_cost, value,
                                   remaining_qty, remaining_value, stock_move_id, description,
                                   create_uid, create_date, write_uid, write_date)
SELECT v.company_id, v.product_id, v.categ_id, v.quantity, v.price, v.quantity * v.price,
       CASE WHEN v.quantity > 0
            THEN GREATEST(0, LEAST(v.quantity, v.received_until - o.spent)) ELSE 0 END,
       CASE WHEN v.quantity > 0
            THEN GREATEST(0, LEAST(v.quantity, v.received_until - o.spent)) * v.price
            ELSE 0 END,
       v.move_id, 'GEN', 1, v.date, 1, v.date
  FROM (SELECT *, SUM(GREATEST(quantity, 0)) OVER (PARTITION BY product_id ORDER BY date, move_id)
                      AS received_until
          FROM sscale_valued) v
  JOIN (SELECT product_id, -SUM(LEAST(quantity, 0)) AS spent FROM sscale_valued
         GROUP BY product_id) o ON o.product_id = v.product_id;
"""


def valuation_questions(env, day):
    """(name, vanilla callable, ours callable, what answered ours)."""
    since = (datetime.date.today() - datetime.timedelta(days=365)).replace(day=1)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
    Layer = env["stock.valuation.layer"]
    Report = env["stock.valuation.report"]
    AtDate = env["stock.valuation.date.report"].with_context(valuation_date=str(day))
    storable = [("product_id.is_storable", "=", True)]
    measures = ["quantity:sum", "value:sum"]
    remaining = ["remaining_qty:sum", "remaining_value:sum"]

    def planned(domain, groupby, aggregates):
        return Report._sscale_rollup(domain, groupby, aggregates, []) or "stock.valuation.report"

    year = [("date", ">=", since)]
    return [
        (
            "valuation by product category",
            lambda: Layer.read_group(storable, measures, ["categ_id"]),
            lambda: Report.read_group([], measures, ["categ_id"]),
            planned([], ["categ_id"], measures + ["__count"]),
        ),
        (
            "the Valuation pivot: category × month, 12 months, remaining qty and value",
            lambda: Layer.read_group(
                storable + [("create_date", ">=", since)],
                remaining,
                ["categ_id", "create_date:month"],
                lazy=False,
            ),
            lambda: Report.read_group(year, remaining, ["categ_id", "date:month"], lazy=False),
            planned(year, ["categ_id", "date:month"], remaining),
        ),
        (
            "valuation by product",
            lambda: Layer.read_group(storable, measures, ["product_id"]),
            lambda: Report.read_group([], measures, ["product_id"]),
            planned([], ["product_id"], measures + ["__count"]),
        ),
        (
            "same, the query alone (_read_group, no formatting of 2,000 products)",
            lambda: Layer._read_group(storable, ["product_id"], measures),
            lambda: Report._read_group([], ["product_id"], measures),
            planned([], ["product_id"], measures),
        ),
        (
            "valuation at a date 180 days back, by category",
            lambda: Layer.read_group(
                storable + [("create_date", "<", end)], measures, ["categ_id"]
            ),
            lambda: AtDate.read_group([], measures, ["categ_id"]),
            "stock.valuation.date.report (category rollup + daily view + journal)",
        ),
        (
            "valuation at a date 180 days back, by product",
            lambda: Layer.read_group(
                storable + [("create_date", "<", end)], measures, ["product_id"]
            ),
            lambda: AtDate.read_group([], measures, ["product_id"]),
            "stock.valuation.date.report (totals − months and days after + journal)",
        ),
        (
            "same, the query alone (_read_group, no formatting of 2,000 products)",
            lambda: Layer._read_group(
                storable + [("create_date", "<", end)], ["product_id"], measures
            ),
            lambda: AtDate._read_group([], ["product_id"], measures),
            "stock.valuation.date.report (totals − months and days after + journal)",
        ),
    ]


def _figures(groups, field):
    return {
        (g[field][0] if g[field] else False): (round(g["quantity"], 2), round(g["value"], 2))
        for g in groups
        if round(g["quantity"], 2) or round(g["value"], 2)
    }


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--layers", type=int, default=1_000_000, help="valuation layers")
    cli.question_runs(parser)
    args = cli.parse(parser, keep="keep the benchmark database")
    import odoo  # noqa: PLC0415

    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(log_level="info")
    db_name = f"sscale_bench_val_{int(time.time())}"
    try:
        generate_time = data.build_database(
            conf, db_name, round(args.layers / VALUED_SHARE), "stock_account,stock_scalable"
        )
        print("==> valuation layers (set-based SQL)", flush=True)
        started = time.perf_counter()
        conn = stack.connect(db_name)
        with conn, conn.cursor() as cr:
            cr.execute(LAYERS, {"categories": CATEGORIES})
        with conn.cursor() as cr:
            conn.autocommit = True
            cr.execute("ANALYZE stock_valuation_layer")
            cr.execute("SELECT COUNT(*) FROM stock_valuation_layer")
            layers = cr.fetchone()[0]
        conn.close()
        layers_time = time.perf_counter() - started
        print(f"    {layers:,} layers in {layers_time:.0f}s", flush=True)
        print("==> installing stock_scalable_reporting (+ the valuation bridge)", flush=True)
        install_time, progress = questions.install_reporting(
            conf,
            db_name,
            lambda line: "stock_scalable_reporting:" in line and "sscale_rpt_val_" in line,
        )
        db = CommittedDatabase(db_name)
        with db.env() as env:
            assert env["ir.module.module"].search(
                [("name", "=", "stock_scalable_reporting_account"), ("state", "=", "installed")]
            ), "the valuation bridge did not install itself"
            product_ids = (
                env["product.product"]
                .search([("default_code", "=like", "GEN-%")], limit=args.postings, order="id")
                .ids
            )
        print(f"==> {args.postings} receipts posted after the refresh (read-time delta)")
        for product_id in product_ids:
            db.call(lambda env, p=product_id: stock_flows.receive(env, [(p, 3)]))
        day = datetime.date.today() - datetime.timedelta(days=180)
        mismatches = {}

        def compare(name, vanilla, ours):
            env.invalidate_all()
            if "pivot" not in name and "alone" not in name:
                field = "categ_id" if "category" in name else "product_id"
                theirs, mine = _figures(vanilla(), field), _figures(ours(), field)
                mismatches[name] = sum(
                    theirs.get(k) != mine.get(k) for k in set(theirs) | set(mine)
                )

        with db.env() as env:
            results = questions.ask(env, valuation_questions(env, day), args.runs, compare)
        db.close()
        rows = questions.latency_table(results)
        rows += [
            "",
            "| figure | value |",
            "|---|---:|",
            f"| valuation layers | {layers:,} |",
            f"| data generation (moves and layers, set-based SQL), s | "
            f"{generate_time + layers_time:.0f} |",
            row(
                "install of stock_scalable_reporting and the bridge incl. the initial build, s",
                f"{install_time:.0f}",
            ),
            f"| postings after the refresh (in the read-time delta) | {args.postings} |",
        ] + [
            row(f"{name}: groups where ours ≠ vanilla", str(count))
            for name, count in mismatches.items()
        ]
        questions.publish(
            f"valuation_latency_{args.layers}",
            f"Valuation reports at {layers:,} valuation layers",
            f"python3 -m bench.valuation_latency --layers {args.layers}",
            args,
            rows,
            "Initial build of the valuation views (install log)",
            progress,
            results,
        )
    finally:
        if not args.keep:
            odoo.sql_db.close_db(db_name)
            stack.drop_database(db_name)


if __name__ == "__main__":
    sys.exit(main())
