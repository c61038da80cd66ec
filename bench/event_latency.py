# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The event bus's cost and speed, measured against stock_scalable alone and
vanilla Odoo in one run.

1. Posting latency: the same 1-line validations (pickings created
   beforehand, 1,000 SKUs, W workers) on three databases built the same way:
   vanilla stock, stock + stock_scalable, and the same + stock_event_bus.
   Rounds alternate between the databases. Goal: the outbox adds at most 5%.
2. Dispatcher throughput on a pre-filled outbox (100,000 events written by
   the posting hook), `stock_event_dispatch --once`, persistent messages,
   publisher confirms, a durable queue bound. Beside it, the naive way (one
   blocking publish waiting for its confirm per message, as a publish from
   inside a request does). Goal: at least 5,000 events/s.
3. End-to-end latency, commit to the consumer's receipt, with the dispatcher
   running: postings committed at 100/s (the posting hook on a done move
   line, one transaction each), and real ORM validations at the rate the
   machine sustains. Goal: p95 under 200 ms at 100 postings/s.

    pip install -r requirements-bench.txt
    python3 -m bench.event_latency --write
"""

import os
import platform
import subprocess
import sys
import threading
import time
import uuid

from bench.lib import amqp_clients, cli, data, postings
from bench.lib.report import publish, pyplot, quantiles, row, save
from tests.harness import amqp, odoo_conf, processes, stack, stock_flows


def build(conf, prefix):
    vanilla, ours, product_ids = data.build_sku_databases(conf, prefix, hot_stock=1000)
    bus = f"{prefix}_bus"
    print(f"==> copying {ours} to {bus} and installing stock_event_bus", flush=True)
    data.copy_and_install(conf, ours, bus, "stock_event_bus")
    return {"vanilla": vanilla, "stock_scalable": ours, "+ stock_event_bus": bus}, product_ids[1:]


# ----------------------------------------------------------------------
# 2. dispatcher throughput
# ----------------------------------------------------------------------


def fill_outbox(db, events, per_transaction=10_000):
    """Write ``events`` real events through the posting hook, re-using done
    move lines (each call numbers and writes new events)."""
    written = 0
    with db.env() as env:
        lines = env["stock.move.line"].search([("state", "=", "done")], limit=50, order="id desc")
    while written < events:
        with db.env() as env:
            outbox = env["stock.event.outbox"].sudo()
            batch_lines = env["stock.move.line"].browse(lines.ids)
            done = 0
            while done < per_transaction and written + done < events:
                take = batch_lines[: min(len(batch_lines), events - written - done)]
                outbox._record_move_lines(take)
                done += len(take)
        written += done
    return written


def dispatcher_throughput(db, dbname, conf, events):
    exchange = f"sscale.bench.{uuid.uuid4().hex[:8]}"
    dconf = amqp_clients.event_conf(conf, exchange)
    connection, channel, queue = amqp_clients.declare_event_queue(exchange)
    try:
        print(f"==> filling the outbox with {events:,} events", flush=True)
        started = time.perf_counter()
        written = fill_outbox(db, events)
        fill_time = time.perf_counter() - started
        with db.cursor() as cr:
            cr.execute("SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'pending'")
            pending = cr.fetchone()[0]
        print(f"==> stock_event_dispatch --once over {pending:,} pending events", flush=True)
        started = time.perf_counter()
        process = subprocess.Popen(
            stack.dispatch_command(dconf, dbname, "--once", "--log-level=warn"),
            env=stack.odoo_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, stack.proc_status_kb(process.pid, "VmHWM") or 0)
            time.sleep(0.1)
        wall = time.perf_counter() - started
        output = process.stdout.read()
        if process.returncode:
            raise RuntimeError(output[-2000:])
        rss = peak_kb
        with db.cursor() as cr:
            cr.execute("SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'sent'")
            sent = cr.fetchone()[0]
        delivered = channel.queue_declare(queue, durable=True, passive=True).method.message_count
        # Startup (Odoo import, config) is measured alone and taken out.
        started = time.perf_counter()
        subprocess.run(
            stack.dispatch_command(dconf, dbname, "--once", "--log-level=warn"),
            env=stack.odoo_env(),
            capture_output=True,
            check=True,
        )
        startup = time.perf_counter() - started
        channel.queue_purge(queue)
        naive = naive_publish(channel, exchange, 3000)
        return {
            "written": written,
            "fill_rate": written / fill_time,
            "pending": pending,
            "sent": sent,
            "delivered": delivered,
            "wall": wall,
            "startup": startup,
            "rate": pending / max(wall - startup, 1e-6),
            "rate_wall": pending / wall,
            "rss_mb": rss / 1024,
            "naive_rate": naive,
        }
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()


def naive_publish(channel, exchange, count):
    """One blocking publish per message, each waiting for its confirm."""
    channel.confirm_delivery()
    body = b'{"event_id": "x"}' * 20
    started = time.perf_counter()
    for _i in range(count):
        amqp.publish(channel, exchange, "stock.1.1.sale", body, mandatory=True)
    return count / (time.perf_counter() - started)


# ----------------------------------------------------------------------
# 3. end-to-end latency
# ----------------------------------------------------------------------


class Receiver(threading.Thread):
    """Consumes the bench queue and notes when each event id arrived."""

    def __init__(self, exchange, queue):
        super().__init__(daemon=True)
        from odoo.addons.stock_event_bus.lib.consumer import StockEventConsumer  # noqa: PLC0415

        self.consumer = StockEventConsumer(
            stack.amqp_url(),
            queue,
            exchange=exchange,
            prefetch=500,
            validate=False,
            queue_type="classic",  # as the bench's own declaration (figures comparable)
        )
        self.consumer.connect()
        self.arrivals = {}
        self.stopping = False

    def run(self):
        def handler(event):
            self.arrivals[event["event_id"]] = (time.time(), event)

        while not self.stopping:
            self.consumer.run(handler, inactivity_timeout=0.5)

    def stop(self):
        self.stopping = True
        self.join(10)


def end_to_end(db, dbname, conf, rate, seconds, workers, validations, skus):
    exchange = f"sscale.bench.{uuid.uuid4().hex[:8]}"
    dconf = amqp_clients.event_conf(conf, exchange)
    receiver = Receiver(exchange, f"{exchange}.q")
    receiver.start()
    with db.cursor() as cr:  # start from an empty backlog
        cr.execute("UPDATE stock_event_outbox SET state = 'sent' WHERE state = 'pending'")
    dispatcher = subprocess.Popen(
        stack.dispatch_command(dconf, dbname, "--log-level=warn"),
        env=stack.odoo_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = {}
    try:
        time.sleep(4)  # the dispatcher is up and listening
        print(f"==> {rate} postings/s for {seconds} s, commit to receipt", flush=True)
        with db.env() as env:
            line_ids = env["stock.move.line"].search([("state", "=", "done")], limit=200).ids
        committed = {}
        interval = 1.0 / rate
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            target = start + n * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with db.env() as env:
                env["stock.event.outbox"].sudo()._record_move_lines(
                    env["stock.move.line"].browse(line_ids[n % len(line_ids)])
                )
                env.cr.execute(
                    "SELECT event_uuid FROM stock_event_outbox WHERE event_type <> 'LEVEL'"
                    " ORDER BY id DESC LIMIT 1"
                )
                event_id = env.cr.fetchone()[0]
            committed[event_id] = time.time()
        achieved = len(committed) / (time.perf_counter() - start)
        processes.wait_until(lambda: all(e in receiver.arrivals for e in committed), 60)
        latencies = [
            (receiver.arrivals[e][0] - t) * 1000
            for e, t in committed.items()
            if e in receiver.arrivals
        ]
        results["synthetic"] = dict(
            quantiles(latencies),
            rate=achieved,
            count=len(committed),
            lost=len(committed) - len(latencies),
        )

        print(f"==> ORM validations ({workers} workers), commit to receipt", flush=True)
        plans = postings.plan(workers, validations, skus, 1 / 2, seed=99)
        picking_plans = postings.create_pickings(db, plans)
        with db.cursor() as cr:
            cr.execute(
                "SELECT id, name FROM stock_picking WHERE id = ANY(%s)",
                [[p for ps in picking_plans for p in ps]],
            )
            names = dict(cr.fetchall())
        commits, lock = {}, threading.Lock()

        def worker(picking_ids):
            for picking_id in picking_ids:
                db.call(
                    lambda env, p=picking_id: stock_flows.validate_all(
                        env["stock.picking"].browse(p)
                    )
                )
                with lock:
                    commits[names[picking_id]] = time.time()

        start = time.perf_counter()
        postings.run_workers(db, worker, picking_plans)
        achieved = len(commits) / (time.perf_counter() - start)

        def received_by_picking():
            return {
                ev["picking"]: t for t, ev in list(receiver.arrivals.values()) if ev.get("picking")
            }

        processes.wait_until(lambda: set(commits) <= set(received_by_picking()), 60)
        arrivals = received_by_picking()
        latencies = [
            (arrivals[name] - t) * 1000 for name, t in commits.items() if name in arrivals
        ]
        results["orm"] = dict(
            quantiles(latencies),
            rate=achieved,
            count=len(commits),
            lost=len(commits) - len(latencies),
        )
    finally:
        processes.stop(dispatcher, timeout=30)
        receiver.stop()
        channel = receiver.consumer._channel
        if channel is not None and channel.is_open:
            channel.queue_delete(receiver.consumer.queue)
            channel.queue_delete(receiver.consumer.dead_letter_queue)
            channel.exchange_delete(exchange)
            channel.exchange_delete(receiver.consumer.dead_letter_exchange)
        receiver.consumer.close()
    return results


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def report(posting, throughput, e2e, conditions):
    base = posting["stock_scalable"]
    bus = posting["+ stock_event_bus"]
    overhead_mean = (bus["round_median"] / base["round_median"] - 1) * 100
    overhead_p50 = (bus["p50"] / base["p50"] - 1) * 100
    posting = {"vanilla Odoo": posting["vanilla"], **{k: posting[k] for k in list(posting)[1:]}}
    lines = [
        "### 1. Posting latency (1-line validations, 1,000 SKUs)",
        "",
        *postings.posting_table(posting, "outbox overhead"),
    ]
    t = throughput
    lines += [
        "",
        "### 2. Dispatcher throughput (publisher confirms, persistent, durable queue)",
        "",
        "| figure | stock_event_dispatch | naive: one blocking publish + confirm per message |",
        "|---|---:|---:|",
        row(
            "events/s",
            f"{t['rate']:,.0f} (wall incl. {t['startup']:.1f} s startup: {t['rate_wall']:,.0f})",
            f"{t['naive_rate']:,.0f}",
        ),
        row(
            "events",
            f"{t['pending']:,} pending → {t['sent']:,} sent, {t['delivered']:,} in the queue",
            "3,000",
        ),
        f"| wall time s | {t['wall']:.1f} | |",
        f"| dispatcher peak memory (RSS) MB | {t['rss_mb']:.0f} | |",
        f"| outbox pre-fill through the posting hook, events/s | {t['fill_rate']:,.0f} | |",
        "",
        "### 3. End-to-end latency, commit to the consumer's receipt",
        "",
        "| load | postings/s achieved | events | lost | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("synthetic", "posting hook, paced"),
        ("orm", "ORM validations, as fast as possible"),
    ):
        r = e2e[key]
        lines.append(
            row(
                label,
                f"{r['rate']:.1f}",
                r["count"],
                r["lost"],
                f"{r['p50']:.0f}",
                f"{r['p95']:.0f}",
                f"{r['p99']:.0f}",
            )
        )
    goals = [
        "",
        f"Goals: outbox overhead ≤ 5% → {overhead_mean:+.1f}% (median of the rounds' means), "
        f"p50 {overhead_p50:+.1f}%; "
        f"dispatcher ≥ 5,000 events/s → {t['rate']:,.0f}; "
        f"p95 < 200 ms at 100 postings/s → {e2e['synthetic']['p95']:.0f} ms.",
    ]
    body = (
        "## Event bus: outbox cost, dispatcher throughput, end-to-end latency\n\n"
        f"Command: `python3 -m bench.event_latency --write`. {conditions}\n\n"
        + "\n".join(lines + goals)
        + "\n\n![posting latency, dispatcher throughput, end-to-end latency](img/event_bus.png)"
    )
    return body


def plot(posting, throughput, e2e, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    postings.posting_bars(axes[0], posting)
    axes[1].bar(
        ["stock_event_dispatch", "naive publish"], [throughput["rate"], throughput["naive_rate"]]
    )
    axes[1].axhline(5000, color="red", linestyle="--", label="goal 5,000/s")
    axes[1].set_title("events/s with publisher confirms")
    axes[1].legend()
    names = ["posting hook", "ORM validations"]
    for offset, key in ((-0.25, "p50"), (0, "p95"), (0.25, "p99")):
        axes[2].bar(
            [i + offset for i in range(2)],
            [e2e["synthetic"][key], e2e["orm"][key]],
            0.25,
            label=key,
        )
    axes[2].axhline(200, color="red", linestyle="--", label="p95 goal")
    axes[2].set_xticks(range(2), names)
    axes[2].set_title("commit → consumer (ms)")
    axes[2].legend()
    save(fig, path)


def main():
    parser = cli.parser(__doc__)
    cli.posting_rounds(parser)
    parser.add_argument(
        "--events", type=int, default=100_000, help="events for the throughput run"
    )
    parser.add_argument("--rate", type=int, default=100, help="postings/s for the latency run")
    parser.add_argument("--seconds", type=int, default=20, help="length of the latency run")
    args = cli.parse(parser, rabbitmq=True)
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    prefix = f"sscale_bench_{int(time.time())}"
    try:
        dbs, skus = build(conf, prefix)
        posting = postings.posting_latency(dbs, skus, args.workers, args.per_worker, args.rounds)
        bus_name = dbs["+ stock_event_bus"]
        bus_db = CommittedDatabase(bus_name)
        try:
            throughput = dispatcher_throughput(bus_db, bus_name, conf, args.events)
            e2e = end_to_end(
                bus_db,
                bus_name,
                conf,
                args.rate,
                args.seconds,
                args.workers,
                args.per_worker,
                skus,
            )
        finally:
            bus_db.close()
        conditions = (
            f"{args.workers} worker threads × {args.per_worker} validations × {args.rounds} "
            f"alternating rounds per database; {args.events:,} events pre-filled; "
            f"{args.rate} postings/s for {args.seconds} s; {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, PostgreSQL and RabbitMQ on this machine."
        )
        body = report(posting, throughput, e2e, conditions)
        publish("event_bus", body, args.write, lambda path: plot(posting, throughput, e2e, path))
    finally:
        if not args.keep:
            stack.drop_databases_with_prefix(prefix)


if __name__ == "__main__":
    sys.exit(main())
