#!/usr/bin/env python3
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
    bench/commands.py --write
"""

import configparser
import datetime
import json
import logging
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "bench")]

import benchdocs  # noqa: E402
import stacklib  # noqa: E402

QUEUES = 8  # per-product queues of the bench's command exchange

SEED_PRODUCTS = """
import json
stock = env["stock.warehouse"].search([], limit=1, order="id").lot_stock_id
products = env["product.product"].create(
    [{"name": "Hot product", "default_code": "BENCH-HOT", "is_storable": True}]
    + [{"name": f"Product {i:04d}", "default_code": f"BENCH-{i:04d}", "is_storable": True}
       for i in range(%(products)d)]
)
quants = env["stock.quant"].with_context(inventory_mode=True).create([
    {"product_id": p.id, "location_id": stock.id,
     "inventory_quantity": %(hot_stock)d if i == 0 else %(sku_stock)d}
    for i, p in enumerate(products)
])
quants.action_apply_inventory()
env.cr.commit()
print("PRODUCTS " + json.dumps([[p.id, p.default_code] for p in products]))
print("STOCK " + json.dumps([stock.id, stock.complete_name]))
"""


# ----------------------------------------------------------------------
# databases
# ----------------------------------------------------------------------


def build_databases(conf, prefix, products, hot_stock, sku_stock):
    """``(vanilla, ours, [(product id, code)], (stock id, stock name))``:
    vanilla ``stock`` with the seeded products, and a copy of it with
    stock_scalable and stock_event_bus."""
    vanilla, ours = f"{prefix}_vanilla", f"{prefix}_ours"
    odoo = stacklib.odoo_command() + ["-c", str(conf)]
    env = stacklib.odoo_env()
    print(
        f"==> building {vanilla}: stock without demo data, {products + 1:,} products", flush=True
    )
    subprocess.run(
        odoo + ["-d", vanilla, "-i", "stock", "--without-demo=all", "--stop-after-init"],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        stacklib.odoo_command() + ["shell", "-c", str(conf), "-d", vanilla, "--no-http"],
        input=SEED_PRODUCTS
        % {"products": products, "hot_stock": hot_stock, "sku_stock": sku_stock},
        text=True,
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    seeded = json.loads(out.split("PRODUCTS ", 1)[1].splitlines()[0])
    stock = json.loads(out.split("STOCK ", 1)[1].splitlines()[0])
    print(f"==> copying it to {ours}, installing stock_scalable and stock_event_bus", flush=True)
    stacklib.copy_database(vanilla, ours, Path(conf).parent / "data")
    subprocess.run(
        odoo + ["-d", ours, "-i", "stock_scalable,stock_event_bus", "--stop-after-init"],
        env=env,
        check=True,
        capture_output=True,
    )
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


def ledger_check(dbname, location_id, product_ids):
    """On hand against the ledger of done move lines, per product, in the
    stock location: ``{"mismatches", "max_quant_rows", "on_hand", "ledger"}``."""
    conn = stacklib.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                """
                WITH q AS (SELECT product_id, SUM(quantity) AS qty, COUNT(*) AS n
                             FROM stock_quant
                            WHERE location_id = %(l)s AND product_id = ANY(%(p)s)
                         GROUP BY product_id),
                     m AS (SELECT product_id,
                                  SUM(CASE WHEN location_dest_id = %(l)s
                                           THEN quantity_product_uom
                                           ELSE -quantity_product_uom END) AS qty
                             FROM stock_move_line
                            WHERE state = 'done' AND product_id = ANY(%(p)s)
                              AND (location_id = %(l)s OR location_dest_id = %(l)s)
                              AND location_id != location_dest_id
                         GROUP BY product_id)
                SELECT COUNT(*) FILTER (WHERE ABS(COALESCE(q.qty, 0) - COALESCE(m.qty, 0))
                                               > 0.0001),
                       COALESCE(MAX(q.n), 0), COALESCE(SUM(q.qty), 0), COALESCE(SUM(m.qty), 0)
                  FROM q FULL JOIN m USING (product_id)
                """,
                {"l": location_id, "p": list(product_ids)},
            )
            mismatches, max_rows, on_hand, ledger = cr.fetchone()
    finally:
        conn.close()
    return {
        "mismatches": int(mismatches),
        "max_quant_rows": int(max_rows),
        "on_hand": float(on_hand),
        "ledger": float(ledger),
    }


def quantiles(values):
    values = sorted(values)
    if len(values) < 2:
        values = values * 2 or [0.0, 0.0]
    cuts = statistics.quantiles(values, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


class CpuMonitor(threading.Thread):
    """Samples every process's CPU time once a second and splits it in two:
    the benchmark's (this process and its children, the PostgreSQL backends
    of its databases, RabbitMQ) and the rest of the machine's, so that a
    figure measured while other work ran says so."""

    def __init__(self, prefix):
        super().__init__(daemon=True)
        self.prefix = prefix.encode()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen = {}
        self.totals = {"bench": 0, "other": 0}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sample(first=True)

    def _processes(self):
        processes = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            # ppid, utime + stime, start time (fields 4, 14, 15 and 22 of proc(5))
            processes[int(entry.name)] = (
                int(fields[1]),
                int(fields[11]) + int(fields[12]),
                fields[19],
                cmdline,
            )
        return processes

    def sample(self, first=False):
        with self.lock:
            processes = self._processes()
            ours, grew = {os.getpid()}, True
            while grew:
                grew = False
                for pid, (ppid, *_rest) in processes.items():
                    if ppid in ours and pid not in ours:
                        ours.add(pid)
                        grew = True
            for pid, (_ppid, ticks, started, cmdline) in processes.items():
                key = (pid, started)
                before = self.seen.get(key, None if first else 0)
                self.seen[key] = ticks
                if before is None:
                    continue
                bench = pid in ours or self.prefix in cmdline or b"beam.smp" in cmdline
                self.totals["bench" if bench else "other"] += ticks - before

    def run(self):
        while not self.stopping.wait(1.0):
            self.sample()

    def mark(self):
        self.sample()
        with self.lock:
            return dict(self.totals), time.perf_counter()

    def cores(self, mark):
        """Mean CPU cores used since ``mark``: ``{"bench", "other"}``."""
        totals, started = mark
        now, ended = self.mark()
        elapsed = max(ended - started, 1e-6)
        return {k: (now[k] - totals[k]) / self.tick / elapsed for k in totals}

    def stop(self):
        self.stopping.set()
        self.join(5)


# ----------------------------------------------------------------------
# JSON-RPC / ORM: 1-line pickings, one request each
# ----------------------------------------------------------------------


def orm_workload(db, requests, workers, monitor):
    """``workers`` threads post ``requests`` as 1-line pickings, one
    transaction each (create, confirm, reserve, quantity, validate), retried
    on serialization failures like Odoo's RPC layer."""
    import stock_flows  # noqa: PLC0415

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


def bus_conf(conf, exchange):
    """A copy of ``conf`` whose commands go through ``exchange``."""
    parser = configparser.RawConfigParser()
    parser.read(conf)
    if not parser.has_section("stock_event_bus"):
        parser.add_section("stock_event_bus")
    parser.set("stock_event_bus", "amqp_url", stacklib.amqp_url())
    parser.set("stock_event_bus", "command_exchange", exchange)
    parser.set("stock_event_bus", "command_queues", str(QUEUES))
    path = Path(conf).with_name(f"commands-{exchange}.conf")
    with path.open("w") as handle:
        parser.write(handle)
    return path


def consume_command(conf, dbname, *args):
    import odoo.addons  # noqa: PLC0415

    odoo_addons = Path(odoo.addons.__file__).resolve().parent
    return stacklib.odoo_command() + [
        f"--addons-path={ROOT},{odoo_addons}",
        "stock_command_consume",
        "-c",
        str(conf),
        "-d",
        dbname,
        *args,
    ]


def broker_user():
    """The RabbitMQ user of ``amqp_url()``: the publishers' ``user_id``."""
    return urllib.parse.urlsplit(stacklib.amqp_url()).username


def map_broker_user(dbname):
    """Map :func:`broker_user` to admin (its AMQP User): the consumer posts
    what it publishes as admin, as the JSON-RPC and HTTP workloads do."""
    conn = stacklib.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                "UPDATE res_users SET amqp_user = NULL WHERE amqp_user = %s", [broker_user()]
            )
            cr.execute(
                "UPDATE res_users SET amqp_user = %s WHERE login = 'admin'", [broker_user()]
            )
    finally:
        conn.close()


def _amqp_channel():
    connection = stacklib.amqp_connection()
    channel = connection.channel()
    return connection, channel


class ReplyCollector(threading.Thread):
    """Receives the consumer's replies on an exclusive queue and notes
    when each correlation id was answered."""

    def __init__(self):
        super().__init__(daemon=True)
        self.connection, self.channel = _amqp_channel()
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.replies = {}
        self.expected = 0
        self.stopping = False

    def run(self):
        def on_reply(_channel, _method, properties, body):
            self.replies[properties.correlation_id] = (time.perf_counter(), json.loads(body))

        self.channel.basic_consume(self.queue, on_reply, auto_ack=True)
        while not self.stopping:
            self.connection.process_data_events(time_limit=0.2)

    def wait(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.replies) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self):
        self.stopping = True
        self.join(10)
        self.connection.close()


def amqp_workload(dbname, conf, requests, publishers, queue_sets, location, tag, logdir, monitor):
    """Publish ``requests`` as commands from ``publishers`` threads to a new
    exchange, with one consumer process per entry of ``queue_sets`` (None:
    every queue; else a --queues value), and wait for every reply."""
    import pika  # noqa: PLC0415

    import odoo.modules.module  # noqa: PLC0415

    odoo.modules.module.initialize_sys_path()
    from odoo.addons.stock_event_bus.lib.command_consumer import (  # noqa: PLC0415
        declare_topology,
    )

    exchange = f"sscale.bench.commands.{uuid.uuid4().hex[:8]}"
    conf = bus_conf(conf, exchange)
    map_broker_user(dbname)
    connection, channel = _amqp_channel()
    declare_topology(channel, exchange, QUEUES)
    collector = ReplyCollector()
    collector.start()
    consumers = []
    commands = []
    for n, (kind, (_product_id, code)) in enumerate(requests):
        command = {"idempotency_key": f"{tag}-{n}", "type": kind, "product": code, "quantity": 1}
        command["location" if kind == "deliver" else "location_dest"] = location
        commands.append(command)
    try:
        for index, queues in enumerate(queue_sets):
            log = Path(logdir, f"{exchange}.{index}.log")
            args = ["--log-level=info"] + (["--queues", queues] if queues else [])
            with log.open("w") as handle:
                process = subprocess.Popen(
                    consume_command(conf, dbname, *args),
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=stacklib.odoo_env(),
                )
            process.log_path = log
            consumers.append(process)
        first = [0 if not q else int(q.split("-")[0].split(",")[0]) for q in queue_sets]
        wait_for_consumers(channel, exchange, first, consumers)
        first_publish = []
        barrier = threading.Barrier(publishers)

        def publisher(mine):
            pconn, pchannel = _amqp_channel()
            pchannel.confirm_delivery()
            barrier.wait()
            first_publish.append(time.perf_counter())
            for command in mine:
                pchannel.basic_publish(
                    exchange,
                    command["product"],
                    json.dumps(command),
                    pika.BasicProperties(
                        delivery_mode=2,
                        content_type="application/json",
                        message_id=command["idempotency_key"],
                        correlation_id=command["idempotency_key"],
                        reply_to=collector.queue,
                        user_id=broker_user(),
                    ),
                )
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
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in consumers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        collector.stop()
        for name in [f"{exchange}.{i}" for i in range(QUEUES)] + [f"{exchange}.dead"]:
            channel.queue_delete(name)
        channel.exchange_delete(f"{exchange}.dlx")
        channel.exchange_delete(exchange)
        connection.close()
        conf.unlink(missing_ok=True)


def wait_for_consumers(channel, exchange, queue_indexes, processes, timeout=120):
    """Until each of ``queue_indexes`` has its (single active) consumer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [
            channel.queue_declare(f"{exchange}.{i}", passive=True).method.consumer_count
            for i in queue_indexes
        ]
        if all(counts):
            return
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.3)
    logs = "\n".join(p.log_path.read_text()[-3000:] for p in processes)
    raise RuntimeError(f"no consumer on {exchange}:\n{logs}")


def command_batches(dbname, key_prefix):
    """The consumer's batches, read back from the command rows: each batch
    claims its keys in one transaction, so its rows share a create_date."""
    conn = stacklib.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                """SELECT create_date, COUNT(*),
                          COUNT(*) FILTER (WHERE state = 'pending')
                     FROM stock_inventory_command
                    WHERE idempotency_key LIKE %s
                 GROUP BY create_date ORDER BY create_date""",
                [key_prefix.replace("_", r"\_") + "%"],
            )
            rows = cr.fetchall()
    finally:
        conn.close()
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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(conf, dbname, workers, logdir):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(logdir, f"odoo-{port}.log")
    with log.open("w") as handle:
        process = subprocess.Popen(
            stacklib.odoo_command()
            + [
                "-c",
                str(conf),
                "-d",
                dbname,
                # No --db-filter: with one database (-d) and no filter, Odoo does
                # not list the server's databases on every request (a query on a
                # new connection to "postgres", 5-10 ms here).
                f"--http-port={port}",
                f"--workers={workers}",
                f"--gevent-port={_free_port()}",
                "--max-cron-threads=0",
                "--log-level=warn",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=stacklib.odoo_env(),
        )
    process.log_path = log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    stop_server(process)
    raise RuntimeError(f"Odoo did not answer on {url}: {log.read_text()[-3000:]}")


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def post_command(url, key, command):
    """One ``POST /api/stock/commands``: ``(HTTP status, answer, seconds)``."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/api/stock/commands",
        data=json.dumps(command).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    elapsed = time.perf_counter() - started
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"status": "error", "body": body.decode(errors="replace")[:200]}
    return status, answer, elapsed


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

        threads = [threading.Thread(target=scanner, args=(c,)) for c in scanners]
        mark = monitor.mark()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
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


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------


def fmt_rate(figures):
    return f"{figures['rate']:.1f}"


def cpu_cell(figures):
    return f"{figures['cpu']['bench']:.2f} / {figures['cpu']['other']:.2f}"


def report(results, conditions, command_line):
    hot, skus, http = results["hot"], results["skus"], results["http"]
    base_hot = hot["orm_ours"]["rate"]
    base_skus = skus["orm_ours"]["rate"]
    lines = [
        "### 1. Hot product and many products: commands/s",
        "",
        "| scenario | channel | database | posted | refused | failed | elapsed s "
        "| moves/s | vs stock_scalable JSON-RPC | on hand = ledger | max quant rows "
        "| CPU cores: bench / other |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]

    def row(scenario, channel, database, figures, base):
        check = figures["check"]
        ok = "yes" if not check["mismatches"] else f"no ({check['mismatches']} products)"
        lines.append(
            benchdocs.row(
                scenario,
                channel,
                database,
                f"{figures['done']:,}",
                figures["refused"],
                figures["failed"],
                f"{figures['elapsed']:.1f}",
                f"**{fmt_rate(figures)}**",
                f"{figures['rate'] / base:.1f}×",
                ok,
                check["max_quant_rows"],
                cpu_cell(figures),
            )
        )

    n_hot, n_skus = hot["requests"], skus["requests"]
    hot_label = f"1 hot product, {n_hot:,} moves"
    row(
        hot_label,
        f"JSON-RPC (ORM), {hot['workers']} threads",
        "vanilla",
        hot["orm_vanilla"],
        base_hot,
    )
    row(
        hot_label,
        f"JSON-RPC (ORM), {hot['workers']} threads",
        "stock_scalable",
        hot["orm_ours"],
        base_hot,
    )
    row(
        hot_label,
        f"AMQP, {hot['publishers']} publishers, 1 consumer",
        "stock_scalable",
        hot["amqp"],
        base_hot,
    )
    skus_label = f"{skus['products']:,} products, {n_skus:,} moves"
    row(
        skus_label,
        f"JSON-RPC (ORM), {skus['workers']} threads",
        "stock_scalable",
        skus["orm_ours"],
        base_skus,
    )
    row(
        skus_label,
        f"AMQP, {skus['publishers']} publishers, 2 consumers (queues 0-3, 4-7)",
        "stock_scalable",
        skus["amqp"],
        base_skus,
    )
    lines += [
        "",
        "| AMQP run | batches (one transaction each) | mean / max commands per batch "
        "| ms per command in the consumer | publish rate /s | dead letters |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, figures, consumers in ((hot_label, hot["amqp"], 1), (skus_label, skus["amqp"], 2)):
        b = figures["batches"]
        lines.append(
            benchdocs.row(
                label,
                b["count"],
                f"{b['mean_size']:.0f} / {b['max_size']}",
                f"{figures['elapsed'] * 1000 * consumers / max(figures['done'], 1):.1f}",
                f"{figures['publish_rate']:,.0f}",
                figures["dead_letters"],
            )
        )
    new, replay = http["new"], http["replay"]
    lines += [
        "",
        f"### 2. Scanners over HTTP (`odoo-bin --workers={http['workers']}`, "
        f"{http['scanners']} scanners)",
        "",
        "| requests | count | not 200 | p50 ms | p95 ms | p99 ms | mean ms | requests/s "
        "| CPU cores: bench / other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    n = http["scanners"]
    for label, figures in (
        (f"new command (scan to posted), {n} scanners", new),
        (f"idempotent replay, {n} scanners", replay),
        ("new command, 1 scanner alone", http["solo_new"]),
        ("idempotent replay, 1 scanner alone", http["solo_replay"]),
    ):
        lines.append(
            benchdocs.row(
                label,
                f"{figures['requests']:,}",
                figures["failed"],
                f"{figures['p50']:.0f}",
                f"**{figures['p95']:.0f}**",
                f"{figures['p99']:.0f}",
                f"{figures['mean']:.0f}",
                f"{figures['rate']:.1f}",
                cpu_cell(figures),
            )
        )
    amqp_hot, amqp_skus = hot["amqp"]["rate"], skus["amqp"]["rate"]

    def verdict(ok):
        return "met" if ok else "**not met**"

    lines += [
        "",
        f"Replays answered the stored outcome: {replay['requests'] - replay['differing']:,} of "
        f"{replay['requests']:,} identical to the first answer; on hand equals the ledger "
        f"{'for every product' if not http['check']['mismatches'] else 'NOT everywhere'} "
        f"after the HTTP run (max {http['check']['max_quant_rows']} quant row per product).",
        "",
        "Goals:",
        "",
        f"- hot product over AMQP ≥ 100 commands/s and ≥ 5× stock_scalable's JSON-RPC: "
        f"{amqp_hot:.1f}/s, {amqp_hot / base_hot:.1f}× → "
        f"{verdict(amqp_hot >= 100)} / {verdict(amqp_hot >= 5 * base_hot)};",
        f"- {skus['products']:,} products over AMQP ≥ 100 commands/s and ≥ 3×: "
        f"{amqp_skus:.1f}/s, {amqp_skus / base_skus:.1f}× → "
        f"{verdict(amqp_skus >= 100)} / {verdict(amqp_skus >= 3 * base_skus)};",
        f"- HTTP p95 < 100 ms for a new command: {new['p95']:.0f} ms → "
        f"{verdict(new['p95'] < 100)}; p95 < 20 ms for a replay: {replay['p95']:.0f} ms → "
        f"{verdict(replay['p95'] < 20)}.",
    ]
    return (
        "## Inventory commands: AMQP and HTTP (issue 11)\n\n"
        f"Command: `{command_line}`. {conditions}\n\n"
        + "\n".join(lines)
        + "\n\n![commands/s per channel, HTTP latency percentiles](img/commands.png)"
    )


def plot(results, path):
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    hot, skus, http = results["hot"], results["skus"], results["http"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    bars = [
        ("JSON-RPC\nvanilla", hot["orm_vanilla"]["rate"], "tab:gray"),
        ("JSON-RPC\nstock_scalable", hot["orm_ours"]["rate"], "tab:blue"),
        ("AMQP\n1 consumer", hot["amqp"]["rate"], "tab:green"),
    ]
    axes[0].bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    axes[0].set_title("1 hot product: moves/s")
    bars = [
        ("JSON-RPC\nstock_scalable", skus["orm_ours"]["rate"], "tab:blue"),
        ("AMQP\n2 consumers", skus["amqp"]["rate"], "tab:green"),
    ]
    axes[1].bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    axes[1].set_title(f"{skus['products']:,} products: moves/s")
    for ax in axes[:2]:
        ax.axhline(100, color="red", linestyle="--", label="goal 100/s")
        ax.legend()
    keys = ["p50", "p95", "p99"]
    n = http["scanners"]
    for offset, phase, label, color in (
        (-0.3, "new", f"new, {n} scanners", "tab:orange"),
        (-0.1, "replay", f"replay, {n} scanners", "tab:purple"),
        (0.1, "solo_new", "new, 1 scanner", "navajowhite"),
        (0.3, "solo_replay", "replay, 1 scanner", "thistle"),
    ):
        axes[2].bar(
            [i + offset for i in range(3)],
            [http[phase][k] for k in keys],
            0.2,
            label=label,
            color=color,
        )
    axes[2].axhline(100, color="tab:orange", linestyle="--", linewidth=1, label="p95 goal new")
    axes[2].axhline(20, color="tab:purple", linestyle="--", linewidth=1, label="p95 goal replay")
    axes[2].set_xticks(range(3), keys)
    axes[2].set_title("HTTP: latency (ms)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


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
    parser = stacklib.argument_parser(__doc__)
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
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()
    if args.quick:
        args.commands, args.products, args.scans, args.solo_scans = 200, 100, 25, 20
    stacklib.require_odoo()
    stacklib.require_postgres()
    stacklib.require_rabbitmq()
    from odoo_db import CommittedDatabase  # noqa: PLC0415

    conf = stacklib.bench_odoo_conf(db_maxconn=32, log_level="warn")
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
        server, url = start_server(conf, ours, args.http_workers, logdir)
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
            stop_server(server)
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
        command_line = "bench/commands.py" + (" --quick" if args.quick else "") + " --write"
        body = report(results, conditions, command_line)
        print()
        print(body)
        if args.write:
            plot(results, ROOT / "docs" / "img" / "commands.png")
            benchdocs.replace_section("commands", body)
            print("==> wrote docs/benchmarks.md and docs/img/commands.png")
    finally:
        monitor.stop()
        if not args.keep:
            stacklib.drop_databases_with_prefix(prefix, Path(conf).parent / "data")
        print(f"==> {(time.perf_counter() - wall) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(main())
