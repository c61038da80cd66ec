#!/usr/bin/env python3
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Load N realistic done move lines into an Odoo database with stock, with
quants consistent with them, in set-based SQL (minutes for millions).

    python3 -m bench.generate_stock_data --conf odoo.conf --database DB --lines 1000000

Products (GEN-00001...) and warehouses (GEN1...) are created through the ORM;
moves and move lines are inserted with INSERT ... SELECT over
generate_series: receipts, sales, inter-warehouse transfers, inventory
adjustments (both ways) and scrap, spread over --days. Then the quants of the
generated products are rebuilt from that ledger, one per key.
"""

import sys

from bench.lib import data
from tests.harness import stack


def main():
    parser = stack.argument_parser(__doc__)
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

    data.generate(
        args.conf,
        args.database,
        args.lines,
        args.products,
        args.warehouses,
        args.days,
        args.batch,
        args.seed,
    )


if __name__ == "__main__":
    sys.exit(main())
