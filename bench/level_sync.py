# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A downstream projection of the stock levels (issue 27): the lag from a
posting's commit to the row of ``stock-events sync``'s SQLite table that
reflects it, at the load test's sustained rate (goal: p99 under 1 s), and
the catch-up of a sync that was offline for 10 minutes (goal: at least
2,000 events/s into SQLite).

Setup: a database with stock_scalable and stock_event_bus (no demo data),
the load test's products (bench/lib/data.py: a hot one and 200 others in
WH/Stock), an API key; a real ``odoo-bin`` (the snapshot), a real
``stock_event_dispatch`` and a real ``stock-events sync`` (its own process,
no Odoo in it: tests/harness/stock_events.py) on a SQLite file, on an
exchange of the benchmark's own.

1. Lag. Postings committed at ``--rate`` per second (the load test's
   sustained rate of worker postings, docs/benchmarks.md: 9.5/s), open loop
   (posting n is due at start + n / rate, whatever the earlier ones took),
   for ``--seconds``: the load test's mix (1-unit receipts and deliveries
   1:1, 10% on the hot product), pickings created beforehand and validated
   through the ORM by ``--threads`` threads, each in its own transaction.
   Tracing, exact and without polling: in PostgreSQL, triggers note each
   level marker's writer (the posting's transaction id) and claimer (the
   dispatcher's transaction), and each LEVEL event the dispatcher wrote (key,
   sequence, transaction); so each posting's commit maps to the sequence of
   the first level event that read its levels. ``--processes`` processes of
   ``--threads`` threads validate (one Python process holds the GIL: it
   validates about one core's worth). In SQLite, a trigger on the
   projection logs every row change (key, sequence, on_hand, reserved, time
   of the write). A posting's lag is the time the projection first held that
   key at that sequence or higher minus the moment its COMMIT returned.
2. Catch-up. The sync is stopped (SIGTERM); while it is away the
   dispatcher writes and publishes as many LEVEL events as 10 minutes at
   ``--rate`` give (``--offline-minutes``), made fast: rounds of one level
   marker per key written in SQL (what a posting's transaction appends), each
   round turned into one real LEVEL event per key by the running dispatcher
   (levels read from the quants, sequence bumped, outbox, publisher
   confirms), until the sync's queue holds them all. Then ``stock-events sync
   --no-bootstrap`` starts (and, in a second run of each round, plain
   ``sync``, which first applies a snapshot): events/s from the process's
   start until the projection holds every key's last sequence, and from its
   first applied event to its last (the SQLite log; with the bootstrap the
   snapshot already has every key's last level, the queued events then
   change no row, so only the first figure says something). ``--runs``
   rounds.

    python3 -m bench.level_sync [--rate 9.5] [--seconds 60] [--runs 3] [--write]
"""

import concurrent.futures
import multiprocessing
import os
import platform
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.lib import amqp_clients, cli, data
from bench.lib.report import publish, pyplot, quantiles, row, save
from tests.harness import processes, stack, stock_flows
from tests.harness.odoo_server import OdooServer
from tests.harness.stock_events import StockEventsClient

ADDONS = "stock_scalable,stock_event_bus"

API_KEY = """
import datetime, json
user = env.ref("base.user_admin")
expires = datetime.datetime.now() + datetime.timedelta(days=1)
key = env["res.users.apikeys"].with_user(user)._generate("rpc", "bench", expires)
env.cr.commit()
print("KEY " + json.dumps([key, env["stock.warehouse"].search([], limit=1, order="id").id]))
"""

# PostgreSQL side of the trace (the benchmark's database only).
PG_TRACE = """
CREATE TABLE bench_marker_trace (
    marker_id int, product_id int, warehouse_id int, op text, xid bigint);
CREATE TABLE bench_level_trace (product_id int, warehouse_id int, sequence int, xid bigint);
CREATE FUNCTION bench_marker_trace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bench_marker_trace
        VALUES (NEW.id, NEW.product_id, NEW.warehouse_id, 'I', txid_current());
    ELSE
        INSERT INTO bench_marker_trace
        VALUES (OLD.id, OLD.product_id, OLD.warehouse_id, 'D', txid_current());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bench_marker_trace AFTER INSERT OR DELETE ON stock_level_change
    FOR EACH ROW EXECUTE FUNCTION bench_marker_trace();
CREATE FUNCTION bench_level_trace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_level_trace
    VALUES (NEW.product_id, NEW.warehouse_id, NEW.sequence, txid_current());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_level_trace AFTER INSERT ON stock_event_outbox
    FOR EACH ROW WHEN (NEW.event_type = 'LEVEL') EXECUTE FUNCTION bench_level_trace();
"""

# Per traced posting (its transaction id): the sequence of the level event
# written in the transaction that claimed its marker.
PG_SEQUENCES = """
SELECT w.xid, e.product_id, e.warehouse_id, e.sequence
  FROM bench_marker_trace w
  JOIN bench_marker_trace c ON c.marker_id = w.marker_id AND c.op = 'D'
  JOIN bench_level_trace e ON e.xid = c.xid
   AND e.product_id = w.product_id AND e.warehouse_id = w.warehouse_id
 WHERE w.op = 'I' AND w.xid = ANY(%s)
"""

# SQLite side: every change of the projection, with the time of the write
# (Unix seconds, millisecond precision).
SQLITE_TRACE = """
CREATE TABLE IF NOT EXISTS bench_trace (
    product_id INTEGER, warehouse_id INTEGER, sequence INTEGER,
    on_hand REAL, reserved REAL, at REAL);
CREATE TRIGGER IF NOT EXISTS bench_trace_insert AFTER INSERT ON stock_levels BEGIN
    INSERT INTO bench_trace VALUES (NEW.product_id, NEW.warehouse_id, NEW.sequence,
        NEW.on_hand, NEW.reserved, (julianday('now') - 2440587.5) * 86400.0);
END;
CREATE TRIGGER IF NOT EXISTS bench_trace_update AFTER UPDATE ON stock_levels BEGIN
    INSERT INTO bench_trace VALUES (NEW.product_id, NEW.warehouse_id, NEW.sequence,
        NEW.on_hand, NEW.reserved, (julianday('now') - 2440587.5) * 86400.0);
END;
"""

# One level marker per key of the warehouse's seeded products: one round.
MARKER_ROUND = """
INSERT INTO stock_level_change (product_id, warehouse_id)
SELECT unnest(%s::int[]), %s
"""


def sqlite_execute(path, script=None, sql=None, params=()):
    conn = sqlite3.connect(path, timeout=60)
    try:
        if script:
            conn.executescript(script)
            return None
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def uptime():
    return Path("/proc/loadavg").read_text().split()[:3]


# ----------------------------------------------------------------------
# setup
# ----------------------------------------------------------------------


def build(conf, db_name, products, stock):
    print(f"==> {db_name}: {ADDONS}, no demo data, {products + 1} products", flush=True)
    started = time.monotonic()
    data.install(conf, db_name, ADDONS, without_demo=True)
    seeded, _stock = data.shell(
        conf, db_name, data.coded_products(products, stock, stock), "PRODUCTS", "STOCK"
    )
    key, warehouse_id = data.shell(conf, db_name, API_KEY, "KEY")
    conn = stack.connect(db_name)
    with conn.cursor() as cr:
        cr.execute(PG_TRACE)
    conn.commit()
    conn.close()
    print(f"==> built ({time.monotonic() - started:.0f}s)", flush=True)
    return [p[0] for p in seeded], key, warehouse_id


def plan(products, count, hot_share, seed):
    """The load test's mix: (kind, product) per posting, receipts and
    deliveries 1:1, ``hot_share`` of them on the hot product (the first)."""
    rng = random.Random(seed)
    return [
        (
            rng.choice(("receive", "deliver")),
            products[0] if rng.random() < hot_share else rng.choice(products[1:]),
        )
        for _ in range(count)
    ]


def create_pickings(db, requests):
    ids = []
    for start in range(0, len(requests), 200):
        with db.env() as env:
            warehouse = stock_flows.main_warehouse(env)
            types = {"deliver": warehouse.out_type_id, "receive": warehouse.in_type_id}
            ids += [
                stock_flows.create_picking(env, types[kind], [(product_id, 1)]).id
                for kind, product_id in requests[start : start + 200]
            ]
    return ids


# ----------------------------------------------------------------------
# 1. lag
# ----------------------------------------------------------------------


def paced_share(conf, db_name, picking_ids, folder, rate, share, shares, threads):
    """In a process of its own (Odoo's Python code holds the GIL: one
    process validates about one core's worth): validate the pickings
    ``share``, ``share + shares``, ... of ``picking_ids``, posting n due at
    ``start + n / rate``, with ``threads`` threads; once its registry is
    loaded it writes ``folder``/ready-<share> and waits for ``folder``/start
    (the start time). Returns ``[(transaction
    id, commit time, seconds late)]``."""
    import odoo  # noqa: PLC0415

    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", str(conf)])
    db = CommittedDatabase(db_name)
    folder = Path(folder)
    (folder / f"ready-{share}").touch()
    processes.wait_for(lambda: (folder / "start").exists(), 300, "the start")
    start = float((folder / "start").read_text())
    lock = threading.Lock()
    committed = []
    position = iter(range(share, len(picking_ids), shares))

    def worker():
        while True:
            with lock:
                n = next(position, None)
            if n is None:
                return
            due = start + n / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)

            def validate(env, p=picking_ids[n]):
                env.cr.execute("SELECT txid_current()")
                xid = env.cr.fetchone()[0]
                stock_flows.validate_all(env["stock.picking"].browse(p))
                return xid

            xid, _tries = db.call(validate)
            at = time.time()
            with lock:
                committed.append((xid, at, max(0.0, at - due)))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    db.close()
    return committed


def paced_postings(conf, db_name, picking_ids, rate, shares, threads):
    """Validate ``picking_ids`` open loop at ``rate`` per second, in
    ``shares`` processes of ``threads`` threads: ``[(transaction id, commit
    time, seconds late)]`` and the achieved rate (postings / (last commit -
    first due time))."""
    folder = Path(tempfile.mkdtemp(prefix="sscale_level_sync_start_"))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(shares, mp_context=context) as pool:
        futures = [
            pool.submit(
                paced_share, conf, db_name, picking_ids, folder, rate, share, shares, threads
            )
            for share in range(shares)
        ]
        processes.wait_for(
            lambda: len(list(folder.glob("ready-*"))) == shares, 300, "the posting processes"
        )
        start = time.time() + 0.5
        (folder / "start.tmp").write_text(repr(start))
        (folder / "start.tmp").rename(folder / "start")
        committed = [c for future in futures for c in future.result()]
    shutil.rmtree(folder, ignore_errors=True)
    achieved = len(committed) / (max(at for _x, at, _l in committed) - start)
    return committed, achieved


def caught_up(db_name, client_db, keys):
    """Whether the projection holds every key at Odoo's last level sequence
    and nothing is left to dispatch."""
    (pending,) = data.query(
        db_name,
        "SELECT (SELECT COUNT(*) FROM stock_level_change)"
        " + (SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'pending')",
        one=True,
    )
    if pending:
        return False
    odoo = dict(
        ((p, w), s)
        for p, w, s in data.query(
            db_name, "SELECT product_id, warehouse_id, last_sequence FROM stock_level_sequence"
        )
    )
    mine = dict(
        ((p, w), s)
        for p, w, s in sqlite_execute(
            client_db, sql="SELECT product_id, warehouse_id, sequence FROM stock_levels"
        )
    )
    return all(mine.get(k, -1) >= odoo.get(k, 0) for k in keys)


def lag_run(conf, db, db_name, client, keys, requests, rate, shares, threads):
    picking_ids = create_pickings(db, requests)
    print(f"==> {len(picking_ids)} postings at {rate:g}/s", flush=True)
    load = os.getloadavg()
    committed, achieved = paced_postings(conf, db_name, picking_ids, rate, shares, threads)
    processes.wait_for(
        lambda: caught_up(db_name, client.db_path, keys), 120, "the projection to catch up"
    )
    sequences = {}
    for xid, product_id, warehouse_id, sequence in data.query(
        db_name, PG_SEQUENCES, [[c[0] for c in committed]]
    ):
        sequences[xid] = (product_id, warehouse_id, sequence)
    trace = {}
    for product_id, warehouse_id, sequence, at in sqlite_execute(
        client.db_path,
        sql="SELECT product_id, warehouse_id, sequence, at FROM bench_trace ORDER BY at",
    ):
        trace.setdefault((product_id, warehouse_id), []).append((sequence, at))
    lags, unmatched = [], 0
    for xid, at, _late in committed:
        if xid not in sequences:
            unmatched += 1
            continue
        product_id, warehouse_id, sequence = sequences[xid]
        seen = next(
            (t for s, t in trace.get((product_id, warehouse_id), ()) if s >= sequence), None
        )
        if seen is None:
            unmatched += 1
            continue
        lags.append((seen - at) * 1000)
    late = [c[2] * 1000 for c in committed]  # behind schedule: the machine was short
    return dict(
        quantiles(lags),
        max=max(lags),
        min=min(lags),
        count=len(lags),
        postings=len(committed),
        unmatched=unmatched,
        rate=achieved,
        late_p99=quantiles(late)["p99"],
        load=load,
        lags=lags,
    )


# ----------------------------------------------------------------------
# 2. catch-up
# ----------------------------------------------------------------------


def queue_depth(channel, queue):
    return channel.queue_declare(queue, passive=True).method.message_count


def backlog(db_name, channel, queue, product_ids, warehouse_id, events):
    """Have the running dispatcher publish ``events`` LEVEL events (rounds of
    one marker per key) while the sync's queue has no consumer; waits until
    the queue holds them all. Returns the seconds it took."""
    started = time.monotonic()
    before = queue_depth(channel, queue)
    rounds = -(-events // len(product_ids))
    made = 0
    for n in range(rounds):
        take = product_ids[: min(len(product_ids), events - made)]
        conn = stack.connect(db_name)
        with conn.cursor() as cr:
            cr.execute(MARKER_ROUND, [take, warehouse_id])
            cr.execute("NOTIFY stock_event_outbox")
        conn.commit()
        conn.close()
        made += len(take)
        # One round claimed at a time: every marker of a round is one event.
        processes.wait_for(
            lambda: not data.query(db_name, "SELECT 1 FROM stock_level_change LIMIT 1"),
            60,
            f"the dispatcher to claim round {n + 1}",
            interval=0.02,
        )
    processes.wait_for(
        lambda: queue_depth(channel, queue) >= before + made,
        120,
        f"{made} level events in {queue}",
        interval=0.2,
    )
    return time.monotonic() - started, made


def catch_up(db_name, client, channel, product_ids, warehouse_id, events, bootstrap):
    keys = [(p, warehouse_id) for p in product_ids]
    sqlite_execute(client.db_path, script="DELETE FROM bench_trace;")
    seconds, made = backlog(db_name, channel, client.queue, product_ids, warehouse_id, events)
    depth = queue_depth(channel, client.queue)
    print(
        f"==> {made:,} level events made in {seconds:.1f} s, {depth:,} in the queue;"
        f" sync{'' if bootstrap else ' --no-bootstrap'}",
        flush=True,
    )
    load = os.getloadavg()
    started = time.time()
    process = client.start(*(() if bootstrap else ("--no-bootstrap",)))
    processes.wait_for(
        lambda: queue_depth(channel, client.queue) == 0
        and caught_up(db_name, client.db_path, keys),
        300,
        "the sync to catch up",
        interval=0.05,
    )
    wall = time.time() - started
    (first, last, rows) = sqlite_execute(
        client.db_path, sql="SELECT MIN(at), MAX(at), COUNT(*) FROM bench_trace"
    )[0]
    processes.stop(process, 20)
    return {
        "events": depth,
        "made_seconds": seconds,
        "wall": wall,
        "rate_wall": depth / wall,
        "applying": last - first,
        "rate_applying": depth / max(last - first, 1e-6),
        "rows": rows,
        "first_after": first - started,
        "bootstrap": bootstrap,
        "load": load,
    }


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def report(args, lag_runs, catch_runs, conditions):
    lines = [
        "### Commit to projection lag",
        "",
        row(
            "run",
            "postings",
            "rate achieved /s",
            "traced",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "commits behind schedule, p99 ms",
            "load avg (1 min) at start",
        ),
        row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for i, r in enumerate(lag_runs, 1):
        lines.append(
            row(
                i,
                r["postings"],
                f"{r['rate']:.2f}",
                f"{r['count']} ({r['unmatched']} not)",
                f"{r['p50']:.0f}",
                f"{r['p95']:.0f}",
                f"{r['p99']:.0f}",
                f"{r['max']:.0f}",
                f"{r['late_p99']:.0f}",
                f"{r['load'][0]:.2f}",
            )
        )
    med = {k: statistics.median(r[k] for r in lag_runs) for k in ("p50", "p95", "p99", "max")}
    lines.append(
        row(
            "**median**",
            "",
            f"{statistics.median(r['rate'] for r in lag_runs):.2f}",
            "",
            f"**{med['p50']:.0f}**",
            f"**{med['p95']:.0f}**",
            f"**{med['p99']:.0f}**",
            f"{med['max']:.0f}",
            "",
            "",
        )
    )
    lines += [
        "",
        f"### Catch-up after {args.offline_minutes:g} minutes offline",
        "",
        row(
            "run",
            "sync",
            "level events waiting",
            "made in s",
            "start → caught up s",
            "events/s (wall, process start included)",
            "first → last applied s",
            "events/s (applying)",
            "load avg (1 min) at start",
        ),
        row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for i, r in enumerate(catch_runs, 1):
        lines.append(
            row(
                (i + 1) // 2,
                "sync" if r["bootstrap"] else "sync --no-bootstrap",
                f"{r['events']:,}",
                f"{r['made_seconds']:.1f}",
                f"{r['wall']:.2f}",
                f"{r['rate_wall']:,.0f}",
                "–" if r["bootstrap"] else f"{r['applying']:.2f}",
                "–" if r["bootstrap"] else f"{r['rate_applying']:,.0f}",
                f"{r['load'][0]:.2f}",
            )
        )
    summary = {}
    for bootstrap in (False, True):
        runs = [r for r in catch_runs if r["bootstrap"] == bootstrap]
        summary[bootstrap] = (
            statistics.median(r["rate_wall"] for r in runs),
            statistics.median(r["rate_applying"] for r in runs),
        )
        lines.append(
            row(
                "**median**",
                "sync" if bootstrap else "sync --no-bootstrap",
                "",
                "",
                "",
                f"**{summary[bootstrap][0]:,.0f}**",
                "",
                "" if bootstrap else f"**{summary[bootstrap][1]:,.0f}**",
                "",
            )
        )
    lines += [
        "",
        f"Goals: lag p99 < 1 s at {args.rate:g} postings/s → {med['p99']:.0f} ms (median of"
        f" {len(lag_runs)} runs); catch-up ≥ 2,000 events/s → {summary[False][0]:,.0f}/s with"
        f" --no-bootstrap ({summary[False][1]:,.0f}/s while applying),"
        f" {summary[True][0]:,.0f}/s with the bootstrap (process start included).",
    ]
    return (
        "## Level events: commit-to-projection lag and catch-up into SQLite (issue 27)\n\n"
        f"Command: `python3 -m bench.level_sync --rate {args.rate:g} --seconds {args.seconds:g}"
        f" --runs {args.runs} --write`. {conditions}\n\n"
        + "\n".join(lines)
        + "\n\n![lag distribution and catch-up rate](img/level_sync.png)"
    )


def plot(lag_runs, catch_runs, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, r in enumerate(lag_runs, 1):
        values = sorted(r["lags"])
        axes[0].plot(values, [100 * (n + 1) / len(values) for n in range(len(values))], label=i)
    axes[0].axvline(1000, color="red", linestyle="--", label="p99 goal 1 s")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("commit → projection (ms)")
    axes[0].set_ylabel("% of postings")
    axes[0].set_title("lag, cumulative, per run")
    axes[0].legend()
    labels = [
        f"{(i + 1) // 2}{' boot' if r['bootstrap'] else ''}" for i, r in enumerate(catch_runs, 1)
    ]
    axes[1].bar(labels, [r["rate_wall"] for r in catch_runs], label="wall")
    axes[1].plot(labels, [r["rate_applying"] for r in catch_runs], "ko", label="applying")
    axes[1].axhline(2000, color="red", linestyle="--", label="goal 2,000/s")
    axes[1].set_title("catch-up, level events/s into SQLite")
    axes[1].legend()
    save(fig, path)


def main():
    parser = cli.parser(__doc__)
    parser.add_argument(
        "--rate", type=float, default=9.5, help="postings/s (the load test's sustained rate)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="seconds of postings per run")
    parser.add_argument("--runs", type=int, default=3, help="lag runs and catch-up rounds")
    parser.add_argument("--processes", type=int, default=2, help="posting processes")
    parser.add_argument("--threads", type=int, default=3, help="posting threads per process")
    parser.add_argument("--products", type=int, default=200, help="products besides the hot one")
    parser.add_argument("--hot-share", type=float, default=0.1, help="postings on the hot product")
    parser.add_argument("--offline-minutes", type=float, default=10, help="of level events")
    parser.add_argument("--offline-events", type=int, help="instead of rate x minutes")
    args = cli.parse(parser, rabbitmq=True)
    from tests.harness import odoo_conf  # noqa: PLC0415
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    db_name = f"bench_level_sync_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="sscale_level_sync_"))
    exchange = f"sscale.bench.{uuid.uuid4().hex[:8]}"
    server = dispatcher = client = db = None
    connection, channel, movement_queue = amqp_clients.declare_event_queue(exchange)
    loads = [uptime()]
    try:
        product_ids, key, warehouse_id = build(conf, db_name, args.products, 1_000_000)
        keys = [(p, warehouse_id) for p in product_ids]
        db = CommittedDatabase(db_name)
        dispatcher = processes.start(
            stack.dispatch_command(
                amqp_clients.event_conf(conf, exchange), db_name, "--log-level=warn"
            ),
            workdir / "dispatcher.log",
            env=stack.odoo_env(),
        )
        server = OdooServer({"conf": str(conf)}, db_name, workdir)
        client = StockEventsClient(workdir, odoo_url=server.url, api_key=key, exchange=exchange)
        client.start()
        if not processes.wait_for_text(client.processes[-1].log_path, "bootstrap done", 120):
            raise RuntimeError(client.log())
        sqlite_execute(client.db_path, script=SQLITE_TRACE)
        count = int(args.rate * args.seconds)
        lag_runs = []
        for run in range(args.runs):
            requests = plan(product_ids, count, args.hot_share, seed=run + 1)
            result = lag_run(
                conf, db, db_name, client, keys, requests, args.rate, args.processes, args.threads
            )
            print(
                f"==> lag run {run + 1}: p50 {result['p50']:.0f} p95 {result['p95']:.0f}"
                f" p99 {result['p99']:.0f} max {result['max']:.0f} ms,"
                f" {result['rate']:.2f}/s, {result['count']} traced",
                flush=True,
            )
            lag_runs.append(result)
            channel.queue_purge(movement_queue)
        loads.append(uptime())
        processes.stop(client.processes[-1], 20)
        events = args.offline_events or int(args.rate * 60 * args.offline_minutes)
        catch_runs = []
        for _run in range(args.runs):
            for bootstrap in (False, True):
                result = catch_up(
                    db_name, client, channel, product_ids, warehouse_id, events, bootstrap
                )
                print(
                    f"==> catch-up ({'sync' if bootstrap else 'sync --no-bootstrap'}):"
                    f" {result['events']:,} events, {result['rate_wall']:,.0f}/s wall,"
                    f" {result['rate_applying']:,.0f}/s applying",
                    flush=True,
                )
                catch_runs.append(result)
        loads.append(uptime())
        conditions = (
            f"{args.products} products and a hot one ({args.hot_share:.0%} of the postings),"
            f" 1-unit receipts and deliveries 1:1 validated through the ORM by {args.processes}"
            f" processes of {args.threads} threads, open loop; a real odoo-bin (snapshot),"
            f" stock_event_dispatch and"
            f" `stock-events sync` (fastjsonschema"
            f" {'installed' if _has_fastjsonschema() else 'not installed'}) on SQLite;"
            f" {args.runs} runs each. {os.cpu_count()} CPUs shared by everything (and other"
            f" jobs: load average {' → '.join('/'.join(x) for x in loads)} at the start, after"
            f" the lag runs and at the end), Python {platform.python_version()}."
        )
        body = report(args, lag_runs, catch_runs, conditions)
        publish("level_sync", body, args.write, lambda path: plot(lag_runs, catch_runs, path))
    finally:
        if client is not None:
            client.close(channel)
        if dispatcher is not None:
            processes.stop(dispatcher, 30)
        if server is not None:
            server.stop()
        if db is not None:
            db.close()
        channel.queue_delete(movement_queue)
        channel.exchange_delete(exchange)
        connection.close()
        if not args.keep:
            stack.drop_database(db_name, Path(conf).parent / "data")
        shutil.rmtree(workdir, ignore_errors=True)


def _has_fastjsonschema():
    try:
        import fastjsonschema  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
