# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What level events cost (issue #27): the same postings and reservations
with ``level_events`` off and on, side by side in one run, rounds
alternating between the two.

Databases: stock without demo data and 1,001 seeded products (vanilla
Odoo), and a copy with stock_scalable and stock_event_bus where both sides
run, one after the other: "levels off" and "levels on" differ only by the
setting, not by their data, caches or vacuum state. The setting is the ``level_events`` option
of the ``[stock_event_bus]`` section of odoo.conf: this process's
configuration is set to the side's value before each of its runs (the
postings read it once per transaction); the dispatchers get a copy of
odoo.conf with it.

1. Transaction cost, each figure one request through the ORM in its own
   transaction, alternating off/on every round: a 1-line validation (half
   receipts, half deliveries, 1,000 SKUs, one thread), a 200-line
   validation (a receipt and a delivery of 200 SKUs), ``action_assign`` of
   200 one-line deliveries at once (created and unreserved beforehand).
   On, each transaction also inserts one marker per key at precommit. The
   SQL statements of each transaction are counted too (Odoo's cursor
   counter): unlike the time, that figure has no noise.
2. Dispatcher cost: the same backlog of 1-line postings' events (with
   levels on, and a marker each) drained by ``stock_event_dispatch --once``:
   movement events per second, and every event (LEVEL included) per second.
3. Contention: threads reserving and unreserving deliveries of the same
   hot products (``action_assign`` then ``do_unreserve``, each its own
   request, retried like Odoo's RPC layer), on vanilla Odoo, levels off and
   levels on (with a dispatcher running beside the last two): requests
   that failed, retries by cause, deadlocks, lock waits.

    python3 -m bench.level_events_cost --write
"""

import os
import platform
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from bench.lib import amqp_clients, cli, data, logs, postings
from bench.lib import monitor as monitor_lib
from bench.lib.monitor import CpuMonitor
from bench.lib.report import publish, pyplot, quantiles, row, save
from tests.harness import odoo_conf, processes, stack, stock_flows

VANILLA, OFF, ON = "vanilla Odoo", "levels off", "levels on"
WORKLOADS = {
    "one_line": "1-line validation",
    "many_lines": "200-line validation",
    "assign": "action_assign of 200 1-line deliveries",
}
SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock not available"}


# ----------------------------------------------------------------------
# the setting, the databases
# ----------------------------------------------------------------------


def set_level_events(label):
    """This process's ``[stock_event_bus] level_events`` for ``label``'s
    side, as odoo.conf would give it (read by lib/config.py once per
    transaction)."""
    import odoo  # noqa: PLC0415

    section = odoo.tools.config.misc.setdefault(odoo_conf.SECTION, {})
    section["level_events"] = "true" if label == ON else "false"


def build(conf, prefix):
    """Vanilla Odoo, and one database with the event bus for both sides:
    label → database name."""
    vanilla, ours, product_ids = data.build_sku_databases(conf, prefix, hot_stock=1000)
    bus = f"{prefix}_bus"
    print(f"==> copying {ours} to {bus} and installing stock_event_bus", flush=True)
    data.copy_and_install(conf, ours, bus, "stock_event_bus")
    return {VANILLA: vanilla, OFF: bus, ON: bus}, product_ids[1:]


# ----------------------------------------------------------------------
# 1. transaction cost
# ----------------------------------------------------------------------


def one_line(db, skus, count, round_no):
    """``count`` 1-line validations (created first), one thread."""
    plans = postings.plan(1, count, skus, 1 / 2, seed=100 + round_no)
    (picking_ids,) = postings.create_pickings(db, plans)
    return [
        postings.timed_call(
            db, lambda env, p=picking_id: stock_flows.validate_all(env["stock.picking"].browse(p))
        )
        for picking_id in picking_ids
    ]


def many_lines(db, skus, lines, round_no):
    """A receipt, then a delivery, of 1 unit of each of ``lines`` SKUs, each
    validated in one request: (ms, statements) each."""
    chosen = random.Random(200 + round_no).sample(skus, lines)
    latencies = []
    for kind in ("in_type_id", "out_type_id"):
        with db.env() as env:
            picking_type = stock_flows.main_warehouse(env)[kind]
            picking_id = stock_flows.create_picking(env, picking_type, [(p, 1) for p in chosen]).id
        latencies.append(
            postings.timed_call(
                db,
                lambda env, p=picking_id: stock_flows.validate_all(env["stock.picking"].browse(p)),
            )
        )
    return latencies


def transaction_cost(dbs, skus, args, monitor):
    """The three workloads, ``args.rounds`` rounds, off/on alternating inside
    each round and workload: per workload and side, every (latency,
    statements) and each round's mean latency."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    sides = (OFF, ON)
    samples = {w: {s: [] for s in sides} for w in WORKLOADS}
    means = {w: {s: [] for s in sides} for w in WORKLOADS}
    db = CommittedDatabase(dbs[ON])  # both sides: one database
    mark = monitor.mark()
    try:
        for round_no in range(args.rounds):
            print(f"==> transaction cost, round {round_no + 1}/{args.rounds}", flush=True)
            for position, workload in enumerate(WORKLOADS):
                for side in postings.alternate(sides, round_no + position):
                    set_level_events(side)
                    if workload == "one_line":
                        found = one_line(db, skus, args.one_line, round_no)
                    elif workload == "many_lines":
                        found = many_lines(db, skus, args.lines, round_no)
                    else:
                        found = postings.assign_deliveries(db, skus, args.deliveries, round_no)
                    samples[workload][side] += found
                    means[workload][side].append(statistics.fmean(ms for ms, _n in found))
    finally:
        db.close()
    return samples, means, monitor.cores(mark)


def cost_figures(samples, means):
    """Per workload and side: quantiles, the median of the rounds' means and
    its spread; per workload, the change on/off of the medians and the
    range of the rounds' paired ratios."""
    figures = {}
    for workload in WORKLOADS:
        sides = {
            side: dict(
                quantiles([ms for ms, _n in samples[workload][side]]),
                round_median=statistics.median(means[workload][side]),
                n=len(samples[workload][side]),
            )
            for side in (OFF, ON)
        }
        ratios = sorted(
            on / off - 1 for off, on in zip(means[workload][OFF], means[workload][ON], strict=True)
        )
        change = sides[ON]["round_median"] / sides[OFF]["round_median"] - 1
        # Both sides run the same pickings in the same order: the i-th
        # samples are the same kind of transaction (a median over all would
        # mix receipts and deliveries).
        extra = [
            on[1] - off[1]
            for off, on in zip(samples[workload][OFF], samples[workload][ON], strict=True)
        ]
        figures[workload] = dict(
            sides=sides,
            change=change,
            paired_median=statistics.median(ratios),
            ratios=ratios,
            extra_statements=(min(extra), statistics.median(extra), max(extra)),
        )
    return figures


# ----------------------------------------------------------------------
# 2. dispatcher cost
# ----------------------------------------------------------------------


def fill_backlog(db, side, count):
    """``count`` 1-line postings' movement events, written by the posting
    hook (re-using the seeded done move lines, one per SKU), and with levels
    on one marker each, as each posting's precommit writes it."""
    with db.env() as env:
        env.cr.execute("UPDATE stock_event_outbox SET state = 'sent' WHERE state = 'pending'")
        env.cr.execute("DELETE FROM stock_level_change")
        lines = env["stock.move.line"].search(
            [("state", "=", "done"), ("location_dest_id.usage", "=", "internal")],
            order="id",
            limit=1000,
        )
        line_keys = [
            (line.id, line.product_id.id, line.location_dest_id.warehouse_id.id) for line in lines
        ]
    written = 0
    while written < count:
        with db.env() as env:
            outbox = env["stock.event.outbox"].sudo()
            chunk = [
                line_keys[(written + i) % len(line_keys)]
                for i in range(min(2000, count - written))
            ]
            for line_id, _product, _warehouse in chunk:
                outbox._record_move_lines(env["stock.move.line"].browse(line_id))
            if side == ON:
                env.cr.execute(
                    "INSERT INTO stock_level_change (product_id, warehouse_id)"
                    " SELECT * FROM unnest(%s::int[], %s::int[])",
                    [[k[1] for k in chunk], [k[2] for k in chunk]],
                )
        written += len(chunk)


def drain(dbname, dconf):
    """``stock_event_dispatch --once`` until the backlog is gone: seconds."""
    started = time.perf_counter()
    process = processes.start(
        stack.dispatch_command(dconf, dbname, "--once", "--log-level=warn"),
        Path(dconf).with_suffix(".log"),
        env=stack.odoo_env(),
    )
    if process.wait():
        raise RuntimeError(Path(process.log_path).read_text()[-2000:])
    return time.perf_counter() - started


def dispatcher_cost(dbs, conf, args, monitor):
    """Per side: movement events/s and events/s (LEVEL included) of the
    dispatcher draining the backlog of ``args.backlog`` postings,
    ``args.drains`` times, alternating; startup taken out."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    exchange = f"bench.levels.{uuid.uuid4().hex[:8]}"
    connection, channel, queue = amqp_clients.declare_event_queue(exchange)
    results = {side: [] for side in (OFF, ON)}
    mark = monitor.mark()
    try:
        for drain_no in range(args.drains):
            for side in postings.alternate((OFF, ON), drain_no):
                dconf = odoo_conf.copy_conf(
                    conf,
                    Path(conf).parent / f"dispatch-{side.replace(' ', '-')}.conf",
                    exchange=exchange,
                    level_events="true" if side == ON else "false",
                )
                db = CommittedDatabase(dbs[side])
                try:
                    print(
                        f"==> dispatcher, drain {drain_no + 1}/{args.drains} on {side}", flush=True
                    )
                    fill_backlog(db, side, args.backlog)
                    with db.cursor() as cr:
                        cr.execute("SELECT COALESCE(MAX(id), 0) FROM stock_event_outbox")
                        start_id = cr.fetchone()[0]
                finally:
                    db.close()
                wall = drain(dbs[side], dconf)
                startup = drain(dbs[side], dconf)  # nothing left: Odoo's start alone
                sent = dict(
                    data.query(
                        dbs[side],
                        "SELECT event_type = 'LEVEL', count(*) FROM stock_event_outbox"
                        " WHERE id > %s AND state = 'sent' GROUP BY 1",
                        [start_id],
                    )
                )
                seconds = max(wall - startup, 1e-6)
                # The backlog's own events, written before start_id, are
                # movements; the LEVEL events come after it.
                movements = args.backlog
                levels = sent.get(True, 0)
                results[side].append(
                    dict(
                        seconds=seconds,
                        movement_rate=movements / seconds,
                        event_rate=(movements + levels) / seconds,
                        levels=levels,
                    )
                )
                channel.queue_purge(queue)
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()
    cores = monitor.cores(mark)
    return {
        side: {
            key: statistics.median(r[key] for r in runs)
            for key in ("seconds", "movement_rate", "event_rate", "levels")
        }
        | {"movement_rates": sorted(r["movement_rate"] for r in runs)}
        for side, runs in results.items()
    }, cores


# ----------------------------------------------------------------------
# 3. contention
# ----------------------------------------------------------------------


class LockWaits(threading.Thread):
    """Samples, every 20 ms, the backends of one database waiting on a
    lock (pg_stat_activity): how often anyone waited, and how many."""

    def __init__(self, dbname):
        super().__init__(daemon=True)
        self.dbname = dbname
        self.samples = self.waiting_samples = self.waiting = 0
        self.stopping = threading.Event()

    def run(self):
        conn = stack.connect()
        try:
            with conn.cursor() as cr:
                while not self.stopping.wait(0.02):
                    cr.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = %s AND wait_event_type = 'Lock'",
                        [self.dbname],
                    )
                    waiting = cr.fetchone()[0]
                    self.samples += 1
                    self.waiting_samples += bool(waiting)
                    self.waiting += waiting
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.join(5)


def deadlocks(dbname):
    (count,) = data.query(
        "postgres", "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", [dbname], one=True
    )
    return count


def reserve_unreserve(db, dbname, hot, threads, cycles, seed):
    """Each thread: a delivery of 1 unit of every hot product (its lines in
    an order of its own), unreserved first; then ``cycles`` times
    action_assign and do_unreserve, each one request. Counts and latencies."""
    from odoo.exceptions import UserError  # noqa: PLC0415

    picking_ids = []
    with db.env() as env:
        out_type = stock_flows.main_warehouse(env).out_type_id
        for thread in range(threads):
            lines = [(p, 1) for p in random.Random(seed * 100 + thread).sample(hot, len(hot))]
            picking = stock_flows.create_picking(env, out_type, lines)
            picking.do_unreserve()
            picking_ids.append(picking.id)
    retries_before = len(db.retry_errors)
    deadlocks_before = deadlocks(dbname)
    pg_log = logs.PostgresLog(dbname)
    waits = LockWaits(dbname)
    results, lock = [], threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(picking_id):
        barrier.wait()
        for _cycle in range(cycles):
            for action in ("action_assign", "do_unreserve"):
                started = time.perf_counter()
                status = "ok"
                try:
                    db.call(
                        lambda env, a=action: getattr(env["stock.picking"].browse(picking_id), a)()
                    )
                except UserError:
                    status = "refused"
                except Exception:  # noqa: BLE001 - a failed request, counted
                    status = "failed"
                with lock:
                    results.append((status, (time.perf_counter() - started) * 1000))

    waits.start()
    elapsed = postings.run_threads(worker, picking_ids)
    waits.stop()
    with db.env() as env:
        env["stock.picking"].browse(picking_ids).action_cancel()
    retried = db.retry_errors[retries_before:]
    return dict(
        requests=len(results),
        ok=sum(r[0] == "ok" for r in results),
        refused=sum(r[0] == "refused" for r in results),
        failed=sum(r[0] == "failed" for r in results),
        retries={code: retried.count(code) for code in SQLSTATES},
        other_retries=sum(code not in SQLSTATES for code in retried),
        deadlocks=deadlocks(dbname) - deadlocks_before,
        pg_log=pg_log.counts(),
        wait_share=waits.waiting_samples / max(waits.samples, 1),
        mean_waiting=waits.waiting / max(waits.samples, 1),
        latencies=[r[1] for r in results if r[0] == "ok"],
        elapsed=elapsed,
    )


def contention(dbs, skus, conf, args, monitor):
    """reserve_unreserve on each database, ``args.contention_rounds``
    rounds, alternating; a dispatcher runs beside levels off and on (it
    locks the level sequences and reads the quants while they are
    reserved). Totals per database."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    hot = skus[-args.hot :]
    exchange = f"bench.levels.c.{uuid.uuid4().hex[:8]}"
    connection, channel, queue = amqp_clients.declare_event_queue(exchange)
    totals = {label: [] for label in dbs}
    mark = monitor.mark()
    try:
        for round_no in range(args.contention_rounds):
            for label in postings.alternate(dbs, round_no):
                print(
                    f"==> contention round {round_no + 1}/{args.contention_rounds} on {label}",
                    flush=True,
                )
                set_level_events(label)
                dispatcher = None
                if label != VANILLA:
                    dconf = odoo_conf.copy_conf(
                        conf,
                        Path(conf).parent / f"contention-{label.replace(' ', '-')}.conf",
                        exchange=exchange,
                        level_events="true" if label == ON else "false",
                    )
                    dispatcher = logs.start_process(
                        stack.dispatch_command(dconf, dbs[label], "--log-level=warn"),
                        Path(dconf).with_suffix(".log"),
                    )
                db = CommittedDatabase(dbs[label])
                try:
                    totals[label].append(
                        reserve_unreserve(db, dbs[label], hot, args.threads, args.cycles, round_no)
                    )
                finally:
                    db.close()
                    if dispatcher:
                        processes.stop(dispatcher)
                channel.queue_purge(queue)
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()
    cores = monitor.cores(mark)
    merged = {}
    for label, runs in totals.items():
        pg_log = {}
        for run in runs:
            for key, value in run["pg_log"].items():
                pg_log[key] = pg_log.get(key, 0) + value
        merged[label] = dict(
            quantiles([lat for run in runs for lat in run["latencies"]]),
            requests=sum(r["requests"] for r in runs),
            ok=sum(r["ok"] for r in runs),
            refused=sum(r["refused"] for r in runs),
            failed=sum(r["failed"] for r in runs),
            retries={code: sum(r["retries"][code] for r in runs) for code in SQLSTATES},
            other_retries=sum(r["other_retries"] for r in runs),
            deadlocks=sum(r["deadlocks"] for r in runs),
            pg_log=pg_log,
            wait_share=statistics.fmean(r["wait_share"] for r in runs),
            mean_waiting=statistics.fmean(r["mean_waiting"] for r in runs),
            rate=sum(r["requests"] for r in runs) / sum(r["elapsed"] for r in runs),
        )
    return merged, cores


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def pct(value):
    return f"{value * 100:+.1f}%"


def report(cost, dispatch, contended, conditions, noise):
    lines = [
        "## Level events: cost to postings and reservations (issue #27)",
        "",
        f"Command: `python3 -m bench.level_events_cost --write`. {conditions}",
        "",
        "### Transaction cost, levels off vs on (goal: at most +5%)",
        "",
        row(
            "workload",
            "n per side",
            "off: median of round means ms",
            "on",
            "change",
            "paired rounds: median [min, max]",
            "off p50 / p95 ms",
            "on p50 / p95 ms",
            "SQL statements added per transaction: median [min, max]",
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workload, label in WORKLOADS.items():
        fig = cost[workload]
        off, on = fig["sides"][OFF], fig["sides"][ON]
        lines.append(
            row(
                label,
                off["n"],
                f"{off['round_median']:.0f}",
                f"{on['round_median']:.0f}",
                pct(fig["change"]),
                f"{pct(fig['paired_median'])} [{pct(fig['ratios'][0])}, {pct(fig['ratios'][-1])}]",
                f"{off['p50']:.0f} / {off['p95']:.0f}",
                f"{on['p50']:.0f} / {on['p95']:.0f}",
                "{1:+.0f} [{0:+.0f}, {2:+.0f}]".format(*fig["extra_statements"]),
            )
        )
    lines += [
        "",
        noise["cost"],
        "",
        "### Dispatcher: draining the same backlog of 1-line postings",
        "",
        row("figure", OFF, ON, "change"),
        "|---|---:|---:|---:|",
    ]
    off, on = dispatch[OFF], dispatch[ON]
    for key, label, fmt in (
        ("movement_rate", "movement events/s (median)", "{:,.0f}"),
        ("event_rate", "events/s, LEVEL included (median)", "{:,.0f}"),
        ("seconds", "seconds to drain (startup out)", "{:.1f}"),
        ("levels", "LEVEL events written", "{:,.0f}"),
    ):
        change = pct(on[key] / off[key] - 1) if off[key] else ""
        lines.append(row(label, fmt.format(off[key]), fmt.format(on[key]), change))
    lines += [
        row(
            "movement events/s of each drain",
            ", ".join(f"{r:,.0f}" for r in off["movement_rates"]),
            ", ".join(f"{r:,.0f}" for r in on["movement_rates"]),
            "",
        ),
        "",
        noise["dispatch"],
        "",
        "### Reservations fighting? Threads reserving and unreserving the same products",
        "",
        row("figure", *contended),
        "|---|" + "---:|" * len(contended),
    ]
    labels = list(contended)
    for label, get in (
        ("requests (action_assign, do_unreserve)", lambda c: f"{c['requests']}"),
        ("failed after Odoo's retries", lambda c: f"{c['failed']}"),
        ("refused (UserError)", lambda c: f"{c['refused']}"),
        *(
            (f"retried: {name}", lambda c, code=code: f"{c['retries'][code]}")
            for code, name in SQLSTATES.items()
        ),
        ("deadlocks (pg_stat_database)", lambda c: f"{c['deadlocks']}"),
        (
            "errors in PostgreSQL's log (serialization, deadlock)",
            lambda c: " / ".join(str(v) for v in c["pg_log"].values()) or "no log",
        ),
        (
            "share of 20 ms samples with a backend waiting on a lock",
            lambda c: f"{c['wait_share'] * 100:.0f}%",
        ),
        ("backends waiting on a lock, mean", lambda c: f"{c['mean_waiting']:.2f}"),
        ("p50 / p95 / p99 ms", lambda c: f"{c['p50']:.0f} / {c['p95']:.0f} / {c['p99']:.0f}"),
        ("requests/s", lambda c: f"{c['rate']:.1f}"),
    ):
        lines.append(row(label, *(get(contended[name]) for name in labels)))
    lines += ["", noise["contention"], "", "![level events cost](img/level_events_cost.png)"]
    return "\n".join(lines)


def plot(cost, dispatch, contended, path):
    fig, axes = pyplot().subplots(1, 3, figsize=(13, 4))
    ax = axes[0]
    names = list(WORKLOADS)
    ax.bar(
        range(len(names)),
        [cost[w]["change"] * 100 for w in names],
        yerr=[
            [cost[w]["change"] * 100 - cost[w]["ratios"][0] * 100 for w in names],
            [cost[w]["ratios"][-1] * 100 - cost[w]["change"] * 100 for w in names],
        ],
        capsize=4,
    )
    ax.axhline(5, color="red", linestyle="--", label="goal: +5%")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(range(len(names)), ["1 line", "200 lines", "assign 200"], fontsize=8)
    ax.set_title("levels on vs off (%, round range)")
    ax.legend(fontsize=8)
    ax = axes[1]
    sides = [OFF, ON]
    for offset, key in ((-0.2, "movement_rate"), (0.2, "event_rate")):
        ax.bar(
            [i + offset for i in range(2)],
            [dispatch[s][key] for s in sides],
            0.4,
            label="movements/s" if key == "movement_rate" else "all events/s",
        )
    ax.set_xticks(range(2), sides, fontsize=8)
    ax.set_title("dispatcher drain rate")
    ax.legend(fontsize=8)
    ax = axes[2]
    labels = list(contended)
    for offset, key in ((-0.2, "p50"), (0.2, "p95")):
        ax.bar(
            [i + offset for i in range(len(labels))],
            [contended[x][key] for x in labels],
            0.4,
            label=key,
        )
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title("reserve/unreserve on hot products (ms)")
    ax.legend(fontsize=8)
    save(fig, path)


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="off/on rounds of the cost")
    parser.add_argument("--one-line", type=int, default=30, help="1-line validations per round")
    parser.add_argument("--lines", type=int, default=200, help="lines of the big validation")
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries assigned at once")
    parser.add_argument(
        "--backlog", type=int, default=10_000, help="postings the dispatcher drains"
    )
    parser.add_argument("--drains", type=int, default=3, help="dispatcher drains per side")
    parser.add_argument("--hot", type=int, default=5, help="hot products of the contention")
    parser.add_argument("--threads", type=int, default=4, help="contention threads")
    parser.add_argument("--cycles", type=int, default=15, help="reserve/unreserve per thread")
    parser.add_argument("--contention-rounds", type=int, default=3, help="contention rounds")
    args = cli.parse(parser, rabbitmq=True)

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    prefix = f"bench_levels_{int(time.time())}"
    monitor = CpuMonitor(prefix)
    monitor.start()
    try:
        dbs, skus = build(conf, prefix)
        # The short parts first: a mistake shows before the long one.
        contended, contention_cores = contention(dbs, skus, conf, args, monitor)
        dispatch, dispatch_cores = dispatcher_cost(dbs, conf, args, monitor)
        samples, means, cost_cores = transaction_cost(dbs, skus, args, monitor)
        cost = cost_figures(samples, means)
        conditions = (
            f"{args.rounds} rounds, off and on alternating inside each round: "
            f"{args.one_line} 1-line validations (one thread, half receipts, half deliveries, "
            f"1,000 SKUs), a receipt and a delivery of {args.lines} lines, action_assign of "
            f"{args.deliveries} deliveries; the dispatcher drains a backlog of "
            f"{args.backlog:,} postings {args.drains} times per side; {args.threads} threads "
            f"× {args.cycles} reserve/unreserve cycles of deliveries of the same {args.hot} "
            f"products × {args.contention_rounds} rounds per database. {os.cpu_count()} CPUs "
            f"shared with other work, Python {platform.python_version()}, PostgreSQL on "
            f"this machine."
        )
        noise = {
            "cost": monitor_lib.noise_line(cost_cores),
            "dispatch": monitor_lib.noise_line(dispatch_cores),
            "contention": monitor_lib.noise_line(contention_cores),
        }
        body = report(cost, dispatch, contended, conditions, noise)
        publish(
            "level_events_cost",
            body,
            args.write,
            lambda path: plot(cost, dispatch, contended, path),
        )
    finally:
        monitor.stop()
        if not args.keep:
            stack.drop_databases_with_prefix(prefix)


if __name__ == "__main__":
    sys.exit(main())
