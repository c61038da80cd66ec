#!/usr/bin/env python3
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
scripts/pgstandby.py is there and the primary accepts replication
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
    bench/loadtest.py --write                           # 2 x 5 min + setup
    bench/loadtest.py --duration 60 --step-seconds 10   # a short try
"""

import collections
import concurrent.futures
import contextlib
import itertools
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "bench")]

import benchdocs  # noqa: E402
import commands  # noqa: E402
import event_bus  # noqa: E402
import stacklib  # noqa: E402

ADDONS = "stock_scalable,stock_event_bus,stock_scalable_reporting"
POSTING_OPS = ("picking", "http_command", "amqp_command")
WORKER_POSTING_OPS = ("picking", "http_command")
REPORT_OPS = ("report_levels_pivot", "report_levels_list", "report_movements_pivot")
# Outcomes that are answers, not errors: a refusal by the negative-stock
# guard (the over-deliveries sent on purpose) and "being posted, send it
# again" for a copy of a key sent while its first is still running.
EXPECTED = ("ok", "refused", "in_progress")
# Odoo's RPC layer (odoo/service/model.py, retrying()) logs each retried
# concurrency failure at INFO: "SERIALIZATION_FAILURE, 4 tries left, try
# again in 0.1234 sec..." and gives up with "..., maximum number of tries
# reached!"; odoo/http.py logs a read-only request that wrote (replayed on
# the primary); the command runner logs the commands it gave up on.
LOG_PATTERNS = {
    "retried (serialization failure)": re.compile(r"SERIALIZATION_FAILURE, \d+ tries left"),
    "retried (deadlock)": re.compile(r"DEADLOCK_DETECTED, \d+ tries left"),
    "retried (lock not available)": re.compile(r"LOCK_NOT_AVAILABLE, \d+ tries left"),
    "gave up after 5 tries": re.compile(r"maximum number of tries reached"),
    "read-only request replayed read/write": re.compile(r"retrying with a read/write cursor"),
    "commands answered in_progress after 10 tries": re.compile(r"answered in_progress"),
    "tracebacks": re.compile(r"^Traceback", re.M),
}

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
    seeded products (bench/commands.py's seed), the load-test user, its API
    key and the refresh cron every ``refresh_minutes``."""
    env = stacklib.odoo_env()
    print(f"==> building {name}: {ADDONS}, no demo data, {products + 1} products", flush=True)
    subprocess.run(
        stacklib.odoo_command()
        + ["-c", str(conf), "-d", name, "-i", ADDONS, "--without-demo=all", "--stop-after-init"],
        env=env,
        check=True,
        capture_output=True,
    )
    script = commands.SEED_PRODUCTS % {
        "products": products,
        "hot_stock": hot_stock,
        "sku_stock": stock,
    } + SEED_EXTRA % {"refresh": refresh_minutes}
    out = subprocess.run(
        stacklib.odoo_command() + ["shell", "-c", str(conf), "-d", name, "--no-http"],
        input=script,
        text=True,
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    seed = json.loads(out.split("SEED ", 1)[1].splitlines()[0])
    seed["products"] = [tuple(p) for p in json.loads(out.split("PRODUCTS ", 1)[1].splitlines()[0])]
    return seed


def sql(dbname, query, params=None, one=False):
    conn = stacklib.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchone() if one else cr.fetchall()
    finally:
        conn.close()


# ----------------------------------------------------------------------
# clients
# ----------------------------------------------------------------------


class RpcError(Exception):
    def __init__(self, code, message=""):
        super().__init__(f"{code}: {message}")
        self.code = code


class JsonRpc:
    """A web-client session: authenticate once, then JSON-RPC calls."""

    def __init__(self, url, db, login, password):
        import requests  # noqa: PLC0415 - installed with Odoo

        self.url, self.http, self.ids = url, requests.Session(), itertools.count(1)
        result = self._post(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        self.uid, self.context = result["uid"], result["user_context"]

    def _post(self, path, params):
        response = self.http.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "id": next(self.ids), "params": params},
            timeout=300,
        )
        if response.status_code != 200:
            raise RpcError(f"http_{response.status_code}", response.text[:200])
        body = response.json()
        if "error" in body:
            data = body["error"].get("data") or {}
            name = (data.get("name") or body["error"].get("message") or "error").rsplit(".", 1)
            raise RpcError(name[-1], data.get("message", ""))
        return body["result"]

    def call(self, model, method, *args, button=False, **kwargs):
        kwargs.setdefault("context", self.context)
        route = "call_button" if button else "call_kw"
        return self._post(
            f"/web/dataset/{route}/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


class EventCounter(threading.Thread):
    """Drains the bench queue bound to the event exchange and counts every
    delivery by event_id (no deduplication: duplicates must show)."""

    def __init__(self, queue):
        super().__init__(daemon=True)

        self.connection = stacklib.amqp_connection()
        self.channel = self.connection.channel()
        self.channel.basic_qos(prefetch_count=1000)
        self.queue = queue
        self.counts = collections.Counter()
        self.last = time.monotonic()
        self.stopping = False

    def run(self):
        def on_message(_channel, _method, _properties, body):
            self.counts[json.loads(body)["event_id"]] += 1
            self.last = time.monotonic()

        self.channel.basic_consume(self.queue, on_message, auto_ack=True)
        while not self.stopping:
            self.connection.process_data_events(time_limit=0.2)

    def stop(self):
        self.stopping = True
        self.join(10)
        self.connection.close()


class ProcessMonitor(threading.Thread):
    """CPU % (of one core) and RSS of each process of the stack, sampled with
    psutil every second: odoo-bin's main process, its workers (the cron
    worker is the one that lowered its priority), the dispatcher, the
    consumer, the PostgreSQL backends of the database (pg_stat_activity),
    the standby's processes, RabbitMQ (the process listening on the AMQP
    port) and this load generator; plus the whole machine's CPU."""

    def __init__(self, dbname, server_pid, extra, standby=None):
        import psutil  # noqa: PLC0415

        super().__init__(daemon=True)
        self.psutil = psutil
        self.dbname, self.server_pid, self.extra = dbname, server_pid, dict(extra)
        self.standby = standby
        self.cache, self.workers = {}, {}
        self.samples = []  # (t, {label: (cpu %, rss bytes)}, machine cpu %)
        self.stopping = threading.Event()
        self.rabbit = self._listener(int(stacklib.amqp_url().rsplit(":", 1)[1].split("/")[0]))
        self.conn = stacklib.connect()
        psutil.cpu_percent()

    def _listener(self, port):
        for conn in self.psutil.net_connections(kind="tcp"):
            if conn.status == "LISTEN" and conn.laddr.port == port and conn.pid:
                return conn.pid
        return None

    def _proc(self, pid):
        process = self.cache.get(pid)
        if process is None:
            process = self.cache[pid] = self.psutil.Process(pid)
            process.cpu_percent()
        return process

    def _groups(self):
        groups = collections.defaultdict(list)
        groups["odoo-bin main"].append(self.server_pid)
        with self.conn.cursor() as cr:
            cr.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.dbname])
            backends = [pid for (pid,) in cr.fetchall()]
        with contextlib.suppress(self.psutil.Error):
            for child in self.psutil.Process(self.server_pid).children():
                if child.nice() == 10:  # WorkerCron.start(): os.nice(10)
                    groups["odoo cron worker"].append(child.pid)
                elif "gevent" in child.cmdline():
                    groups["odoo gevent (websocket) process"].append(child.pid)
                else:
                    number = self.workers.setdefault(child.pid, len(self.workers) + 1)
                    groups[f"odoo HTTP worker #{number}"].append(child.pid)
        groups["postgres backends (this db)"] = backends
        for label, pid in self.extra.items():
            groups[label].append(pid)
        if self.rabbit:
            groups["rabbitmq (beam)"].append(self.rabbit)
        if self.standby is not None and self.standby.data_dir:
            with contextlib.suppress(OSError, ValueError, self.psutil.Error):
                pid = int((self.standby.data_dir / "postmaster.pid").read_text().split()[0])
                groups["postgres standby (all)"] = [pid] + [
                    c.pid for c in self.psutil.Process(pid).children()
                ]
        groups["load generator (this)"].append(os.getpid())
        return groups

    def sample(self):
        figures = {}
        for label, pids in self._groups().items():
            cpu = rss = 0.0
            for pid in pids:
                try:
                    process = self._proc(pid)
                    cpu += process.cpu_percent()
                    rss += process.memory_info().rss
                except self.psutil.Error:
                    self.cache.pop(pid, None)
            figures[label] = (cpu, rss)
        machine = self.psutil.cpu_percent() * self.psutil.cpu_count()
        figures["other processes of the machine"] = (
            max(machine - sum(cpu for cpu, _rss in figures.values()), 0.0),
            0.0,
        )
        self.samples.append((time.perf_counter(), figures, machine))

    def run(self):
        while not self.stopping.wait(1.0):
            with contextlib.suppress(Exception):
                self.sample()

    def stop(self):
        self.stopping.set()
        self.join(5)
        self.conn.close()

    def summary(self, start=None, end=None):
        """``{label: {"cpu": mean %, "rss_mb": peak MB}}`` over [start, end]
        (perf_counter), plus ``machine`` (mean % of one core, all processes)."""
        rows = [s for s in self.samples if (start is None or s[0] >= start)]
        rows = [s for s in rows if end is None or s[0] <= end] or self.samples[-1:]
        labels = sorted({label for _t, figures, _m in rows for label in figures})
        out = {}
        for label in labels:
            values = [figures.get(label, (0.0, 0.0)) for _t, figures, _m in rows]
            out[label] = {
                "cpu": statistics.fmean(v[0] for v in values),
                "rss_mb": max(v[1] for v in values) / 2**20,
            }
        machine = statistics.fmean(m for _t, _f, m in rows) if rows else 0.0
        return out, machine


# ----------------------------------------------------------------------
# the workload
# ----------------------------------------------------------------------


class Workload:
    """The operations of one phase, each run by a pool thread with its own
    web session and AMQP channel, and the record of every request."""

    def __init__(self, phase, url, dbname, seed, args, amqp_exchange=None, collector=None):
        self.phase, self.url, self.dbname, self.seed, self.args = phase, url, dbname, seed, args
        self.amqp_exchange, self.collector = amqp_exchange, collector
        self.rng = random.Random(f"{args.seed}-{phase}")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.records = []  # dicts: op, step, sched, start, end, outcome
        self.inflight = {}
        self.amqp_sent = {}  # key -> (step, sched, published)
        self.first_answers = {}  # HTTP key -> (status, document)
        self.replay_mismatches = []
        self.sessions = []
        self.counter = itertools.count(1)
        self.products = seed["products"]
        self.t0 = time.perf_counter()
        # One pool for the warm-up and the load: each thread keeps its session.
        self.pool = ThreadPoolExecutor(max_workers=args.clients, thread_name_prefix="client")

    # -- per-thread clients ------------------------------------------------

    def rpc(self):
        if getattr(self.local, "rpc", None) is None:
            self.local.rpc = JsonRpc(self.url, self.dbname, "loadtest", "loadtest")
            with self.lock:
                self.sessions.append(self.local.rpc)
        return self.local.rpc

    def amqp(self):
        if getattr(self.local, "channel", None) is None or not self.local.channel.is_open:
            connection = stacklib.amqp_connection()
            self.local.channel = connection.channel()
            self.local.channel.confirm_delivery()
            with self.lock:
                self.sessions.append(connection)
        return self.local.channel

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)
        for session in self.sessions:
            with contextlib.suppress(Exception):
                session.close()

    # -- planning -------------------------------------------------------------

    def pick(self):
        """(kind, quantity, (product id, code)): receipts and deliveries 1:1,
        ``--hot-share`` of them on the hot product."""
        hot = self.rng.random() < self.args.hot_share
        product = self.products[0] if hot else self.rng.choice(self.products[1:])
        return self.rng.choice(("receive", "deliver")), 1, product

    def mix(self, full):
        """[(op, weight)], weights per worker posting."""
        mix = [("picking", 0.5), ("http_command", 0.5)]
        mix += [(op, self.args.report_share / len(REPORT_OPS)) for op in REPORT_OPS]
        if full:
            mix.append(("amqp_command", self.args.amqp_share))
        return mix

    # -- recording --------------------------------------------------------------

    def now(self):
        return time.perf_counter() - self.t0

    def record(self, op, step, sched, start, outcome, end=None):
        with self.lock:
            self.records.append(
                {
                    "op": op,
                    "step": step,
                    "sched": sched,
                    "start": start,
                    "end": self.now() if end is None else end,
                    "outcome": outcome,
                }
            )

    def run(self, op, step, sched, token):
        try:
            getattr(self, f"op_{op.split('_', 1)[0] if op.startswith('report') else op}")(
                op, step, sched
            )
        except Exception as exc:  # noqa: BLE001 - a client failure is an outcome
            code = exc.code if isinstance(exc, RpcError) else type(exc).__name__
            self.record(op, step, sched, sched, f"error:{code}")
        finally:
            with self.lock:
                self.inflight.pop(token, None)

    # -- operations -------------------------------------------------------------

    def op_picking(self, op, step, sched):
        """Create, confirm and validate a 1-line receipt or delivery as the
        web client does; each request is recorded too (rpc_*)."""
        rpc = self.rpc()
        kind, qty, (product_id, code) = self.pick()
        s = self.seed
        src, dest, ptype = (
            (s["supplier"], s["stock_id"], s["in_type"])
            if kind == "receive"
            else (s["stock_id"], s["customer"], s["out_type"])
        )
        origin = f"lt-{self.phase}-p-{next(self.counter)}"
        start = self.now()
        outcome = "ok"
        try:
            t = self.now()
            [picking] = rpc.call(
                "stock.picking",
                "web_save",
                [],
                {
                    "picking_type_id": ptype,
                    "location_id": src,
                    "location_dest_id": dest,
                    "origin": origin,
                    "move_ids": [
                        [
                            0,
                            0,
                            {
                                "name": code,
                                "product_id": product_id,
                                "product_uom_qty": qty,
                                "product_uom": s["uom"],
                                "location_id": src,
                                "location_dest_id": dest,
                            },
                        ]
                    ],
                },
                specification={"state": {}, "name": {}},
            )
            self.record("rpc_create", step, t, t, "ok")
            t = self.now()
            rpc.call("stock.picking", "action_confirm", [picking["id"]], button=True)
            self.record("rpc_confirm", step, t, t, "ok")
            t = self.now()
            result = rpc.call("stock.picking", "button_validate", [picking["id"]], button=True)
            if isinstance(result, dict) and result.get("res_model"):
                # A question (backorder): answered as a user would, no backorder.
                wizard = rpc.call(
                    result["res_model"],
                    "web_save",
                    [],
                    {"pick_ids": [[4, picking["id"]]]},
                    specification={},
                    context=dict(rpc.context, **(result.get("context") or {})),
                )
                rpc.call(
                    result["res_model"],
                    "process_cancel_backorder",
                    [wizard[0]["id"]],
                    button=True,
                    context=dict(rpc.context, **(result.get("context") or {})),
                )
            self.record("rpc_validate", step, t, t, "ok")
        except RpcError as exc:
            outcome = "refused" if exc.code in ("UserError", "ValidationError") else None
            if outcome is None:
                raise
        self.record(op, step, sched, start, outcome)

    def op_http_command(self, op, step, sched, command=None):
        kind, qty, (_product_id, code) = self.pick()
        replay = command is not None
        if command is None:
            if kind == "deliver" and self.rng.random() < self.args.refused_share:
                qty = 1_000_000  # more than there is: the guard refuses it
            command = {
                "idempotency_key": f"lt-{self.phase}-h-{next(self.counter)}",
                "type": kind,
                "product": code,
                "quantity": qty,
            }
            command["location" if kind == "deliver" else "location_dest"] = self.seed["stock"]
        start = self.now()
        status, answer, _seconds = commands.post_command(self.url, self.seed["key"], command)
        end = self.now()
        code_ = (answer.get("error") or {}).get("code")
        if status == 200:
            outcome = "ok"
        elif status == 422 and code_ == "insufficient_stock":
            outcome = "refused"
        elif status == 409 or code_ == "in_progress":
            outcome = "in_progress"
        else:
            outcome = f"error:{status}:{code_}"
        key = command["idempotency_key"]
        seen = (status, answer.get("document"), answer.get("status"))
        with self.lock:
            if outcome in ("ok", "refused"):
                first = self.first_answers.setdefault(key, seen)
                if replay and first != seen:
                    self.replay_mismatches.append((key, first, seen))
        self.record("http_replay" if replay else op, step, sched, start, outcome, end)
        if not replay and self.rng.random() < self.args.replay_share:
            # The scanner did not get the answer and sends the same key again.
            time.sleep(self.rng.uniform(0.0, 1.0))
            self.op_http_command(op, step, self.now(), command)

    def op_amqp_command(self, op, step, sched):
        import pika  # noqa: PLC0415

        kind, qty, (_product_id, code) = self.pick()
        key = f"lt-{self.phase}-a-{next(self.counter)}"
        command = {"idempotency_key": key, "type": kind, "product": code, "quantity": qty}
        command["location" if kind == "deliver" else "location_dest"] = self.seed["stock"]
        start = self.now()
        self.amqp().basic_publish(
            self.amqp_exchange,
            code,
            json.dumps(command),
            pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                message_id=key,
                correlation_id=key,
                reply_to=self.collector.queue,
                user_id=commands.broker_user(),
            ),
        )
        with self.lock:
            self.amqp_sent[key] = (step, sched, start)

    def op_report(self, op, step, sched):
        rpc = self.rpc()
        start = self.now()
        if op == "report_levels_pivot":
            rpc.call(
                "stock.level.report",
                "web_read_group",
                [],
                ["quantity:sum", "reserved_quantity:sum", "available_quantity:sum"],
                ["product_id"],
                lazy=False,
            )
        elif op == "report_levels_list":
            rpc.call(
                "stock.level.report",
                "web_search_read",
                [],
                {
                    "product_id": {"fields": {"display_name": {}}},
                    "location_id": {"fields": {"display_name": {}}},
                    "quantity": {},
                    "reserved_quantity": {},
                    "available_quantity": {},
                    "last_movement_date": {},
                },
                limit=80,
                count_limit=10001,
            )
        else:
            rpc.call(
                "stock.movement.report",
                "web_read_group",
                [],
                ["qty_in:sum", "qty_out:sum", "move_count:sum"],
                ["date:month", "movement_type"],
                lazy=False,
            )
        self.record(op, step, sched, start, "ok")

    # -- AMQP outcomes ------------------------------------------------------------

    def amqp_records(self, final=False):
        """Records of the AMQP commands answered (and, when ``final``, of
        those never answered: error:no_reply)."""
        out = []
        replies = dict(self.collector.replies) if self.collector else {}
        with self.lock:
            sent = dict(self.amqp_sent)
        for key, (step, sched, start) in sent.items():
            if key in replies:
                when, answer = replies[key]
                status = answer.get("status")
                code = (answer.get("error") or {}).get("code")
                outcome = (
                    "ok"
                    if status == "done"
                    else "refused"
                    if code == "insufficient_stock"
                    else f"error:{code or status}"
                )
                out.append(
                    {
                        "op": "amqp_command",
                        "step": step,
                        "sched": sched,
                        "start": start,
                        "end": when - self.t0,
                        "outcome": outcome,
                    }
                )
            elif final:
                out.append(
                    {
                        "op": "amqp_command",
                        "step": step,
                        "sched": sched,
                        "start": start,
                        "end": None,
                        "outcome": "error:no_reply",
                    }
                )
        return out

    def all_records(self, final=False):
        with self.lock:
            records = list(self.records)
        return records + self.amqp_records(final)


def step_figures(records, step, seconds, planned, pending=(), now=None):
    """The figures of one step: per-op latencies from the planned start,
    errors, postings/s done; ``planned``: the worker postings planned in the
    step; ``pending``: (op, sched) still running, counted with their age."""
    mine = [r for r in records if r["step"] == step]
    lat = collections.defaultdict(list)
    errors = collections.Counter()
    for r in mine:
        if r["end"] is not None:
            lat[r["op"]].append(r["end"] - r["sched"])
        if r["outcome"] not in EXPECTED:
            errors[r["outcome"]] += 1
    for op, sched in pending:
        lat[op].append(now - sched)
    done = collections.Counter(r["op"] for r in mine if r["outcome"] == "ok")
    answered = sum(
        1 for r in mine if r["op"] in WORKER_POSTING_OPS and r["outcome"] in ("ok", "refused")
    )
    requests = len(mine) + len(pending)
    return {
        "latency": {op: commands.quantiles(v) for op, v in lat.items()},
        "count": {op: len(v) for op, v in lat.items()},
        "errors": dict(errors),
        "error_rate": sum(errors.values()) / max(requests, 1),
        "worker_postings": sum(done[op] for op in WORKER_POSTING_OPS) / seconds,
        "amqp_postings": done["amqp_command"] / seconds,
        "answered_share": answered / max(planned, 1),
    }


def verdict(figures, args):
    """None if the step held, else why it broke."""
    reasons = []
    if figures["error_rate"] > args.max_error_rate:
        reasons.append(f"errors {figures['error_rate']:.1%} ({figures['errors']})")
    for op in POSTING_OPS:
        p99 = figures["latency"].get(op, {}).get("p99", 0.0)
        if p99 > args.posting_p99:
            reasons.append(f"{op} p99 {p99:.2f} s")
    for op in REPORT_OPS:
        p99 = figures["latency"].get(op, {}).get("p99", 0.0)
        if p99 > args.report_p99:
            reasons.append(f"{op} p99 {p99:.2f} s")
    if figures["answered_share"] < 0.9:
        reasons.append(f"{figures['answered_share']:.0%} of the planned postings answered")
    return "; ".join(reasons) or None


class Mix:
    """Smooth weighted round robin: the operations in their proportions,
    evenly spread, the same sequence every run."""

    def __init__(self, weights):
        self.weights = dict(weights)
        self.credit = dict.fromkeys(self.weights, 0.0)
        self.total = sum(self.weights.values())

    def next(self):
        for op, weight in self.weights.items():
            self.credit[op] += weight
        op = max(self.credit, key=self.credit.get)
        self.credit[op] -= self.total
        return op


def drive(workload, args, full):
    """The open-loop rate controller: arrivals evenly spaced at the step's
    rate (whatever the answers), raised by --rate-factor each step until a
    step breaks or --duration is over. A step is judged --posting-p99
    seconds after it ends (its last requests get that long), while the next
    one runs; when it broke, the load stops there. Returns the judged steps
    [{rate, start, end, planned, figures, broke}]."""
    mix = Mix(workload.mix(full))
    futures = []
    grace = args.posting_p99
    steps, rate, step = [], args.start_rate, 0
    judged = None  # the step waiting to be judged

    def judge(entry):
        now = workload.now()
        n = entry["index"]
        with workload.lock:
            pending = [(op, sched) for op, s, sched in workload.inflight.values() if s == n]
            sent = list(workload.amqp_sent.items())
        replies = workload.collector.replies if workload.collector else {}
        pending += [
            ("amqp_command", sched)
            for key, (s, sched, _start) in sent
            if s == n and key not in replies
        ]
        figures = step_figures(
            workload.all_records(), n, args.step_seconds, entry["planned"], pending, now
        )
        entry.update(figures=figures, broke=verdict(figures, args))
        steps.append(entry)
        lat = figures["latency"]
        print(
            f"    step {n + 1}: {entry['rate']:5.1f} postings/s planned, "
            f"{figures['worker_postings']:5.1f} done (+{figures['amqp_postings']:.1f} AMQP)"
            f", errors {figures['error_rate']:.1%}, p99 "
            + ", ".join(f"{op} {lat[op]['p99']:.2f}" for op in sorted(lat) if op in POSTING_OPS)
            + f", reports {max((lat[op]['p99'] for op in REPORT_OPS if op in lat), default=0):.2f}"
            + (f"  BROKE: {entry['broke']}" if entry["broke"] else ""),
            flush=True,
        )
        return entry["broke"]

    try:
        stop = False
        while not stop and workload.now() + args.step_seconds <= args.duration + 1e-6:
            start = workload.now()
            end = start + args.step_seconds
            interval = 1.0 / (rate * mix.total)
            entry = {"index": step, "rate": rate, "start": start, "end": end, "planned": 0}
            k = 0
            while True:
                at = start + (k + 0.5) * interval
                k += 1
                if at >= end:
                    break
                if judged is not None and workload.now() >= judged["end"] + grace:
                    stop = bool(judge(judged))
                    judged = None
                    if stop:
                        break
                delay = at - workload.now()
                if delay > 0:
                    time.sleep(delay)
                op = mix.next()
                entry["planned"] += op in WORKER_POSTING_OPS
                token = object()
                with workload.lock:
                    workload.inflight[token] = (op, step, at)
                futures.append(workload.pool.submit(workload.run, op, step, at, token))
            if stop:
                break
            judged = entry
            rate *= args.rate_factor
            step += 1
        if judged is not None:
            delay = judged["end"] + grace - workload.now()
            if delay > 0:
                time.sleep(delay)
            judge(judged)
    finally:
        concurrent.futures.wait(futures, timeout=300)
    return steps


# ----------------------------------------------------------------------
# a phase
# ----------------------------------------------------------------------


def open_replica(use):
    if not use:
        return contextlib.nullcontext(None)
    import pgstandby  # noqa: PLC0415

    # A port outside the tests' range (5433-5439): its slot is named after it.
    return pgstandby.HotStandby(port=commands._free_port())


def replica_possible():
    """``(bool, why not)``: scripts/pgstandby.py is there and the primary
    takes replication connections from loopback."""
    import psycopg2  # noqa: PLC0415

    if not (ROOT / "scripts" / "pgstandby.py").exists():
        return False, "scripts/pgstandby.py is missing"
    level, senders = sql(
        "postgres",
        "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int",
        one=True,
    )
    if level not in ("replica", "logical") or senders < 1:
        return False, f"wal_level = {level}, max_wal_senders = {senders}"
    try:
        psycopg2.connect(
            dbname="postgres", replication="true", connect_timeout=5, **stacklib.pg_params()
        ).close()
    except psycopg2.OperationalError as exc:
        return False, str(exc).strip().splitlines()[0]
    return True, ""


class PostgresLog:
    """The concurrency errors PostgreSQL logged for one database while a
    phase ran (its server log, when this machine's Debian cluster writes one
    we can read): every serialization failure and deadlock, including the
    command runner's replays, which it does not log itself."""

    PATTERNS = {
        "serialization failures (PostgreSQL log)": "ERROR:  could not serialize access",
        "deadlocks (PostgreSQL log)": "ERROR:  deadlock detected",
    }

    def __init__(self, dbname):
        self.dbname = dbname
        (major,) = sql(
            "postgres", "SELECT current_setting('server_version_num')::int / 10000", one=True
        )
        self.path = Path(
            os.environ.get("PGLOG", f"/var/log/postgresql/postgresql-{major}-main.log")
        )
        self.offset = self.path.stat().st_size if self.path.is_file() else None

    def counts(self):
        if self.offset is None:
            return {}
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
        mine = [line for line in text.splitlines() if f"@{self.dbname} " in line]
        return {
            label: sum(pattern in line for line in mine)
            for label, pattern in self.PATTERNS.items()
        }


def log_counts(paths):
    counts = collections.Counter()
    for path in paths:
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        for label, pattern in LOG_PATTERNS.items():
            counts[label] += len(pattern.findall(text))
    return dict(counts)


def start_process(cmd, log):
    with log.open("w") as handle:
        process = subprocess.Popen(
            cmd, stdout=handle, stderr=subprocess.STDOUT, env=stacklib.odoo_env()
        )
    process.log_path = log
    return process


def stop_process(process):
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_phase(phase, dbname, conf, seed, args, standby, logdir):
    """One phase: server (+ dispatcher and consumer when full), warm-up,
    the stepped load, drain, invariants."""
    from odoo_server import OdooServer  # noqa: PLC0415

    import odoo.modules.module  # noqa: PLC0415

    odoo.modules.module.initialize_sys_path()
    from odoo.addons.stock_event_bus.lib.command_consumer import (  # noqa: PLC0415
        declare_topology,
    )

    full = phase == "full"
    tag = uuid.uuid4().hex[:8]
    events_exchange, commands_exchange = f"loadtest.events.{tag}", f"loadtest.commands.{tag}"
    pconf = commands.bus_conf(event_bus.bench_conf(conf, events_exchange), commands_exchange)
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
        f"--gevent-port={commands._free_port()}",
        "--db-filter=",  # -d alone: Odoo does not list the databases per request
        "--log-handler=odoo.service.model:INFO",
        "--log-handler=odoo.addons.stock_scalable_reporting:INFO",
    ]
    if standby is not None:
        extra += ["--db_replica_host=127.0.0.1", f"--db_replica_port={standby.port}"]
        replica_before = standby.stats(dbname)
    pglog = PostgresLog(dbname)
    try:
        if full:
            connection, channel, queue = event_bus.declare_queue(events_exchange)
            declare_topology(channel, commands_exchange, commands.QUEUES)
            commands.map_broker_user(dbname)
            counter = EventCounter(queue)
            counter.start()
            collector = commands.ReplyCollector()
            collector.start()
            dispatcher = start_process(
                stacklib.dispatch_command(pconf, dbname, "--log-level=info"),
                Path(logdir, f"dispatch-{phase}.log"),
            )
            consumer = start_process(
                stacklib.dispatch_command(
                    pconf, dbname, "--log-level=info", command="stock_command_consume"
                ),
                Path(logdir, f"consume-{phase}.log"),
            )
            commands.wait_for_consumers(channel, commands_exchange, [0], [consumer])
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
        logs = [server.log_path] + ([dispatcher.log_path, consumer.log_path] if full else [])
        result["logs"] = dict(log_counts(logs), **pglog.counts())
        result["log_paths"] = [str(p) for p in logs]
        result["t0"] = workload.t0
        return result
    finally:
        if monitor is not None:
            monitor.stop()
        if workload is not None:
            workload.close()
        if server is not None:
            server.stop()
        stop_process(dispatcher)
        stop_process(consumer)
        if collector is not None:
            collector.stop()
        if counter is not None:
            counter.stop()
        if channel is not None:
            for name in [f"{commands_exchange}.{i}" for i in range(commands.QUEUES)]:
                channel.queue_delete(name)
            channel.queue_delete(f"{commands_exchange}.dead")
            channel.queue_delete(f"{events_exchange}.q")
            for name in (f"{commands_exchange}.dlx", commands_exchange, events_exchange):
                channel.exchange_delete(name)
            connection.close()


def annotate_cpu(steps, monitor, t0):
    """The machine's CPU during each step, and how much other work took."""
    for entry in steps:
        procs, machine = monitor.summary(t0 + entry["start"], t0 + entry["end"])
        entry["machine_cpu"] = machine
        entry["other_cpu"] = procs.get("other processes of the machine", {}).get("cpu", 0.0)


def warm_up(workload, args, full, rounds=6):
    """Every pool thread opens its web session (and AMQP channel), then each
    operation runs ``rounds`` times, concurrently so that every worker
    fills its caches; unmeasured (step -1), but checked by the invariants."""
    barrier = threading.Barrier(args.clients)

    def open_session():
        barrier.wait(60)
        workload.rpc()
        if full:
            workload.amqp()

    ops = ["picking", "http_command", *REPORT_OPS] + (["amqp_command"] if full else [])
    pool = workload.pool
    for future in [pool.submit(open_session) for _ in range(args.clients)]:
        future.result()
    for future in [
        pool.submit(workload.run, op, -1, workload.now(), object()) for op in ops * rounds
    ]:
        future.result()
    if full:
        workload.collector.wait(len(workload.amqp_sent), timeout=60)
    bad = [r for r in workload.all_records(final=True) if r["outcome"] not in EXPECTED]
    if bad:
        raise RuntimeError(f"warm-up failed: {bad[:3]}")


def step_latencies(records, step):
    lat = collections.defaultdict(list)
    for r in records:
        if r["step"] == step and r["end"] is not None:
            lat[r["op"]].append(r["end"] - r["sched"])
    return {op: dict(commands.quantiles(v), count=len(v)) for op, v in lat.items()}


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
# invariants
# ----------------------------------------------------------------------


def check(checks, name, ok, detail):
    checks.append({"name": name, "ok": bool(ok), "detail": detail})
    print(f"    {'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)


def invariants(phase, dbname, seed, workload, counter, standby, start, url):
    from odoo_db import CommittedDatabase  # noqa: PLC0415

    checks = []
    product_ids = [p[0] for p in seed["products"]]
    # 1. on hand = ledger, every quant key (the product's check) and, from
    # independent SQL, per product in WH/Stock.
    db = CommittedDatabase(dbname)
    try:
        with db.env() as env:
            drift = env["stock.quant"]._sscale_ledger_drift()
    finally:
        db.close()
    ledger = commands.ledger_check(dbname, seed["stock_id"], product_ids)
    check(
        checks,
        "on hand = ledger of done move lines",
        not drift and not ledger["mismatches"] and ledger["max_quant_rows"] <= 1,
        f"{len(drift)} drifting quant keys (every key); WH/Stock: {ledger['mismatches']} "
        f"products differ, on hand {ledger['on_hand']:,.0f} = ledger {ledger['ledger']:,.0f}, "
        f"max {ledger['max_quant_rows']} quant row per product",
    )
    # 2. no negative quant where it is forbidden (every internal location
    # here: the company forbids it, no exception is set).
    (negative,) = sql(
        dbname,
        "SELECT COUNT(*) FROM stock_quant q JOIN stock_location l ON l.id = q.location_id"
        " WHERE l.usage = 'internal' AND q.quantity < 0",
        one=True,
    )
    check(checks, "no negative quant in internal locations", not negative, f"{negative} rows")
    # 3. one event per posting: every done move line of the phase has its
    # outbox row, and (full) every row reached RabbitMQ, each event_id once.
    lines, missing_rows, extra_rows, outbox_rows, states = sql(
        dbname,
        """
        WITH l AS (SELECT id FROM stock_move_line WHERE state = 'done' AND id > %(l)s),
             o AS (SELECT (payload->>'move_line_id')::int AS line, state FROM stock_event_outbox
                    WHERE id > %(o)s),
             n AS (SELECT line, COUNT(*) AS c FROM o GROUP BY line)
        SELECT (SELECT COUNT(*) FROM l),
               (SELECT COUNT(*) FROM l LEFT JOIN n ON n.line = l.id WHERE n.c IS NULL),
               (SELECT COUNT(*) FROM n WHERE c > 1),
               (SELECT COUNT(*) FROM o),
               (SELECT json_object_agg(state, c) FROM (SELECT state, COUNT(*) c FROM o
                                                          GROUP BY state) s)
        """,
        {"l": start["move_line"], "o": start["outbox"]},
        one=True,
    )
    check(
        checks,
        "one outbox event per posted move line",
        not missing_rows and not extra_rows and outbox_rows == lines,
        f"{lines:,} done move lines, {outbox_rows:,} events ({states}), "
        f"{missing_rows} lines without, {extra_rows} with several",
    )
    if counter is not None:
        expected = {
            row[0]
            for row in sql(
                dbname,
                "SELECT event_uuid FROM stock_event_outbox WHERE id > %s",
                [start["outbox"]],
            )
        }
        received = set(counter.counts)
        duplicates = sum(c - 1 for c in counter.counts.values())
        check(
            checks,
            "every event in RabbitMQ, once per event_id",
            expected == received,
            f"{len(expected):,} in the outbox, {len(received):,} distinct event_ids received, "
            f"{len(expected - received)} missing, {len(received - expected)} unknown, "
            f"{duplicates} redeliveries (same event_id)",
        )
    else:
        check(checks, "events wait in the outbox (no dispatcher)", True, f"{states}")
    # 4. one posting per idempotency key and per validated picking.
    rows, keys, done_cmds, refused, cmd_moves = sql(
        dbname,
        """
        SELECT COUNT(*), COUNT(DISTINCT idempotency_key),
               COUNT(*) FILTER (WHERE state = 'done'),
               COUNT(*) FILTER (WHERE state = 'refused'),
               (SELECT COUNT(*) FROM stock_move m
                 WHERE m.state = 'done' AND m.picking_id IN (
                       SELECT picking_id FROM stock_inventory_command
                        WHERE idempotency_key LIKE %(k)s AND picking_id IS NOT NULL))
          FROM stock_inventory_command WHERE idempotency_key LIKE %(k)s
        """,
        {"k": f"lt-{phase}-%"},
        one=True,
    )
    answered = {k for k, (status, *_r) in workload.first_answers.items() if status == 200}
    answered |= {
        k
        for k, (_w, answer) in (workload.collector.replies if workload.collector else {}).items()
        if answer.get("status") == "done"
    }
    check(
        checks,
        "one posting per idempotency key",
        rows == keys
        and done_cmds == cmd_moves
        and len(answered) == done_cmds
        and not workload.replay_mismatches,
        f"{rows:,} command rows for {keys:,} keys, {done_cmds:,} done → {cmd_moves:,} done "
        f"moves, {refused} refused; {len(answered):,} keys answered done to the clients; "
        f"{len(workload.replay_mismatches)} replays answered differently",
    )
    ok_pickings = sum(1 for r in workload.records if r["op"] == "picking" and r["outcome"] == "ok")
    pickings, picking_moves = sql(
        dbname,
        "SELECT COUNT(DISTINCT p.id), COUNT(m.id) FROM stock_picking p"
        " JOIN stock_move m ON m.picking_id = p.id AND m.state = 'done'"
        " WHERE p.origin LIKE %s AND p.state = 'done'",
        [f"lt-{phase}-p-%"],
        one=True,
    )
    check(
        checks,
        "one posting per validated JSON-RPC picking",
        pickings == picking_moves == ok_pickings,
        f"{ok_pickings:,} validations answered, {pickings:,} done pickings, "
        f"{picking_moves:,} done moves",
    )
    # 5. Stock Levels read as the web client does (through the replica when
    # there is one) = SQL ground truth over done move lines; then after a
    # refresh of the materialized views.
    truth = {
        (p, loc): float(q)
        for p, loc, q in sql(
            dbname,
            """
            SELECT product_id, loc, SUM(qty) FROM (
                SELECT product_id, location_dest_id AS loc, quantity_product_uom AS qty
                  FROM stock_move_line WHERE state = 'done'
                UNION ALL
                SELECT product_id, location_id, -quantity_product_uom
                  FROM stock_move_line WHERE state = 'done') m
              JOIN stock_location l ON l.id = m.loc AND l.usage = 'internal'
             GROUP BY 1, 2 HAVING ABS(SUM(qty)) > 1e-9
            """,
        )
    }
    rpc = JsonRpc(url, dbname, "loadtest", "loadtest")
    admin = JsonRpc(url, dbname, "admin", "admin")
    for when in ("before a refresh", "after a refresh"):
        if when == "after a refresh":
            # Run Manually; while the cron worker runs it, Odoo refuses: wait.
            deadline = time.monotonic() + 180
            while True:
                try:
                    admin.call("ir.cron", "method_direct_trigger", [seed["cron_id"]], button=True)
                    break
                except RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
        waited = standby.wait_for_replay(timeout=60) if standby is not None else 0.0
        groups = rpc.call(
            "stock.level.report",
            "web_read_group",
            [],
            ["quantity:sum"],
            ["product_id", "location_id"],
            lazy=False,
        )["groups"]
        report = {
            (g["product_id"][0], g["location_id"][0]): g["quantity"]
            for g in groups
            if abs(g["quantity"] or 0.0) > 1e-9
        }
        differ = [
            k
            for k in set(truth) | set(report)
            if abs(truth.get(k, 0.0) - report.get(k, 0.0)) > 1e-6
        ]
        check(
            checks,
            f"Stock Levels report = SQL ground truth, {when}",
            not differ,
            f"{len(truth)} product/location pairs, {len(differ)} differ"
            + (f" (e.g. {differ[:3]})" if differ else "")
            + (f"; read from the replica after {waited:.2f} s of replay wait" if standby else ""),
        )
    return checks


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def ms(seconds):
    return f"{seconds * 1000:,.0f}"


def summarize(results):
    out = {}
    for r in results:
        best = r["sustained"]
        out[r["phase"]] = {
            "worker": best["figures"]["worker_postings"] if best else 0.0,
            "amqp": best["figures"]["amqp_postings"] if best else 0.0,
            "rate": best["rate"] if best else 0.0,
        }
    return out


def report(results, args, conditions, command_line):
    summary = summarize(results)
    lines = [
        "### Steps",
        "",
        "| phase | step | planned worker postings/s | done worker postings/s | AMQP postings/s "
        "| errors | posting p99 s (picking / HTTP / AMQP) | report p99 s (max) "
        "| CPU % machine / other work | verdict |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in results:
        for n, s in enumerate(r["steps"], 1):
            f, lat = s["figures"], s["figures"]["latency"]
            posting = " / ".join(
                f"{lat[op]['p99']:.2f}" if op in lat else "–" for op in POSTING_OPS
            )
            reports = max((lat[op]["p99"] for op in REPORT_OPS if op in lat), default=0.0)
            lines.append(
                benchdocs.row(
                    r["phase"],
                    n,
                    f"{s['rate']:.1f}",
                    f"{f['worker_postings']:.1f}",
                    f"{f['amqp_postings']:.1f}",
                    f"{f['error_rate']:.1%}",
                    posting,
                    f"{reports:.2f}",
                    f"{s.get('machine_cpu', 0):.0f} / {s.get('other_cpu', 0):.0f}",
                    f"broke: {s['broke']}" if s["broke"] else "held",
                )
            )
    base, full = summary.get("baseline"), summary.get("full")
    lines += [
        "",
        "### Sustained postings/s (the highest step that held)",
        "",
        "| phase | worker postings/s (JSON-RPC pickings + HTTP commands) | + AMQP postings/s "
        "| total postings/s | serialization failures (retried) "
        "| machine CPU % (of 2 cores = 200) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = summary[r["phase"]]
        retried = r["logs"].get(
            "serialization failures (PostgreSQL log)",
            sum(v for k, v in r["logs"].items() if k.startswith("retried")),
        )
        lines.append(
            benchdocs.row(
                r["phase"],
                f"**{s['worker']:.1f}**",
                f"{s['amqp']:.1f}",
                f"{s['worker'] + s['amqp']:.1f}",
                retried,
                f"{r['machine_cpu']:.0f}",
            )
        )
    lines += [
        "",
        "### Latency per operation at the sustained step (ms, from the planned start)",
        "",
    ]
    ops = sorted({op for r in results for op in r["latency"]})
    lines += [
        "| operation | " + " | ".join(f"{r['phase']} p50 / p95 / p99 (n)" for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for op in ops:
        cells = []
        for r in results:
            q = r["latency"].get(op)
            cells.append(
                f"{ms(q['p50'])} / {ms(q['p95'])} / {ms(q['p99'])} ({q['count']})" if q else "–"
            )
        lines.append(benchdocs.row(op, *cells))
    lines += [
        "",
        "### CPU and memory per process at the sustained step",
        "",
        "| process | " + " | ".join(f"{r['phase']} CPU % / peak RSS MB" for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    labels = sorted({label for r in results for label in r["processes"]})
    for label in labels:
        cells = []
        for r in results:
            p = r["processes"].get(label)
            if p:
                rss = f"{p['rss_mb']:.0f}" if p["rss_mb"] else "–"
                cells.append(f"{p['cpu']:.0f} / {rss}")
            else:
                cells.append("–")
        lines.append(benchdocs.row(label, *cells))
    lines += ["", "### Log lines (retries and fallbacks)", ""]
    kinds = sorted({k for r in results for k in r["logs"]})
    lines += [
        "| log line | " + " | ".join(r["phase"] for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    lines += [benchdocs.row(k, *(r["logs"].get(k, 0) for r in results)) for k in kinds]
    lines += ["", "### Invariants after each phase", "", "| phase | invariant | result | detail |"]
    lines.append("|---|---|---|---|")
    for r in results:
        for c in r["checks"]:
            lines.append(
                benchdocs.row(
                    r["phase"], c["name"], "PASS" if c["ok"] else "**FAIL**", c["detail"]
                )
            )
    goals = ["", "Goals:", ""]
    if base and full:
        ratio = full["worker"] / base["worker"] if base["worker"] else 0.0
        total_ratio = (full["worker"] + full["amqp"]) / base["worker"] if base["worker"] else 0.0
        goals.append(
            f"- full phase ≥ 80% of the baseline's worker postings/s: {full['worker']:.1f} / "
            f"{base['worker']:.1f} = {ratio:.0%} → {'met' if ratio >= 0.8 else '**not met**'} "
            f"(with the AMQP postings: {total_ratio:.0%});"
        )
    for r in results:
        p99 = max((r["latency"][op]["p99"] for op in REPORT_OPS if op in r["latency"]), default=0)
        where = "from the replica" if r.get("replica") else "from the primary (no replica)"
        goals.append(
            f"- {r['phase']}: report reads {where} p99 < 1 s at the sustained step: "
            f"{p99:.2f} s → {'met' if p99 < 1 else '**not met**'}"
            + (
                f" ({r['replica']['xacts']:,} transactions and {r['replica']['report_scans']:,} "
                f"report-view scans on the replica during the phase)"
                if r.get("replica")
                else ""
            )
            + ";"
        )
    how = (
        "How to read it: each phase raises the planned rate of worker postings (JSON-RPC "
        "pickings and HTTP commands, half each) step by step; report reads, AMQP commands "
        "(full phase only) and replayed HTTP keys come in proportion. A step *held* when its "
        f"errors stayed under {args.max_error_rate:.0%}, every posting operation's p99 under "
        f"{args.posting_p99:g} s, every report read's p99 under {args.report_p99:g} s and at "
        "least 90% of the planned postings were done within the step; the sustained figure is "
        "the highest step that held (a phase that never broke sustained at least that). "
        "Latency is counted from the planned start of the request (open loop: waiting in the "
        "client's queue or in odoo-bin's listen backlog counts). `picking` is the whole "
        "web-client flow (create, confirm, validate), `rpc_*` its single requests; "
        "`amqp_command` is publish to reply. The baseline has no AMQP commands (nothing "
        "consumes them without the consumer); the ratio compares worker postings only, so "
        "the AMQP postings of the full phase are on top. CPU % is of one core (the machine "
        "has 200); *other work* is what processes outside the load test used meanwhile "
        "(a step that broke while it was high says little). Serialization failures are counted "
        "in PostgreSQL's log (every one is replayed: by Odoo's RPC layer, whose own log "
        "lines are counted too, or by the command runner, which does not log them)."
    )
    return (
        "## Load test: odoo-bin --workers=4 over real HTTP, with and without the event bus "
        "(issue 12)\n\n"
        f"Command: `{command_line}`. {conditions}\n\n{how}\n\n"
        + "\n".join(lines + goals)
        + "\n\n![throughput and latency over time, both phases](img/loadtest.png)"
    )


def scaling_summary(results, command_line):
    """The load test's headline for docs/scaling.md."""
    summary = summarize(results)
    lines = [
        f"`{command_line}` (one machine, 2 cores: clients, Odoo, PostgreSQL, its standby "
        "and RabbitMQ together; full tables in [benchmarks.md](benchmarks.md)).",
        "",
        "| phase | sustained worker postings/s | + AMQP postings/s | report read p99 ms "
        "| invariants |",
        "|---|---:|---:|---:|---|",
    ]
    for r in results:
        s = summary[r["phase"]]
        p99 = max((r["latency"][op]["p99"] for op in REPORT_OPS if op in r["latency"]), default=0)
        failed = [c["name"] for c in r["checks"] if not c["ok"]]
        lines.append(
            benchdocs.row(
                r["phase"] + (" (dispatcher + consumer)" if r["phase"] == "full" else ""),
                f"{s['worker']:.1f}",
                f"{s['amqp']:.1f}",
                ms(p99) + (" (replica)" if r.get("replica") else ""),
                "all pass" if not failed else "FAIL: " + ", ".join(failed),
            )
        )
    if "baseline" in summary and "full" in summary and summary["baseline"]["worker"]:
        ratio = summary["full"]["worker"] / summary["baseline"]["worker"]
        lines += ["", f"Full / baseline: {ratio:.0%} (goal ≥ 80%)."]
    lines += ["", "![throughput and latency over time](img/loadtest.png)"]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(results), 2, figsize=(14, 4 * len(results)), squeeze=False)
    colors = dict(
        zip(POSTING_OPS + REPORT_OPS + ("http_replay",), plt.cm.tab10.colors, strict=False)
    )
    for row, r in enumerate(results):
        records = [x for x in r["records"] if x["end"] is not None and x["step"] >= 0]
        horizon = int(max((x["end"] for x in records), default=1)) + 1
        ax = axes[row][0]
        for op in POSTING_OPS:
            per_second = [0] * horizon
            for x in records:
                if x["op"] == op and x["outcome"] == "ok":
                    per_second[int(x["end"])] += 1
            if any(per_second):
                smooth = [
                    statistics.fmean(per_second[max(0, i - 4) : i + 1]) for i in range(horizon)
                ]
                ax.plot(range(horizon), smooth, label=f"{op} done/s", color=colors[op])
        planned_x, planned_y = [], []
        for s in r["steps"]:
            planned_x += [s["start"], s["end"]]
            planned_y += [s["rate"] / 2] * 2
        ax.plot(planned_x, planned_y, "k--", linewidth=1, label="planned per channel")
        ax.set_title(f"{r['phase']}: postings/s over time (5 s moving mean)")
        ax.set_xlabel("s")
        ax.legend(fontsize=7)
        ax = axes[row][1]
        window = 5
        for op in POSTING_OPS + REPORT_OPS:
            xs, p50, p99 = [], [], []
            for start in range(0, horizon, window):
                values = [
                    x["end"] - x["sched"]
                    for x in records
                    if x["op"] == op and start <= x["sched"] < start + window
                ]
                if values:
                    q = commands.quantiles(values)
                    xs.append(start + window / 2)
                    p50.append(q["p50"] * 1000)
                    p99.append(q["p99"] * 1000)
            if xs:
                ax.plot(xs, p99, color=colors[op], label=f"{op} p99")
                ax.plot(xs, p50, color=colors[op], linestyle=":", label=f"{op} p50")
        ax.set_yscale("log")
        ax.set_title(f"{r['phase']}: latency over time (ms, 5 s windows)")
        ax.set_xlabel("s")
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


# ----------------------------------------------------------------------
# main
# ----------------------------------------------------------------------


def main():  # noqa: PLR0915
    parser = stacklib.argument_parser(__doc__)
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
        action=__import__("argparse").BooleanOptionalAction,
        default=None,
        help="report reads through a hot standby (default: when possible)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--template",
        help="reuse this template database of an earlier run (--keep) instead of building one",
    )
    args = parser.parse_args()
    stacklib.require_odoo()
    stacklib.require_postgres()
    stacklib.require_rabbitmq()
    import logging  # noqa: PLC0415

    logging.getLogger("pika").setLevel(logging.WARNING)
    possible, why = replica_possible()
    if args.replica is None:
        args.replica = possible
        if not possible:
            print(f"==> no replica: {why}", flush=True)
    elif args.replica and not possible:
        raise stacklib.StackError(f"--replica: {why}")
    conf = stacklib.bench_odoo_conf(db_maxconn=16, log_level="warn")
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
            conn = stacklib.connect()
            with conn.cursor() as cr:
                cr.execute(
                    f'COMMENT ON DATABASE "{template}" IS %s',
                    [json.dumps(seed)],  # noqa: S608
                )
            conn.close()
        for phase in phases:
            stacklib.copy_database(template, f"{prefix}_{phase}", Path(logdir, "data"))
        # One standby for both phases (it copies the whole cluster).
        with open_replica(args.replica) as standby:
            for phase in phases:
                results.append(
                    run_phase(phase, f"{prefix}_{phase}", conf, seed, args, standby, logdir)
                )
        replica = (
            "report reads through a hot standby (scripts/pgstandby.py)"
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
            ["bench/loadtest.py", *shown, *(["--write"] if args.write else [])]
        )
        body = report(results, args, conditions, command_line)
        print()
        print(body)
        plot(results, Path(logdir, "loadtest.png"))
        print(f"==> plot: {Path(logdir, 'loadtest.png')}")
        if args.write:
            plot(results, ROOT / "docs" / "img" / "loadtest.png")
            benchdocs.replace_section("loadtest", body)
            scaling = ROOT / "docs" / "scaling.md"
            if scaling.exists():
                benchdocs.replace_section(
                    "loadtest", scaling_summary(results, command_line), doc=scaling
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
            stacklib.drop_databases_with_prefix(prefix, Path(logdir, "data"))
        print(f"==> {(time.perf_counter() - wall) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(main())
