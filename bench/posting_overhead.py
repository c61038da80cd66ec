# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the reports' journals cost each posting, with inventory valuation:
the same 1-line validations on three databases built the same way, rounds
alternating between them.

1. vanilla Odoo: stock_account without demo data, the product category in
   FIFO (each delivery spends an older layer: Odoo updates its remaining
   quantity and value), 1,001 storable products at 10.00 with 1,000 units
   each from an inventory adjustment;
2. the same with stock_scalable;
3. the same with stock_scalable_reporting, which installs
   stock_scalable_reporting_account beside stock_account: a trigger on
   ``stock_move_line`` journals each done line, one on
   ``stock_valuation_layer`` each new or changed layer (two rows for a
   change, the old figures and the new ones).

Half the validations are receipts, half deliveries, 1,000 SKUs, W worker
threads, each validation its own request and transaction through the ORM.
No report refresh runs meanwhile. The table gives the latency on each
database and the journals' rows per validation.

    python3 -m bench.posting_overhead --write
"""

import os
import platform
import sys
import time

from bench.lib import cli, data, postings
from bench.lib.report import publish, pyplot, save
from tests.harness import odoo_conf, stack

FIFO = """
for categ in env["product.category"].search([]):
    categ.property_cost_method = "fifo"
"""

REPORTING = "+ stock_scalable_reporting"
JOURNALS = {
    "move lines journaled": "sscale_rpt_journal",
    "valuation layer changes journaled": "sscale_rpt_val_journal",
}


def build(conf, prefix):
    vanilla, ours, product_ids = data.build_sku_databases(
        conf,
        prefix,
        hot_stock=1000,
        modules="stock_account",
        before=FIFO,
        values='"standard_price": 10.0',
    )
    reporting = f"{prefix}_reporting"
    print(f"==> copying {ours} to {reporting} and installing stock_scalable_reporting", flush=True)
    data.copy_and_install(conf, ours, reporting, "stock_scalable_reporting")
    (installed,) = data.query(
        reporting,
        "SELECT state FROM ir_module_module WHERE name = 'stock_scalable_reporting_account'",
        one=True,
    )
    if installed != "installed":
        raise SystemExit(f"stock_scalable_reporting_account is {installed!r}, not installed")
    return {"vanilla Odoo": vanilla, "stock_scalable": ours, REPORTING: reporting}, product_ids[1:]


def journal_rows(dbname):
    return {
        label: data.query(dbname, f"SELECT count(*) FROM {table}", one=True)[0]  # noqa: S608
        for label, table in JOURNALS.items()
    }


def report(posting, per_posting, conditions):
    lines = postings.posting_table(posting, "journals' overhead")
    lines += [""] + [
        f"- {label} per validation: {rows:.2f}" for label, rows in per_posting.items()
    ]
    base, last = posting["stock_scalable"], posting[REPORTING]
    overhead = (last["round_median"] / base["round_median"] - 1) * 100
    return (
        "## Posting with the reports' journals (stock_account, FIFO)\n\n"
        f"Command: `python3 -m bench.posting_overhead --write`. {conditions}\n\n"
        + "\n".join(lines)
        + f"\n\nThe journals' overhead on the median of the rounds' means: {overhead:+.1f}%."
        + "\n\n![posting latency with the reports' journals](img/posting_overhead.png)"
    )


def plot(posting, path):
    fig, ax = pyplot().subplots(figsize=(6, 4))
    postings.posting_bars(ax, posting)
    save(fig, path)


def main():
    parser = cli.parser(__doc__)
    cli.posting_rounds(parser)
    args = cli.parse(parser)

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    prefix = f"sscale_bench_post_{int(time.time())}"
    try:
        dbs, skus = build(conf, prefix)
        before = journal_rows(dbs[REPORTING])
        posting = postings.posting_latency(dbs, skus, args.workers, args.per_worker, args.rounds)
        validations = args.workers * args.per_worker * args.rounds
        after = journal_rows(dbs[REPORTING])
        per_posting = {label: (after[label] - before[label]) / validations for label in after}
        conditions = (
            f"{args.workers} worker threads × {args.per_worker} validations × {args.rounds} "
            f"alternating rounds per database, half receipts and half deliveries of 1 unit "
            f"on 1,000 SKUs; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"PostgreSQL on this machine."
        )
        body = report(posting, per_posting, conditions)
        publish("posting_overhead", body, args.write, lambda path: plot(posting, path))
    finally:
        if not args.keep:
            stack.drop_databases_with_prefix(prefix)


if __name__ == "__main__":
    sys.exit(main())
