# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A multi-worker load test over real HTTP (issue 12): ``odoo-bin
--workers=4`` with the three addons, loaded by real JSON-RPC, HTTP and AMQP
clients at a rate raised step by step until the errors or the p99 break,
once without and once with the dispatcher and the command consumer.

Setup: one database built from a template with stock_scalable,
stock_event_bus and stock_scalable_reporting (no demo data; 1 hot product
and N products with stock in WH/Stock, a user with an API key, the report
refresh cron every minute), copied once per phase. ``odoo-bin --workers=4
--max-cron-threads=1`` serves it; with ``--replica`` (the default when
tests/harness/standby.py is there and the primary accepts replication
connections) a ``HotStandby`` streams from the primary and odoo-bin gets
``--db_replica_host/--db_replica_port``, so report reads (read-only routes)
go to the replica.

Load, open loop (arrivals at the target rate whatever the answers, latency
counted from the planned start): 1-line receipts and deliveries created,
confirmed and validated over JSON-RPC as the web client does
(``/web/session/authenticate``, ``/web/dataset/call_kw``, ``call_button``,
backorder wizard answered), scanner commands over HTTP (``POST
/api/stock/commands``, Bearer API key, fresh idempotency keys, some copies
of a key sent again, some deliveries larger than the stock, to be refused),
AMQP commands on the command exchange (routing key = product reference,
``reply_to`` for the outcome; full phase only, nothing consumes them in the
baseline), and report reads (``web_read_group`` / ``web_search_read`` on
Stock Levels and Stock Movements, as the pivot and the list do). The rate
is in worker postings/s (JSON-RPC pickings + HTTP commands); report reads,
AMQP commands and replays come in proportion. Each step holds
``--step-seconds``, then the rate is multiplied by ``--rate-factor`` until a
step breaks (errors above ``--max-error-rate``, posting p99 above
``--posting-p99``, report p99 above ``--report-p99``, or under 90% of the
target done), or ``--duration`` is over.

Phases: ``baseline`` (no dispatcher, no consumer: events wait in the outbox)
and ``full`` (dispatcher publishing to a bench exchange whose bound queue is
drained and counted by event_id, consumer on its own command exchange).
After each phase, load stopped and outbox drained, it checks: on-hand equals
the ledger for every quant key, no negative quant in internal locations, one
event per posting (and in RabbitMQ, once per event_id), one posting per
idempotency key and per validated picking, and Stock Levels read through the
replica equal to a SQL aggregation of done move lines, before and after a
refresh. It prints PASS/FAIL per invariant and exits 1 on a FAIL.

It reports sustained postings/s (the highest step that held), p50/p95/p99
per operation, serialization retries (Odoo's log), CPU and memory per
process (psutil), with plots of throughput and latency over time. Goals: the
full phase sustains at least 80% of the baseline's worker postings/s, and
report reads from the replica keep p99 under 1 s.

    pip install -r requirements-bench.txt
    python3 -m bench.loadtest --write                           # 2 x 5 min + setup
    python3 -m bench.loadtest --duration 60 --step-seconds 10   # a short try
"""

import argparse
import contextlib
import json
import logging
import os
import platform
import sys
import time
import uuid
from pathlib import Path

from bench.lib import amqp_clients, cli, data, loadtest_report, logs
from bench.lib.amqp_clients import QUEUES
from bench.lib.data import query as sql
from bench.lib.invariants import invariants
from bench.lib.monitor import ProcessMonitor
from bench.lib.report import IMG, ROOT, replace_section
from bench.lib.steps import annotate_cpu, drive, step_latencies
from bench.lib.workload import Workload, warm_up
from tests.harness import odoo_conf, processes, stack

ADDONS = "stock_scalable,stock_event_bus,stock_scalable_reporting"

SEED_EXTRA = """
import datetime
from odoo import fields
warehouse = env["stock.warehouse"].search([], limit=1, order="id")
user = env["res.users"].create({
    "name": "Load Test", "login": "loadtest", "password": "loadtest",
    "groups_id": [(6, 0, [env.ref("base.group_user").id,
                          env.ref("stock.group_stock_manager").id])],
})
key = env["res.users.apikeys"].with_user(user)._generate(
    "rpc", "loadtest", datetime.datetime.now() + datetime.timedelta(days=2))
cron = env.ref("stock_scalable_reporting.ir_cron_refresh_reports")
cron.write({"interval_number": %(refresh)d, "interval_type": "minutes",
            "nextcall": fields.Datetime.now()})
# The seeded counts' events are not the phases' business.
env.cr.execute(
    "UPDATE stock_event_outbox SET state = 'sent', sent_at = now() WHERE state = 'pending'")
env.cr.commit()
print("SEED " + json.dumps({
    "key": key, "user_id": user.id, "cron_id": cron.id,
    "stock_id": warehouse.lot_stock_id.id, "stock": warehouse.lot_stock_id.complete_name,
    "in_type": warehouse.in_type_id.id, "out_type": warehouse.out_type_id.id,
    "supplier": env.ref("stock.stock_location_suppliers").id,
    "customer": env.ref("stock.stock_location_customers").id,
    "uom": env.ref("uom.product_uom_unit").id,
}))
"""


# ----------------------------------------------------------------------
# database
# ----------------------------------------------------------------------


def build_template(conf, name, products, hot_stock, stock, refresh_minutes):
    """The template database: the three addons without demo data, the
    seeded products (bench/lib/data.py's coded products), the load-test user, its API
    key and the refresh cron every ``refresh_minutes``."""
    print(f"==> building {name}: {ADDONS}, no demo data, {products + 1} products", flush=True)
    data.install(conf, name, ADDONS, without_demo=True)
    script = data.coded_products(products, hot_stock, stock) + SEED_EXTRA % {
        "refresh": refresh_minutes
    }
    seed, seeded = data.shell(conf, name, script, "SEED", "PRODUCTS")
    seed["products"] = [tuple(p) for p in seeded]
    return seed


# ----------------------------------------------------------------------
# a phase
# ----------------------------------------------------------------------


def open_replica(use):
    if not use:
        return contextlib.nullcontext(None)
    from tests.harness import standby  # noqa: PLC0415

    # A port outside the tests' range (5433-5439): its slot is named after it.
    return standby.HotStandby(port=processes.free_port())


def replica_possible():
    """``(bool, why not)``: tests/harness/standby.py is there and the primary
    takes replication connections from loopback."""
    import psycopg2  # noqa: PLC0415

    if not (ROOT / "tests" / "harness" / "standby.py").exists():
        return False, "tests/harness/standby.py is missing"
    level, senders = sql(
        "postgres",
        "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int",
        one=True,
    )
    if level not in ("replica", "logical") or senders < 1:
        return False, f"wal_level = {level}, max_wal_senders = {senders}"
    try:
        psycopg2.connect(
            dbname="postgres", replication="true", connect_timeout=5, **stack.pg_params()
        ).close()
    except psycopg2.OperationalError as exc:
        return False, str(exc).strip().splitlines()[0]
    return True, ""


def run_phase(phase, dbname, conf, seed, args, standby, logdir):
    """One phase: server (+ dispatcher and consumer when full), warm-up,
    the stepped load, drain, invariants."""
    import odoo.modules.module  # noqa: PLC0415

    from tests.harness.odoo_server import OdooServer  # noqa: PLC0415

    odoo.modules.module.initialize_sys_path()
    from odoo.addons.stock_event_bus.lib.command_consumer import (  # noqa: PLC0415
        declare_topology,
    )

    full = phase == "full"
    tag = uuid.uuid4().hex[:8]
    events_exchange, commands_exchange = f"loadtest.events.{tag}", f"loadtest.commands.{tag}"
    pconf = amqp_clients.command_conf(
        amqp_clients.event_conf(conf, events_exchange), commands_exchange
    )
    start_ids = dict(
        zip(
            ("outbox", "move_line", "move"),
            sql(
                dbname,
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM stock_event_outbox),"
                " (SELECT COALESCE(MAX(id), 0) FROM stock_move_line),"
                " (SELECT COALESCE(MAX(id), 0) FROM stock_move)",
                one=True,
            ),
            strict=True,
        )
    )
    connection = channel = counter = collector = dispatcher = consumer = server = None
    monitor = workload = None
    result = {"phase": phase}
    extra = [
        "--max-cron-threads=1",
        f"--gevent-port={processes.free_port()}",
        "--db-filter=",  # -d alone: Odoo does not list the databases per request
        "--log-handler=odoo.service.model:INFO",
        "--log-handler=odoo.addons.stock_scalable_reporting:INFO",
    ]
    if standby is not None:
        extra += ["--db_replica_host=127.0.0.1", f"--db_replica_port={standby.port}"]
        replica_before = standby.stats(dbname)
    pglog = logs.PostgresLog(dbname)
    try:
        if full:
            connection, channel, queue = amqp_clients.declare_event_queue(events_exchange)
            declare_topology(channel, commands_exchange, QUEUES)
            amqp_clients.map_broker_user(dbname)
            counter = amqp_clients.EventCounter(queue)
            counter.start()
            collector = amqp_clients.ReplyCollector()
            collector.start()
            dispatcher = logs.start_process(
                stack.dispatch_command(pconf, dbname, "--log-level=info"),
                Path(logdir, f"dispatch-{phase}.log"),
            )
            consumer = logs.start_process(
                stack.dispatch_command(
                    pconf, dbname, "--log-level=info", command="stock_command_consume"
                ),
                Path(logdir, f"consume-{phase}.log"),
            )
            amqp_clients.wait_for_consumers(channel, commands_exchange, [0], [consumer])
        print(
            f"==> {phase}: odoo-bin --workers={args.workers} --max-cron-threads=1"
            + (f", replica on port {standby.port}" if standby else "")
            + (", dispatcher and consumer" if full else ", no dispatcher, no consumer"),
            flush=True,
        )
        server = OdooServer(
            {"conf": str(pconf)}, dbname, Path(logdir), workers=args.workers, extra_args=extra
        )
        workload = Workload(
            phase, server.url, dbname, seed, args, commands_exchange if full else None, collector
        )
        warm_up(workload, args, full)
        labels = {}
        if dispatcher:
            labels = {"dispatcher": dispatcher.pid, "consumer": consumer.pid}
        monitor = ProcessMonitor(dbname, server.process.pid, labels, standby)
        monitor.start()
        workload.t0 = time.perf_counter()
        wall = time.perf_counter()
        steps = drive(workload, args, full)
        load_seconds = time.perf_counter() - wall
        if full:
            collector.wait(len(workload.amqp_sent), timeout=120)
        records = workload.all_records(final=True)
        result.update(steps=steps, records=records, load_seconds=load_seconds)
        held = [s for s in steps if not s["broke"]]
        best = held[-1] if held else None
        result["sustained"] = best
        if best:
            result["latency"] = step_latencies(records, best["index"])
            cpu_from, cpu_to = workload.t0 + best["start"], workload.t0 + best["end"]
        else:
            result["latency"] = step_latencies(records, 0)
            cpu_from, cpu_to = workload.t0 + steps[0]["start"], workload.t0 + steps[0]["end"]
        result["processes"], result["machine_cpu"] = monitor.summary(cpu_from, cpu_to)
        annotate_cpu(steps, monitor, workload.t0)
        print(f"==> {phase}: load stopped; draining", flush=True)
        if full:
            drain(dbname, counter, channel, queue)
        result["drained_outbox"] = sql(
            dbname,
            "SELECT COUNT(*) FILTER (WHERE state = 'pending'),"
            " COUNT(*) FILTER (WHERE state = 'failed') FROM stock_event_outbox WHERE id > %s",
            [start_ids["outbox"]],
            one=True,
        )
        result["checks"] = invariants(
            phase, dbname, seed, workload, counter, standby, start_ids, server.url
        )
        if standby is not None:
            after = standby.stats(dbname)
            result["replica"] = {
                "xacts": after["xacts"] - replica_before["xacts"],
                "report_scans": sum(after["scans"].values())
                - sum(replica_before["scans"].values()),
            }
        log_files = [server.log_path] + ([dispatcher.log_path, consumer.log_path] if full else [])
        result["logs"] = dict(logs.log_counts(log_files), **pglog.counts())
        result["log_paths"] = [str(p) for p in log_files]
        result["t0"] = workload.t0
        return result
    finally:
        if monitor is not None:
            monitor.stop()
        if workload is not None:
            workload.close()
        if server is not None:
            server.stop()
        for process in (dispatcher, consumer):
            if process is not None:
                processes.stop(process, timeout=30)
        if collector is not None:
            collector.stop()
        if counter is not None:
            counter.stop()
        if channel is not None:
            amqp_clients.delete_command_topology(channel, commands_exchange)
            channel.queue_delete(f"{events_exchange}.q")
            channel.exchange_delete(events_exchange)
            connection.close()


def drain(dbname, counter, channel, queue, timeout=180):
    """Until the outbox has nothing pending and the bench queue is empty and
    quiet for 2 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (pending,) = sql(
            dbname, "SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'pending'", one=True
        )
        ready = channel.queue_declare(queue, passive=True).method.message_count
        if not pending and not ready and time.monotonic() - counter.last > 2:
            return
        time.sleep(0.5)
    print("    the outbox or the queue did not drain in time", flush=True)


# ----------------------------------------------------------------------
# main
# ----------------------------------------------------------------------


def main():  # noqa: PLR0915
    parser = cli.parser(__doc__)
    parser.add_argument("--duration", type=float, default=300, help="seconds of load per phase")
    parser.add_argument("--step-seconds", type=float, default=30, help="length of a step")
    parser.add_argument(
        "--start-rate", type=float, default=2, help="worker postings/s of the first step"
    )
    parser.add_argument("--rate-factor", type=float, default=1.25, help="rate x this per step")
    parser.add_argument("--workers", type=int, default=4, help="odoo-bin --workers")
    parser.add_argument("--clients", type=int, default=48, help="client threads")
    parser.add_argument("--products", type=int, default=200, help="products besides the hot one")
    parser.add_argument("--hot-share", type=float, default=0.1, help="postings on the hot product")
    parser.add_argument(
        "--report-share", type=float, default=0.3, help="report reads per worker posting"
    )
    parser.add_argument(
        "--amqp-share", type=float, default=0.5, help="AMQP commands per worker posting (full)"
    )
    parser.add_argument(
        "--replay-share", type=float, default=0.1, help="HTTP commands sent again (same key)"
    )
    parser.add_argument(
        "--refused-share", type=float, default=0.02, help="HTTP deliveries above the stock"
    )
    parser.add_argument("--max-error-rate", type=float, default=0.01, help="a step breaks above")
    parser.add_argument("--posting-p99", type=float, default=2.0, help="seconds; breaks above")
    parser.add_argument("--report-p99", type=float, default=1.0, help="seconds; breaks above")
    parser.add_argument(
        "--phases", default="baseline,full", help="comma-separated: baseline, full"
    )
    parser.add_argument(
        "--replica",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="report reads through a hot standby (default: when possible)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument(
        "--template",
        help="reuse this template database of an earlier run (--keep) instead of building one",
    )
    args = cli.parse(parser, keep="keep the databases", rabbitmq=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
    possible, why = replica_possible()
    if args.replica is None:
        args.replica = possible
        if not possible:
            print(f"==> no replica: {why}", flush=True)
    elif args.replica and not possible:
        raise stack.StackError(f"--replica: {why}")
    conf = odoo_conf.bench_odoo_conf(db_maxconn=16, log_level="warn")
    logdir = conf.parent
    prefix = f"loadtest_{int(time.time())}"
    wall = time.perf_counter()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    results = []
    try:
        template = args.template or f"{prefix}_tpl"
        if args.template:
            seed = json.loads(
                sql(
                    "postgres",
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = %s",
                    [template],
                    one=True,
                )[0]
            )
            seed["products"] = [tuple(p) for p in seed["products"]]
        else:
            seed = build_template(conf, template, args.products, 1000, 1000, refresh_minutes=1)
            conn = stack.connect()
            with conn.cursor() as cr:
                cr.execute(
                    f'COMMENT ON DATABASE "{template}" IS %s',
                    [json.dumps(seed)],  # noqa: S608
                )
            conn.close()
        for phase in phases:
            stack.copy_database(template, f"{prefix}_{phase}", Path(logdir, "data"))
        # One standby for both phases (it copies the whole cluster).
        with open_replica(args.replica) as standby:
            for phase in phases:
                results.append(
                    run_phase(phase, f"{prefix}_{phase}", conf, seed, args, standby, logdir)
                )
        replica = (
            "report reads through a hot standby (tests/harness/standby.py)"
            if args.replica
            else "no replica"
        )
        conditions = (
            f"`odoo-bin --workers={args.workers} --max-cron-threads=1` (report refresh cron "
            f"every minute), {replica}; "
            f"{args.products} products of 1,000 units and a hot one ({args.hot_share:.0%} of the "
            f"postings), 1-unit receipts and deliveries 1:1; per worker posting "
            f"{args.report_share:g} report reads, {args.amqp_share:g} AMQP commands (full "
            f"phase), {args.replay_share:.0%} of HTTP commands sent again with the same key, "
            f"{args.refused_share:.0%} of HTTP deliveries above the stock (refused); "
            f"{args.clients} client threads in this process, arrivals evenly spaced, steps of "
            f"{args.step_seconds:g} s from {args.start_rate:g} postings/s ×{args.rate_factor:g}, "
            f"at most {args.duration:g} s per phase. {os.cpu_count()} CPUs shared by the "
            f"clients, Odoo, PostgreSQL and RabbitMQ, Python {platform.python_version()}; whole "
            f"run {(time.perf_counter() - wall) / 60:.0f} min."
        )
        defaults = parser.parse_args([])
        shown = [
            f"--{k.replace('_', '-')} {v:g}"
            if isinstance(v, float | int)
            else f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if isinstance(v, float | int | str)
            and not isinstance(v, bool)
            and v != getattr(defaults, k)
        ]
        command_line = " ".join(
            ["python3 -m bench.loadtest", *shown, *(["--write"] if args.write else [])]
        )
        body = loadtest_report.report(results, args, conditions, command_line)
        print()
        print(body)
        loadtest_report.plot(results, Path(logdir, "loadtest.png"))
        print(f"==> plot: {Path(logdir, 'loadtest.png')}")
        if args.write:
            loadtest_report.plot(results, IMG / "loadtest.png")
            replace_section("loadtest", body)
            scaling = ROOT / "docs" / "scaling.md"
            if scaling.exists():
                replace_section(
                    "loadtest", loadtest_report.scaling_summary(results, command_line), doc=scaling
                )
            print("==> wrote docs/benchmarks.md, docs/scaling.md and docs/img/loadtest.png")
        failed = [c for r in results for c in r["checks"] if not c["ok"]]
        print(
            f"==> invariants: {sum(len(r['checks']) for r in results) - len(failed)} PASS, "
            f"{len(failed)} FAIL; logs: {', '.join(p for r in results for p in r['log_paths'])}"
        )
        return 1 if failed else 0
    finally:
        if not args.keep:
            stack.drop_databases_with_prefix(prefix, Path(logdir, "data"))
        print(f"==> {(time.perf_counter() - wall) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(main())
