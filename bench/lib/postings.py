# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""ORM posting workloads: 1-line pickings created beforehand, validated by
worker threads, one request each in its own transaction, retried on
serialization failures like Odoo's RPC layer; and their latency, in rounds
alternating between databases built the same way."""

import random
import statistics
import threading
import time

from tests.harness import stock_flows

from .report import quantiles, row


def plan(workers, per_worker, products, deliver_ratio, seed):
    """The same requests for both databases: [(kind, product id)] per worker."""
    plans = []
    for worker in range(workers):
        rng = random.Random(seed * 1000 + worker)
        plans.append(
            [
                ("deliver" if rng.random() < deliver_ratio else "receive", rng.choice(products))
                for _ in range(per_worker)
            ]
        )
    return plans


def create_pickings(db, plans):
    """Create and confirm every planned picking before the clock starts (as
    sales and purchase orders do, hours before the warehouse validates):
    the workload is the validation. Returns picking ids per worker."""
    picking_ids = []
    for requests in plans:
        with db.env() as env:
            warehouse = stock_flows.main_warehouse(env)
            types = {"deliver": warehouse.out_type_id, "receive": warehouse.in_type_id}
            picking_ids.append(
                [
                    stock_flows.create_picking(env, types[kind], [(product_id, 1)]).id
                    for kind, product_id in requests
                ]
            )
    return picking_ids


def run_threads(target, plans):
    """``target(plan)`` in a thread of its own per plan, all started, then
    all joined: the seconds that took."""
    threads = [threading.Thread(target=target, args=(plan,)) for plan in plans]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run_workers(db, worker, picking_plans):
    """``worker(picking_ids)`` for each plan, all at once; a worker's error stops the run."""
    outcomes = db.run_concurrently([lambda ids=ids: worker(ids) for ids in picking_plans])
    for kind, value in outcomes:
        if kind == "error":
            raise value


def run_validations(db, plans):
    """Validate the pickings of ``plans`` (created first), a thread per
    plan: ``(validations/s, latencies in ms)``."""
    picking_plans = create_pickings(db, plans)
    latencies, lock = [], threading.Lock()

    def worker(picking_ids):
        for picking_id in picking_ids:
            started = time.perf_counter()
            db.call(
                lambda env, p=picking_id: stock_flows.validate_all(env["stock.picking"].browse(p))
            )
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    run_workers(db, worker, picking_plans)
    return len(latencies) / (time.perf_counter() - started), latencies


def alternate(labels, round_no):
    """The order of ``labels`` in round ``round_no``: as given in even
    rounds, reversed in odd ones (neither side always runs first, on a
    warm or a cold machine)."""
    labels = list(labels)
    return labels if round_no % 2 == 0 else labels[::-1]


def posting_latency(dbs, skus, workers, per_worker, rounds):
    """The same validations on each database of ``dbs`` (label → name),
    ``rounds`` rounds in alternating order: per label, the quantiles of
    the latencies (ms), the mean validations/s and the median of the
    rounds' means."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    samples = {label: [] for label in dbs}
    round_means = {label: [] for label in dbs}
    throughput = {label: [] for label in dbs}
    opened = {label: CommittedDatabase(name) for label, name in dbs.items()}
    try:
        for round_no in range(rounds):
            plans = plan(workers, per_worker, skus, 1 / 2, seed=10 + round_no)
            for label in alternate(dbs, round_no):
                print(f"==> posting round {round_no + 1}/{rounds} on {label}", flush=True)
                figures, latencies = run_validations(opened[label], plans)
                samples[label] += latencies
                round_means[label].append(statistics.fmean(latencies))
                throughput[label].append(figures)
    finally:
        for db in opened.values():
            db.close()
    return {
        label: dict(
            quantiles(samples[label]),
            throughput=statistics.fmean(throughput[label]),
            round_median=statistics.median(round_means[label]),
        )
        for label in dbs
    }


def posting_table(posting, overhead_label):
    """Markdown rows of posting latency per database (``posting``: label →
    posting_latency's figures, in column order), with the last column's
    change against the one before it."""
    labels = list(posting)
    base, last = posting[labels[-2]], posting[labels[-1]]
    lines = [
        row("figure", *labels, overhead_label),
        "|---|" + "---:|" * (len(labels) + 1),
    ]
    for key, label in (
        ("round_median", "median of the rounds' mean ms"),
        ("mean", "mean ms"),
        ("p50", "p50 ms"),
        ("p95", "p95 ms"),
        ("p99", "p99 ms"),
        ("throughput", "validations/s"),
    ):
        cells = [
            f"{posting[name][key]:.1f}" if key == "throughput" else f"{posting[name][key]:.0f}"
            for name in labels
        ]
        lines.append(row(label, *cells, f"{(last[key] / base[key] - 1) * 100:+.1f}%"))
    return lines


def posting_bars(ax, posting):
    """p50 and p95 posting latency per database on matplotlib axes ``ax``."""
    labels = list(posting)
    for offset, key in ((-0.2, "p50"), (0.2, "p95")):
        ax.bar(
            [i + offset for i in range(len(labels))],
            [posting[label][key] for label in labels],
            0.4,
            label=key,
        )
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title("posting latency (ms)")
    ax.legend()


def timed_call(db, func):
    """``func(env)`` as one request (db.call): the milliseconds it took and
    the SQL statements its transaction ran, the commit's included."""
    cursors = []

    def call(env):
        cursors.append((env.cr, env.cr.sql_log_count))
        return func(env)

    started = time.perf_counter()
    db.call(call)
    elapsed = (time.perf_counter() - started) * 1000
    cr, before = cursors[-1]
    return elapsed, cr.sql_log_count - before


def assign_deliveries(db, skus, deliveries, round_no):
    """``deliveries`` 1-line deliveries of distinct SKUs, created and
    unreserved first, then reserved by one ``action_assign`` (one request,
    as "Check Availability" on a selection or the scheduler); cancelled
    afterwards. Its (ms, statements), in a list."""
    chosen = random.Random(300 + round_no).sample(skus, deliveries)
    with db.env() as env:
        out_type = stock_flows.main_warehouse(env).out_type_id
        pickings = env["stock.picking"].browse(
            [stock_flows.create_picking(env, out_type, [(p, 1)]).id for p in chosen]
        )
        pickings.do_unreserve()
        ids = pickings.ids
    measured = timed_call(db, lambda env: env["stock.picking"].browse(ids).action_assign())
    with db.env() as env:
        pickings = env["stock.picking"].browse(ids)
        states = set(pickings.mapped("state"))
        pickings.action_cancel()
    if states != {"assigned"}:
        raise RuntimeError(f"action_assign left the deliveries in {states}")
    return [measured]
