# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The stock ledger check at a million move lines, and posting during it.

One database (stock + stock_scalable, no demo data) gets --lines generated
done move lines (bench/lib/data.py). Then:

- the ledger check (`stock.quant._sscale_ledger_drift`, what the Check Ledger
  action and the daily cron run) is timed, next to vanilla Odoo's way to get
  the same ledger: `read_group` on stock.move.line by key, in and out;
- 1-unit deliveries are posted while the check runs, and their latency is
  compared with the same deliveries posted with no check running.

    python3 -m bench.ledger_check --lines 1000000 --write
"""

import statistics
import sys
import threading
import time

from bench.lib import cli, data
from bench.lib.report import replace_section, row
from tests.harness import odoo_conf, stack, stock_flows


def vanilla_ledger(env):
    """The ledger as vanilla Odoo computes it: two read_group calls."""
    key = ["product_id", "location_dest_id", "lot_id", "result_package_id", "owner_id"]
    MoveLine = env["stock.move.line"]
    ins = MoveLine._read_group([("state", "=", "done")], key, ["quantity_product_uom:sum"])
    key[1], key[3] = "location_id", "package_id"
    outs = MoveLine._read_group([("state", "=", "done")], key, ["quantity_product_uom:sum"])
    return len(ins) + len(outs)


def timed(func, runs=3):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000, help="done move lines to generate")
    parser.add_argument(
        "--deliveries", type=int, default=20, help="deliveries posted while the check runs"
    )
    args = cli.parse(parser, keep=None)
    import odoo  # noqa: PLC0415

    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(log_level="warn")
    db_name = f"sscale_bench_ledger_{int(time.time())}"
    try:
        data.build_database(conf, db_name, args.lines)
        db = CommittedDatabase(db_name)
        with db.env() as env:
            products = env["product.product"].search(
                [("default_code", "=like", "GEN-%")], limit=args.deliveries
            )
            product_ids = products.ids
            for product in products:  # stock to deliver from WH/Stock
                stock_flows.set_inventory(env, product, 100)
            env.cr.execute("SELECT COUNT(*) FROM stock_move_line WHERE state = 'done'")
            lines = env.cr.fetchone()[0]
            ours = timed(lambda: env["stock.quant"]._sscale_ledger_drift())
            drift = len(env["stock.quant"]._sscale_ledger_drift())
            vanilla = timed(lambda: vanilla_ledger(env))

        def deliver(product_id):
            began = time.perf_counter()
            db.call(lambda env: stock_flows.deliver(env, [(product_id, 1)]))
            return (time.perf_counter() - began) * 1000

        idle = [deliver(p) for p in product_ids[0::2]]
        during, check_done, check_time = [], threading.Event(), []

        def check():
            began = time.perf_counter()
            with db.env(uid=2) as env:  # base.user_admin, an inventory administrator
                env["stock.ledger.drift"].action_check_ledger()
            check_time.append(time.perf_counter() - began)
            check_done.set()

        checker = threading.Thread(target=check)
        checker.start()
        time.sleep(0.2)
        for product_id in product_ids[1::2]:
            latency = deliver(product_id)
            if check_done.is_set():
                break
            during.append(latency)
        checker.join()
        db.close()
        rows = [
            ("done move lines", f"{lines:,}", ""),
            (
                "ledger of every key: best / median of 3 (s)",
                f"{vanilla[0]:.2f} / {vanilla[1]:.2f}",
                f"{ours[0]:.2f} / {ours[1]:.2f}",
            ),
            ("keys that drift", "", str(drift)),
            ("1-unit delivery, no check running: median ms", "", f"{statistics.median(idle):.0f}"),
            ("Check Ledger Now (query + findings), s", "", f"{check_time[0]:.2f}"),
            (
                f"1-unit delivery while the check runs ({len(during)} posted): median / max ms",
                "",
                f"{statistics.median(during):.0f} / {max(during):.0f}" if during else "n/a",
            ),
        ]
        table = ["| figure | vanilla Odoo (read_group) | stock_scalable |", "|---|---:|---:|"]
        table += [row(*cells) for cells in rows]
        print("\n".join(table))
        if args.write:
            replace_section(
                "ledger_check",
                "## The stock ledger check at scale\n\n"
                f"Command: `python3 -m bench.ledger_check --lines {args.lines} --write`. "
                "The check is one read-only query (MVCC, no row lock); deliveries posted "
                "while it runs are not blocked.\n\n" + "\n".join(table),
            )
    finally:
        odoo.sql_db.close_db(db_name)
        stack.drop_database(db_name)


if __name__ == "__main__":
    sys.exit(main())
