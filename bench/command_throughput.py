# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over AMQP and HTTP against 1-line pickings posted
through the ORM (issue 11), side by side in one run.

One run builds two databases the same way from one template (stock without
demo data and the same seeded products; the second one gets stock_scalable
and stock_event_bus), then:

1. Hot product: C commands (receive and deliver of 1 unit, 1:1, one product
   with enough stock that none is refused) published by P threads to the
   command exchange (routing key: the product's internal reference) and
   applied by one ``stock_command_consume`` process; beside it, W client
   threads post the same work as 1-line pickings through the ORM (create,
   confirm, reserve, set the quantity, validate, each request in its own
   transaction, retried on serialization failures up to 5 tries like Odoo's
   RPC layer), on vanilla Odoo and on stock_scalable. Goals: AMQP at least
   100 commands/s and 5x the ORM figure on stock_scalable.
2. N products: the same over N products, with two consumer processes
   (queues 0-3 and 4-7), against the ORM on stock_scalable. Goals: at least
   100 commands/s and 3x.
3. Scanners over HTTP: ``odoo-bin --workers=4``; S client threads each send
   single commands with fresh idempotency keys (``POST /api/stock/commands``,
   an API key), then the same keys again (idempotent replays): latency
   percentiles. Goals: p95 below 100 ms new, below 20 ms replayed.

It prints the tables, and with --write updates docs/benchmarks.md and
docs/img/commands.png.

    pip install -r requirements-bench.txt
    python3 -m bench.command_throughput --write
"""

import datetime
import logging
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
from bench.lib.amqp_clients import QUEUES
from bench.lib.command_report import plot, report
from bench.lib.http_clients import post_command
from bench.lib.invariants import ledger_check
from bench.lib.monitor import CpuMonitor
from bench.lib.report import publish, quantiles
from tests.harness import odoo_conf, processes, stack, stock_flows
from tests.harness.odoo_server import OdooServer

# ----------------------------------------------------------------------
# databases
# ----------------------------------------------------------------------


def build_databases(conf, prefix, products, hot_stock, sku_stock):
    """``(vanilla, ours, [(product id, code)], (stock id, stock name))``:
    vanilla ``stock`` with the seeded products, and a copy of it with
    stock_scalable and stock_event_bus."""
    vanilla, ours = f"{prefix}_vanilla", f"{prefix}_ours"
    print(
        f"==> building {vanilla}: stock without demo data, {products + 1:,} products", flush=True
    )
    data.install(conf, vanilla, "stock", without_demo=True)
    seeded, stock = data.shell(
        conf, vanilla, data.coded_products(products, hot_stock, sku_stock), "PRODUCTS", "STOCK"
    )
    print(f"==> copying it to {ours}, installing stock_scalable and stock_event_bus", flush=True)
    data.copy_and_install(conf, vanilla, ours, "stock_scalable,stock_event_bus")
    return vanilla, ours, [tuple(p) for p in seeded], tuple(stock)


def plan(count, products, seed):
    """The same work for every channel: ``count`` (kind, (product id, code)),
    exactly half receipts and half deliveries of 1 unit, shuffled."""
    rng = random.Random(seed)
    kinds = ["receive", "deliver"] * (count // 2) + ["receive"] * (count % 2)
    rng.shuffle(kinds)
    return [(kind, rng.choice(products)) for kind in kinds]


def split(requests, parts):
    return [requests[i::parts] for i in range(parts)]


# ----------------------------------------------------------------------
# JSON-RPC / ORM: 1-line pickings, one request each
# ----------------------------------------------------------------------


def orm_workload(db, requests, workers, monitor):
    """``workers`` threads post ``requests`` as 1-line pickings, one
    transaction each (create, confirm, reserve, quantity, validate), retried
    on serialization failures like Odoo's RPC layer."""
    from odoo.exceptions import UserError  # noqa: PLC0415

    post = {"receive": stock_flows.receive, "deliver": stock_flows.deliver}
    results, errors, lock = [], [], threading.Lock()

    def worker(mine):
        for kind, (product_id, _code) in mine:
            status, tries, error = "ok", 1, None
            try:
                _state, tries = db.call(lambda env, k=kind, p=product_id: post[k](env, [(p, 1)]))
            except UserError:
                status = "refused"
            except Exception as exc:  # noqa: BLE001 - counted as a failed request
                status, error = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            with lock:
                results.append((status, tries))
                if error:
                    errors.append(error)

    mark = monitor.mark()
    started = time.perf_counter()
    outcomes = db.run_concurrently(
        [lambda mine=mine: worker(mine) for mine in split(requests, workers)]
    )
    elapsed = time.perf_counter() - started
    cpu = monitor.cores(mark)
    for kind, value in outcomes:
        if kind == "error":
            raise value
    done = sum(status == "ok" for status, _t in results)
    return {
        "requests": len(requests),
        "done": done,
        "refused": sum(status == "refused" for status, _t in results),
        "failed": sum(status == "failed" for status, _t in results),
        "elapsed": elapsed,
        "rate": done / elapsed,
        "retries": sum(t - 1 for _s, t in results),
        "errors": sorted(set(errors)),
        "cpu": cpu,
    }


# ----------------------------------------------------------------------
# AMQP: stock_command_consume
# ----------------------------------------------------------------------


def amqp_workload(dbname, conf, requests, publishers, queue_sets, location, tag, logdir, monitor):
    """Publish ``requests`` as commands from ``publishers`` threads to a new
    exchange, with one consumer process per entry of ``queue_sets`` (None:
    every queue; else a --queues value), and wait for every reply."""
    import odoo.modules.module  # noqa: PLC0415

    odoo.modules.module.initialize_sys_path()
    from odoo.addons.stock_event_bus.lib.command_consumer import (  # noqa: PLC0415
        declare_topology,
    )

    exchange = f"sscale.bench.commands.{uuid.uuid4().hex[:8]}"
    conf = amqp_clients.command_conf(conf, exchange)
    amqp_clients.map_broker_user(dbname)
    connection, channel = amqp_clients.channel()
    declare_topology(channel, exchange, QUEUES)
    collector = amqp_clients.ReplyCollector()
    collector.start()
    consumers = []
    commands = []
    for n, (kind, (_product_id, code)) in enumerate(requests):
        command = {"idempotency_key": f"{tag}-{n}", "type": kind, "product": code, "quantity": 1}
        command["location" if kind == "deliver" else "location_dest"] = location
        commands.append(command)
    try:
        for index, queues in enumerate(queue_sets):
            args = ["--log-level=info"] + (["--queues", queues] if queues else [])
            consumers.append(
                logs.start_process(
                    stack.dispatch_command(conf, dbname, *args, command="stock_command_consume"),
                    Path(logdir, f"{exchange}.{index}.log"),
                )
            )
        first = [0 if not q else int(q.split("-")[0].split(",")[0]) for q in queue_sets]
        amqp_clients.wait_for_consumers(channel, exchange, first, consumers)
        first_publish = []
        barrier = threading.Barrier(publishers)

        def publisher(mine):
            pconn, pchannel = amqp_clients.channel(confirm=True)
            barrier.wait()
            first_publish.append(time.perf_counter())
            for command in mine:
                amqp_clients.publish_command(pchannel, exchange, command, collector.queue)
            pconn.close()

        threads = [
            threading.Thread(target=publisher, args=(mine,))
            for mine in split(commands, publishers)
        ]
        mark = monitor.mark()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        published = time.perf_counter()
        collector.wait(len(commands), timeout=max(300, len(commands) / 2))
        cpu = monitor.cores(mark)
        start = min(first_publish)
        replies = dict(collector.replies)
        last = max((t for t, _a in replies.values()), default=time.perf_counter())
        elapsed = last - start
        statuses = [answer.get("status") for _t, answer in replies.values()]
        done = statuses.count("done")
        dead = channel.queue_declare(f"{exchange}.dead", durable=True, passive=True)
        return {
            "requests": len(commands),
            "done": done,
            "refused": sum(s != "done" for s in statuses),
            "failed": len(commands) - len(replies),
            "elapsed": elapsed,
            "rate": done / elapsed,
            "publish_rate": len(commands) / (published - start),
            "dead_letters": dead.method.message_count,
            "errors": sorted(
                {
                    answer.get("error", {}).get("code", "?")
                    for _t, answer in replies.values()
                    if answer.get("status") != "done"
                }
            ),
            "batches": command_batches(dbname, f"{tag}-"),
            "cpu": cpu,
        }
    finally:
        for process in consumers:
            processes.stop(process, timeout=30)
        collector.stop()
        amqp_clients.delete_command_topology(channel, exchange)
        connection.close()
        conf.unlink(missing_ok=True)


def command_batches(dbname, key_prefix):
    """The consumer's batches, read back from the command rows: each batch
    claims its keys in one transaction, so its rows share a create_date."""
    rows = data.query(
        dbname,
        """SELECT create_date, COUNT(*), COUNT(*) FILTER (WHERE state = 'pending')
             FROM stock_inventory_command
            WHERE idempotency_key LIKE %s
         GROUP BY create_date ORDER BY create_date""",
        [key_prefix.replace("_", r"\_") + "%"],
    )
    sizes = [n for _d, n, _p in rows]
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(rows, rows[1:], strict=False)]
    return {
        "count": len(rows),
        "mean_size": statistics.fmean(sizes) if sizes else 0.0,
        "max_size": max(sizes, default=0),
        "pending": sum(p for _d, _n, p in rows),
        "median_gap": statistics.median(gaps) if gaps else 0.0,
    }


# ----------------------------------------------------------------------
# HTTP: scanners against odoo-bin --workers
# ----------------------------------------------------------------------


def api_key(db):
    with db.env() as env:
        admin = env.ref("base.user_admin")
        expires = datetime.datetime.now() + datetime.timedelta(days=1)
        return env["res.users.apikeys"].with_user(admin)._generate("rpc", "bench", expires)


def http_workload(url, key, scanner_plans, location, tag, monitor):
    """Each scanner thread sends its commands one after the other with fresh
    keys, then all of them again (replays). Returns the figures of both."""

    def commands_of(index, requests):
        out = []
        for n, (kind, (_product_id, code)) in enumerate(requests):
            command = {
                "idempotency_key": f"{tag}-{index}-{n}",
                "type": kind,
                "product": code,
                "quantity": 1,
            }
            command["location" if kind == "deliver" else "location_dest"] = location
            out.append(command)
        return out

    scanners = [commands_of(i, requests) for i, requests in enumerate(scanner_plans)]
    first_answers = {}
    figures = {}
    for phase in ("new", "replay"):
        results, lock = [], threading.Lock()
        barrier = threading.Barrier(len(scanners))

        def scanner(commands, phase=phase, results=results, lock=lock, barrier=barrier):
            barrier.wait()
            for command in commands:
                status, answer, seconds = post_command(url, key, command)
                same = True
                if phase == "new":
                    first_answers[command["idempotency_key"]] = (status, answer)
                else:
                    same = first_answers.get(command["idempotency_key"]) == (status, answer)
                with lock:
                    results.append((status, answer.get("status"), seconds, same))

        mark = monitor.mark()
        elapsed = postings.run_threads(scanner, scanners)
        latencies = [seconds * 1000 for _st, _s, seconds, _same in results]
        figures[phase] = dict(
            quantiles(latencies),
            requests=len(results),
            done=sum(s == "done" for _st, s, _sec, _same in results),
            failed=sum(st != 200 for st, _s, _sec, _same in results),
            differing=sum(not same for *_rest, same in results),
            rate=len(results) / elapsed,
            mean=statistics.fmean(latencies),
            statuses=sorted({st for st, *_rest in results}),
            cpu=monitor.cores(mark),
        )
    return figures


def show(label, figures):
    print(
        f"    {label}: "
        + ", ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in figures.items()
            if k != "errors" or v
        ),
        flush=True,
    )


# ----------------------------------------------------------------------
# main
# ----------------------------------------------------------------------


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--commands", type=int, default=2000, help="moves per AMQP scenario")
    parser.add_argument("--products", type=int, default=1000, help="products of scenario 2")
    parser.add_argument("--publishers", type=int, default=8, help="AMQP publisher threads")
    parser.add_argument("--workers", type=int, default=8, help="JSON-RPC (ORM) client threads")
    parser.add_argument("--scanners", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--scans", type=int, default=250, help="new commands per scanner")
    parser.add_argument("--http-workers", type=int, default=4, help="odoo-bin --workers")
    parser.add_argument(
        "--solo-scans", type=int, default=100, help="new commands of one scanner alone"
    )
    parser.add_argument(
        "--hot-stock", type=int, default=1000, help="on-hand of the hot product at the start"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small run to try the script: 200 commands, 100 products, 4 x 25 scans",
    )
    args = cli.parse(parser, rabbitmq=True)
    if args.quick:
        args.commands, args.products, args.scans, args.solo_scans = 200, 100, 25, 20
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = odoo_conf.bench_odoo_conf(db_maxconn=32, log_level="warn")
    # pika logs every connection step; Odoo logs each serialization failure
    # the ORM clients retry (counted in the figures).
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("odoo.sql_db").setLevel(logging.CRITICAL)
    logdir = conf.parent
    prefix = f"sscale_bench_{int(time.time())}"
    wall = time.perf_counter()
    results = {}
    monitor = CpuMonitor(prefix)
    monitor.start()
    try:
        vanilla, ours, seeded, (stock_id, stock) = build_databases(
            conf, prefix, args.products, args.hot_stock, sku_stock=1000
        )
        hot, skus = seeded[:1], seeded[1:]
        hot_ids, sku_ids = [p[0] for p in hot], [p[0] for p in skus]
        hot_plan = plan(args.commands, hot, seed=1)
        skus_plan = plan(args.commands, skus, seed=2)
        common = {"workers": args.workers, "publishers": args.publishers}
        results["hot"] = dict(common, requests=len(hot_plan))
        results["skus"] = dict(common, requests=len(skus_plan), products=len(skus))

        for label, dbname in (("vanilla", vanilla), ("ours", ours)):
            db = CommittedDatabase(dbname)
            try:
                print(f"==> hot product, JSON-RPC on {label} ({args.workers} threads)", flush=True)
                figures = orm_workload(db, hot_plan, args.workers, monitor)
                figures["check"] = ledger_check(dbname, stock_id, hot_ids)
                results["hot"][f"orm_{label}"] = figures
                show(label, figures)
            finally:
                db.close()

        print(f"==> hot product, AMQP ({args.publishers} publishers, 1 consumer)", flush=True)
        figures = amqp_workload(
            ours, conf, hot_plan, args.publishers, [None], stock, f"{prefix}-hot", logdir, monitor
        )
        figures["check"] = ledger_check(ours, stock_id, hot_ids)
        results["hot"]["amqp"] = figures
        show("amqp", figures)

        db = CommittedDatabase(ours)
        try:
            print(
                f"==> {len(skus)} products, JSON-RPC on ours ({args.workers} threads)", flush=True
            )
            figures = orm_workload(db, skus_plan, args.workers, monitor)
            figures["check"] = ledger_check(ours, stock_id, sku_ids)
            results["skus"]["orm_ours"] = figures
            show("ours", figures)
            key = api_key(db)
        finally:
            db.close()

        print(f"==> {len(skus)} products, AMQP (2 consumers)", flush=True)
        figures = amqp_workload(
            ours,
            conf,
            skus_plan,
            args.publishers,
            ["0-3", "4-7"],
            stock,
            f"{prefix}-skus",
            logdir,
            monitor,
        )
        figures["check"] = ledger_check(ours, stock_id, sku_ids)
        results["skus"]["amqp"] = figures
        show("amqp", figures)

        print(
            f"==> HTTP: odoo-bin --workers={args.http_workers}, {args.scanners} scanners x "
            f"{args.scans} commands, then replays",
            flush=True,
        )
        # No --db-filter: with one database (-d) and no filter, Odoo does not
        # list the server's databases on every request (a query on a new
        # connection to "postgres", 5-10 ms here).
        server = OdooServer(
            {"conf": str(conf)},
            ours,
            logdir,
            workers=args.http_workers,
            extra_args=["--db-filter="],
        )
        url = server.url
        try:
            # Warm-up (not measured): every worker loads the registry on its
            # first request.
            warm = split(plan(4 * args.http_workers * args.scanners, skus, seed=3), args.scanners)
            http_workload(url, key, warm, stock, f"{prefix}-warm", monitor)
            # One scanner alone first: the floor under the concurrent figures.
            solo = http_workload(
                url, key, [plan(args.solo_scans, skus, seed=5)], stock, f"{prefix}-solo", monitor
            )
            scans = split(plan(args.scanners * args.scans, skus, seed=4), args.scanners)
            http = http_workload(url, key, scans, stock, f"{prefix}-http", monitor)
            http["solo_new"], http["solo_replay"] = solo["new"], solo["replay"]
        finally:
            server.stop()
        http.update(
            workers=args.http_workers,
            scanners=args.scanners,
            check=ledger_check(ours, stock_id, sku_ids),
        )
        results["http"] = http
        for phase in ("new", "replay", "solo_new", "solo_replay"):
            show(f"http {phase}", http[phase])

        conditions = (
            f"Moves of 1 unit, receipts and deliveries 1:1 in a shuffled order, the same list "
            f"for every channel; the hot product starts with {args.hot_stock:,} units, the "
            f"{args.products:,} products with 1,000 each. JSON-RPC (ORM): {args.workers} "
            f"threads, one request per 1-line picking (create, confirm, reserve, set the "
            f"quantity, validate), retried on serialization failures up to 5 tries. AMQP: "
            f"{args.publishers} publisher threads with publisher confirms, persistent "
            f"messages, routing key = the product's internal reference, "
            f"`stock_command_consume` with its default batch size (a prefetch of 100 per "
            f"queue: a consumer of 4 queues may take up to 400 at once), timed from the "
            f"first publish to the last reply. HTTP: `odoo-bin -c <conf> -d <db> "
            f"--workers={args.http_workers} --max-cron-threads=0` (one database, no "
            f"--db-filter), {args.scanners} scanner threads × "
            f"{args.scans} single commands with fresh idempotency keys, one connection per "
            f"request, after an unmeasured warm-up; then the same keys again (and "
            f"{args.solo_scans} commands of one scanner alone, first). "
            f"{os.cpu_count()} CPUs shared by clients, Odoo and PostgreSQL, "
            f"Python {platform.python_version()}, "
            f"PostgreSQL and RabbitMQ on this machine; whole run "
            f"{(time.perf_counter() - wall) / 60:.0f} min. CPU cores: the mean number of "
            f"cores busy during each run, for the benchmark (its processes, the "
            f"PostgreSQL backends of its databases, RabbitMQ) and for other work on the "
            f"machine (it has {os.cpu_count()}): a figure measured while other work ran "
            f"shows it."
        )
        command_line = (
            "python3 -m bench.command_throughput" + (" --quick" if args.quick else "") + " --write"
        )
        body = report(results, conditions, command_line)
        publish("commands", body, args.write, lambda path: plot(results, path))
    finally:
        monitor.stop()
        if not args.keep:
            stack.drop_databases_with_prefix(prefix, Path(conf).parent / "data")
        print(f"==> {(time.perf_counter() - wall) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(main())
