# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Level snapshot of 100,000 keys (issue 27: under 30 s): taking it and
reading every page over HTTP, and publishing it to a queue with
``odoo stock_level_snapshot``.

A database with stock_event_bus (no demo data), 2 warehouses and 50,000
products (the ORM, bench/lib/data.py's SETUP), then in SQL one quant per
product in each warehouse's stock with some of it reserved, and a level
sequence for half the keys: 100,000 keys. A real ``odoo-bin`` serves
``GET /api/stock/levels`` with an API key; each run takes a new snapshot
(first page: the one INSERT ... SELECT plus a page) and reads every page,
then publishes one with the command (publisher confirms) to a queue of
its own, drained after.

    python3 -m bench.level_snapshot [--products 50000] [--runs 3] [--keep] [--write]
"""

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.lib import cli, data
from bench.lib.report import publish as publish_section
from bench.lib.report import pyplot, row, save
from tests.harness import amqp, odoo_conf, stack
from tests.harness.odoo_server import OdooServer

SEED_SQL = """
INSERT INTO stock_quant (product_id, location_id, company_id, quantity, reserved_quantity,
                         inventory_diff_quantity, inventory_quantity_set, in_date,
                         create_uid, create_date, write_uid, write_date)
SELECT p.id, s.id, s.company_id, 10 + p.id %% 90, p.id %% 7, 0, FALSE,
       now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC'
  FROM unnest(%(products)s::int[]) AS p(id)
 CROSS JOIN stock_location s
 WHERE s.id = ANY(%(stock)s::int[]);
INSERT INTO stock_level_sequence (product_id, warehouse_id, last_sequence)
SELECT p.id, s.warehouse_id, 1 + p.id %% 5
  FROM unnest(%(products)s::int[]) AS p(id)
 CROSS JOIN stock_location s
 WHERE s.id = ANY(%(stock)s::int[]) AND p.id %% 2 = 0
ON CONFLICT DO NOTHING;
ANALYZE stock_quant; ANALYZE stock_level_sequence; ANALYZE product_product;
"""

API_KEY = """
import datetime, json
user = env.ref("base.user_admin")
expires = datetime.datetime.now() + datetime.timedelta(days=1)
key = env["res.users.apikeys"].with_user(user)._generate("rpc", "bench", expires)
env.cr.commit()
print("KEY " + json.dumps(key))
"""


def build(conf, db_name, products):
    print(f"==> {db_name}: stock_event_bus, no demo data", flush=True)
    started = time.monotonic()
    data.install(conf, db_name, "stock_event_bus", without_demo=True)
    print(f"==> installed ({time.monotonic() - started:.0f}s); products", flush=True)
    setup = data.shell(
        conf, db_name, data.SETUP % {"warehouses": 2, "products": products}, "SETUP"
    )
    conn = stack.connect(db_name)
    with conn.cursor() as cr:
        cr.execute(SEED_SQL, {"products": setup["products"], "stock": setup["stock"]})
    conn.commit()
    conn.close()
    (keys,) = data.query(
        db_name,
        "SELECT COUNT(DISTINCT (q.product_id, l.warehouse_id)) FROM stock_quant q"
        " JOIN stock_location l ON l.id = q.location_id WHERE l.warehouse_id IS NOT NULL",
        one=True,
    )
    print(f"==> {keys:,} keys ({time.monotonic() - started:.0f}s)", flush=True)
    return keys


def read_all(server, key, limit):
    """Take a snapshot and read every page: (seconds of the first page,
    seconds of the rest, levels, total, pages)."""
    started = time.monotonic()
    status, page = server.levels(key, limit=limit)
    first = time.monotonic() - started
    assert status == 200, page
    count, pages, snapshot = len(page["levels"]), 1, page["snapshot"]
    while page["next"]:
        status, page = server.get(
            "/api/stock/levels",
            urllib.parse.urlencode({"snapshot": snapshot, "after": page["next"], "limit": limit}),
            key,
        )
        assert status == 200, page
        count += len(page["levels"])
        pages += 1
    return first, time.monotonic() - started - first, count, page["total"], pages


def publish(conf, db_name, queue):
    """Seconds of ``odoo stock_level_snapshot --queue`` and the messages
    the queue then holds."""
    started = time.monotonic()
    subprocess.run(
        stack.dispatch_command(conf, db_name, "--queue", queue, command="stock_level_snapshot"),
        env=stack.odoo_env(),
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    connection, channel = amqp.open_channel(stack.amqp_url())
    try:
        messages = channel.queue_declare(queue, passive=True).method.message_count
        channel.queue_delete(queue)
    finally:
        connection.close()
    return seconds, messages


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--products", type=int, default=50_000, help="products (x2 warehouses)")
    parser.add_argument(
        "--runs", type=int, default=3, help="snapshots read over HTTP, and published"
    )
    parser.add_argument("--limit", type=int, default=10_000, help="levels per page")
    args = cli.parse(parser, rabbitmq=True)
    conf = odoo_conf.bench_odoo_conf()
    db_name = f"bench_snapshot_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="sscale_snapshot_"))
    server = None
    try:
        keys = build(conf, db_name, args.products)
        key = data.shell(conf, db_name, API_KEY, "KEY")
        server = OdooServer({"conf": str(conf)}, db_name, workdir)
        runs = [read_all(server, key, args.limit) for _run in range(args.runs)]
        server.stop()
        server = None
        queue = f"bench.snapshot.{os.getpid()}"
        amqp_runs = []
        for _run in range(args.runs):
            connection, channel = amqp.open_channel(stack.amqp_url())
            channel.queue_declare(queue, durable=True)
            connection.close()
            seconds, messages = publish(conf, db_name, queue)
            amqp_runs.append(seconds)
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            stack.drop_database(db_name, Path(conf).parent / "data")
        shutil.rmtree(workdir, ignore_errors=True)
    body = report(args, keys, runs, amqp_runs, messages)
    publish_section("level_snapshot", body, args.write, lambda path: plot(runs, amqp_runs, path))


def report(args, keys, runs, amqp_runs, messages):
    lines = [
        "## Level snapshot: 100,000 keys over HTTP and AMQP (issue 27)",
        "",
        f"Command: `python3 -m bench.level_snapshot --products {args.products} --runs"
        f" {args.runs} --write`. {keys:,} keys (2 warehouses x {args.products:,} products),"
        f" pages of {args.limit:,}, {os.cpu_count()} CPUs shared with the server and"
        f" PostgreSQL (and other jobs: load average {' '.join(uptime())} at the end).",
        "",
        row("run", "take + first page (s)", "other pages (s)", "all (s)", "levels", "pages"),
        row("---", "---:", "---:", "---:", "---:", "---:"),
    ]
    for index, (first, rest, count, total, pages) in enumerate(runs, 1):
        assert count == total == keys, (count, total, keys)
        lines.append(
            row(index, f"{first:.2f}", f"{rest:.2f}", f"{first + rest:.2f}", f"{count:,}", pages)
        )
    median = statistics.median(first + rest for first, rest, *_ in runs)
    amqp_median = statistics.median(amqp_runs)
    lines += [
        "",
        f"HTTP, median of {len(runs)}: **{median:.2f} s** for {keys:,} keys"
        f" ({keys / median:,.0f} levels/s).",
        f"AMQP (odoo stock_level_snapshot, process start included), median of {len(amqp_runs)}:"
        f" **{amqp_median:.2f} s** ({', '.join(f'{s:.1f}' for s in amqp_runs)}),"
        f" {messages:,} messages ({keys:,} levels + 1 end).",
        "",
        f"Goal: a snapshot of 100,000 keys under 30 s → HTTP {median:.1f} s,"
        f" AMQP {amqp_median:.1f} s.",
        "",
        "![seconds per snapshot, HTTP and AMQP](img/level_snapshot.png)",
    ]
    return "\n".join(lines)


def uptime():
    return Path("/proc/loadavg").read_text().split()[:3]


def plot(runs, amqp_runs, path):
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(7, 4))
    labels = [f"HTTP {i}" for i in range(1, len(runs) + 1)]
    axis.bar(labels, [first for first, *_ in runs], label="take + first page")
    axis.bar(
        labels,
        [rest for _first, rest, *_ in runs],
        bottom=[first for first, *_ in runs],
        label="other pages",
    )
    axis.bar([f"AMQP {i}" for i in range(1, len(amqp_runs) + 1)], amqp_runs, label="AMQP")
    axis.axhline(30, color="red", linestyle="--", label="goal 30 s")
    axis.set_ylabel("seconds")
    axis.set_title("level snapshot of 100,000 keys")
    axis.legend()
    save(fig, path)


if __name__ == "__main__":
    main()
