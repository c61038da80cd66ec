# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The load test's operations, as the web client, a scanner and an AMQP
publisher send them, each run by a pool thread with its own session, and the
record of every request."""

import contextlib
import itertools
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.harness.jsonrpc import STOCK_LEVELS_LIST, JsonRpc, RpcError

from . import amqp_clients
from .http_clients import post_command

POSTING_OPS = ("picking", "http_command", "amqp_command")
WORKER_POSTING_OPS = ("picking", "http_command")
REPORT_OPS = ("report_levels_pivot", "report_levels_list", "report_movements_pivot")
# Outcomes that are answers, not errors: a refusal by the negative-stock
# guard (the over-deliveries sent on purpose) and "being posted, send it
# again" for a copy of a key sent while its first is still running.
EXPECTED = ("ok", "refused", "in_progress")


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
            connection, self.local.channel = amqp_clients.channel(confirm=True)
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
        status, answer, _seconds = post_command(self.url, self.seed["key"], command)
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
        kind, qty, (_product_id, code) = self.pick()
        key = f"lt-{self.phase}-a-{next(self.counter)}"
        command = {"idempotency_key": key, "type": kind, "product": code, "quantity": qty}
        command["location" if kind == "deliver" else "location_dest"] = self.seed["stock"]
        start = self.now()
        amqp_clients.publish_command(
            self.amqp(), self.amqp_exchange, command, self.collector.queue
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
                STOCK_LEVELS_LIST,
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
