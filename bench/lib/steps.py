# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The load test's steps: arrivals at a planned rate (open loop), raised
step by step until a step breaks; each step's figures and verdict."""

import collections
import concurrent.futures
import time

from .report import quantiles
from .workload import EXPECTED, POSTING_OPS, REPORT_OPS, WORKER_POSTING_OPS


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
        "latency": {op: quantiles(v) for op, v in lat.items()},
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


def step_latencies(records, step):
    lat = collections.defaultdict(list)
    for r in records:
        if r["step"] == step and r["end"] is not None:
            lat[r["op"]].append(r["end"] - r["sched"])
    return {op: dict(quantiles(v), count=len(v)) for op, v in lat.items()}


def annotate_cpu(steps, monitor, t0):
    """The machine's CPU during each step, and how much other work took."""
    for entry in steps:
        procs, machine = monitor.summary(t0 + entry["start"], t0 + entry["end"])
        entry["machine_cpu"] = machine
        entry["other_cpu"] = procs.get("other processes of the machine", {}).get("cpu", 0.0)
