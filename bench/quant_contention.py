# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Concurrent 1-line deliveries and receipts: vanilla Odoo vs stock_scalable.

One run builds two databases the same way (stock without demo data, the same
seeded products; the second one gets stock_scalable), then runs the same
workload on each: the planned 1-line pickings are created and confirmed
first, then W worker threads validate them (reserve, take the quantity,
Validate), one request each through the ORM in its own transaction, retried
on serialization failures like Odoo's RPC layer (up to 5 tries). Two
scenarios: one hot SKU (more demand than stock) and 1,000 SKUs. It prints a
table, and with --write updates docs/benchmarks.md and
docs/img/quant_contention.png.

    pip install -r requirements-bench.txt
    python3 -m bench.quant_contention --write
"""

import os
import platform
import statistics
import sys
import threading
import time

from bench.lib import cli, data, postings
from bench.lib.report import IMG, pyplot, replace_section, save
from tests.harness import odoo_conf, stack, stock_flows

METRICS = [
    ("committed moves/s", "throughput", "{:.1f}"),
    ("p50 latency ms", "p50", "{:.0f}"),
    ("p95 latency ms", "p95", "{:.0f}"),
    ("p99 latency ms", "p99", "{:.0f}"),
    ("retries per commit", "retries_per_commit", "{:.2f}"),
    ("committed", "committed", "{:d}"),
    ("refused by the guard", "refused", "{:d}"),
    ("failed after retries", "failed", "{:d}"),
    ("oversold units (on-hand below 0)", "oversold", "{:.0f}"),
    ("negative quant rows", "negative_rows", "{:d}"),
    ("max quant rows per key", "max_rows_per_key", "{:d}"),
]


def run_workload(db, plans):
    """Each worker validates its pickings, one request each, at once."""
    from odoo.exceptions import UserError  # noqa: PLC0415

    picking_plans = postings.create_pickings(db, plans)
    results, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans))

    def validate(env, picking_id):
        return stock_flows.validate_all(env["stock.picking"].browse(picking_id))

    def worker(picking_ids):
        barrier.wait()
        for picking_id in picking_ids:
            started = time.perf_counter()
            status, tries, error = "ok", 1, None
            try:
                _result, tries = db.call(lambda env, p=picking_id: validate(env, p))
            except UserError:
                status = "refused"
            except Exception as exc:  # noqa: BLE001 - counted as a failed request
                status, error = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            with lock:
                results.append((status, time.perf_counter() - started, tries))
                if error:
                    errors.append(error)

    elapsed = postings.run_threads(worker, picking_plans)
    committed = [r for r in results if r[0] == "ok"]
    latencies = sorted(r[1] * 1000 for r in committed) or [0.0]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "elapsed": elapsed,
        "committed": len(committed),
        "refused": sum(r[0] == "refused" for r in results),
        "failed": sum(r[0] == "failed" for r in results),
        "throughput": len(committed) / elapsed,
        "p50": quantiles[49],
        "p95": quantiles[94],
        "p99": quantiles[98],
        "retries_per_commit": sum(r[2] - 1 for r in committed) / max(len(committed), 1),
        "errors": sorted(set(errors)),
    }


def quant_shape(dbname, product_ids):
    """Oversold units (internal on-hand below zero, per key), negative quant
    rows, and the most quant rows any key has."""
    oversold, negative_rows, max_rows = data.query(
        dbname,
        """
        SELECT COALESCE(SUM(GREATEST(-qty, 0)), 0), COALESCE(SUM(negative_rows), 0),
               COALESCE(MAX(n), 0)
          FROM (SELECT SUM(q.quantity) AS qty, COUNT(*) AS n,
                       COUNT(*) FILTER (WHERE q.quantity < 0) AS negative_rows
                  FROM stock_quant q JOIN stock_location l ON l.id = q.location_id
                 WHERE l.usage = 'internal' AND q.product_id = ANY(%s)
                 GROUP BY q.product_id, q.location_id, q.lot_id, q.package_id,
                          q.owner_id) k
        """,
        [product_ids],
        one=True,
    )
    return {
        "oversold": float(oversold),
        "negative_rows": int(negative_rows),
        "max_rows_per_key": int(max_rows),
    }


def table(results):
    lines = [
        "| scenario | metric | vanilla Odoo | stock_scalable | ours / vanilla |",
        "|---|---|---:|---:|---:|",
    ]
    for scenario, pair in results.items():
        for label, key, fmt in METRICS:
            van, our = pair["vanilla"][key], pair["ours"][key]
            ratio = f"{our / van:.2f}" if isinstance(van, float) and van else ""
            lines.append(
                f"| {scenario} | {label} | {fmt.format(van)} | {fmt.format(our)} " f"| {ratio} |"
            )
    return "\n".join(lines)


def plot(results, path):
    plt = pyplot()
    scenarios = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (key, title) in zip(
        axes,
        [
            ("throughput", "committed moves/s"),
            ("p95", "p95 latency (ms)"),
            ("oversold", "oversold units"),
        ],
        strict=False,
    ):
        xs = range(len(scenarios))
        ax.bar(
            [x - 0.2 for x in xs],
            [results[s]["vanilla"][key] for s in scenarios],
            0.4,
            label="vanilla Odoo",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [results[s]["ours"][key] for s in scenarios],
            0.4,
            label="stock_scalable",
        )
        ax.set_xticks(list(xs), scenarios)
        ax.set_title(title)
    axes[0].legend()
    save(fig, path)


def write_docs(results, conditions):
    replace_section(
        "quant_contention",
        "## Concurrent postings: vanilla Odoo vs stock_scalable\n\n"
        f"Command: `python3 -m bench.quant_contention --write`. {conditions}\n\n"
        f"{table(results)}\n\n"
        "![throughput, p95 latency and oversold units](img/quant_contention.png)",
    )


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--workers", type=int, default=8, help="concurrent requests (threads)")
    parser.add_argument("--per-worker", type=int, default=40, help="requests per worker")
    parser.add_argument(
        "--hot-stock", type=int, default=60, help="on-hand of the hot SKU at the start"
    )
    parser.add_argument("--only", choices=["hot", "skus"], help="run one scenario")
    args = cli.parse(parser)
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    prefix = f"sscale_bench_{int(time.time())}"
    try:
        vanilla, ours, product_ids = data.build_sku_databases(conf, prefix, args.hot_stock)
        hot, skus = [product_ids[0]], product_ids[1:]
        scenarios = {
            "1 hot SKU": postings.plan(args.workers, args.per_worker, hot, 2 / 3, seed=1),
            "1,000 SKUs": postings.plan(args.workers, args.per_worker, skus, 1 / 2, seed=2),
        }
        if args.only:
            scenarios = {
                k: v for k, v in scenarios.items() if (k == "1 hot SKU") == (args.only == "hot")
            }
        results = {name: {} for name in scenarios}
        for label, dbname in (("vanilla", vanilla), ("ours", ours)):
            db = CommittedDatabase(dbname)
            try:
                for name, plans in scenarios.items():
                    print(
                        f"==> {name} on {label} ({args.workers} workers x "
                        f"{args.per_worker} requests)",
                        flush=True,
                    )
                    figures = run_workload(db, plans)
                    figures.update(quant_shape(dbname, hot if name == "1 hot SKU" else skus))
                    results[name][label] = figures
                    print(
                        "    "
                        + ", ".join(
                            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in figures.items()
                        )
                    )
            finally:
                db.close()
        conditions = (
            f"{args.workers} worker threads, {args.per_worker} requests each, each request "
            f"validating a 1-unit delivery or receipt created beforehand, through the ORM "
            f"(2/3 deliveries on the hot SKU, which "
            f"starts with {args.hot_stock} units; 1/2 on 1,000 SKUs of 1,000 units); "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"PostgreSQL at {stack.pg_params()['host']}."
        )
        print()
        print(table(results))
        if args.write:
            plot(results, IMG / "quant_contention.png")
            write_docs(results, conditions)
            print("==> wrote docs/benchmarks.md and docs/img/quant_contention.png")
    finally:
        if not args.keep:
            stack.drop_databases_with_prefix(prefix)


if __name__ == "__main__":
    sys.exit(main())
