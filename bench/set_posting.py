# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Set-based posting (issue 28): large validations, counts, reservations and
a manufacturing order, vanilla Odoo and the three addons side by side in one
run, rounds alternating between the two.

Databases: Manufacturing (with Inventory) without demo data and 1,001 seeded
products with 1,000 units each in WH/Stock (vanilla Odoo), and a copy with
stock_scalable, stock_event_bus and stock_scalable_reporting. Each figure is
one request through the ORM in its own transaction (created beforehand in
another), with the SQL statements its transaction ran (Odoo's cursor
counter: unlike the time, that figure has no noise):

1. validations of deliveries of 1, 20, 200 and 1,000 lines (one unit of
   distinct SKUs each, reserved beforehand), and of a 200-line receipt;
2. a count applying 2,000 quants at once: every SKU in WH/Stock (one up,
   one down, alternating) and on a shelf under it (new keys the first time);
3. ``action_assign`` of 200 one-line deliveries at once (created and
   unreserved beforehand, cancelled afterwards);
4. a manufacturing order of 1 unit with 50 components, marked done
   (confirmed and reserved beforehand).

The goals of issue 28: the 200-line validation and the 2,000-quant count
at most 0.5× vanilla's time, the 1-line validation at most 1.0×.

    python3 -m bench.set_posting --write
"""

import os
import platform
import random
import statistics
import sys
import time

from bench.lib import cli, data, postings
from bench.lib.monitor import CpuMonitor, noise_line
from bench.lib.report import publish, pyplot, row, save
from tests.harness import odoo_conf, stack, stock_flows

VANILLA, OURS = "vanilla Odoo", "three addons"
SIDES = (VANILLA, OURS)
ADDONS = "stock_event_bus,stock_scalable_reporting"


def build(conf, prefix):
    """Vanilla Odoo with Manufacturing, and the copy with the three addons:
    label → database name, and the SKU ids."""
    vanilla, ours, product_ids = data.build_sku_databases(conf, prefix, 1000, modules="mrp")
    full = f"{prefix}_full"
    print(f"==> copying {ours} to {full} and installing {ADDONS}", flush=True)
    data.copy_and_install(conf, ours, full, ADDONS)
    return {VANILLA: vanilla, OURS: full}, product_ids[1:]


# ----------------------------------------------------------------------
# the workloads: each returns [(ms, statements)]
# ----------------------------------------------------------------------


def validation(db, skus, lines, round_no, kind="out_type_id"):
    """A transfer of 1 unit of each of ``lines`` SKUs, reserved in one
    request, validated in the next."""
    chosen = random.Random(round_no * 7919 + lines).sample(skus, lines)
    with db.env() as env:
        picking_type = stock_flows.main_warehouse(env)[kind]
        picking = stock_flows.create_picking(env, picking_type, [(p, 1) for p in chosen])
        picking.action_assign()
        stock_flows.take_demand(picking.move_ids)
        picking_id = picking.id
    measured = postings.timed_call(
        db, lambda env: env["stock.picking"].browse(picking_id).button_validate()
    )
    with db.env() as env:
        state = env["stock.picking"].browse(picking_id).state
    if state != "done":
        raise RuntimeError(f"the {lines}-line validation left its transfer {state}")
    return [measured]


def count(db, skus, quants, round_no):
    """A count of ``quants`` quants (half the SKUs in WH/Stock, the same on a
    shelf under it), one up and one down by turns, applied at once."""
    with db.env() as env:
        stock = stock_flows.main_warehouse(env).lot_stock_id
        shelf = env["stock.location"].search(
            [("name", "=", "Bench shelf"), ("location_id", "=", stock.id)], limit=1
        ) or env["stock.location"].create({"name": "Bench shelf", "location_id": stock.id})
        chosen = skus[: quants // 2]
        Quant = env["stock.quant"].with_context(inventory_mode=True)
        ids = []
        for location in (stock, shelf):
            existing = {
                q.product_id.id: q
                for q in Quant.search(
                    [("location_id", "=", location.id), ("product_id", "in", chosen)]
                )
            }
            vals = []
            for index, product_id in enumerate(chosen):
                quant = existing.get(product_id)
                current = quant.quantity if quant else 0
                target = current + (1 if (index + round_no) % 2 else -1) if current else 5
                if quant:
                    quant.inventory_quantity = target
                    ids.append(quant.id)
                else:
                    vals.append(
                        {
                            "product_id": product_id,
                            "location_id": location.id,
                            "inventory_quantity": target,
                        }
                    )
            ids += Quant.create(vals).ids
    if len(ids) != quants:
        raise RuntimeError(f"the count has {len(ids)} quants, not {quants}")
    measured = postings.timed_call(
        db,
        lambda env: env["stock.quant"]
        .with_context(inventory_mode=True)
        .browse(ids)
        .action_apply_inventory(),
    )
    with db.env() as env:
        left = env["stock.quant"].browse(ids).filtered("inventory_quantity_set")
    if left:
        raise RuntimeError(f"the count left {len(left)} quants unapplied")
    return [measured]


def manufacture(db, skus, components, round_no):
    """A manufacturing order of 1 unit whose bill has ``components``
    components (1 unit each), confirmed and reserved, then marked done."""
    chosen = random.Random(500 + round_no).sample(skus, components)
    with db.env() as env:
        finished = env["product.product"].create(
            {"name": f"Bench kit {round_no}", "is_storable": True}
        )
        bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": finished.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [(0, 0, {"product_id": p, "product_qty": 1}) for p in chosen],
            }
        )
        production = env["mrp.production"].create(
            {"product_id": finished.id, "bom_id": bom.id, "product_qty": 1}
        )
        production.action_confirm()
        production.action_assign()
        production.qty_producing = 1
        stock_flows.take_demand(production.move_raw_ids)
        production_id = production.id
    measured = postings.timed_call(
        db, lambda env: env["mrp.production"].browse(production_id).button_mark_done()
    )
    with db.env() as env:
        state = env["mrp.production"].browse(production_id).state
    if state != "done":
        raise RuntimeError(f"the manufacturing order is {state}")
    return [measured]


def workloads(args):
    """name → (label, function(db, skus, round_no))."""
    found = {}
    for lines in args.lines:
        found[f"validate_{lines}"] = (
            f"delivery of {lines:,} line{'s' if lines > 1 else ''}",
            lambda db, skus, r, n=lines: validation(db, skus, n, r),
        )
    found["receipt"] = (
        f"receipt of {args.receipt_lines} lines",
        lambda db, skus, r: validation(db, skus, args.receipt_lines, r, "in_type_id"),
    )
    found["count"] = (
        f"count applying {args.count:,} quants",
        lambda db, skus, r: count(db, skus, args.count, r),
    )
    found["assign"] = (
        f"action_assign of {args.deliveries} deliveries",
        lambda db, skus, r: postings.assign_deliveries(db, skus, args.deliveries, r),
    )
    found["manufacture"] = (
        f"manufacturing order, {args.components} components",
        lambda db, skus, r: manufacture(db, skus, args.components, r),
    )
    return found


def measure(dbs, skus, args, monitor):
    """Every workload, ``args.rounds`` rounds, the two sides alternating
    inside each round: per workload and side, each (ms, statements)."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    plan = workloads(args)
    if args.only:
        unknown = set(args.only) - set(plan)
        if unknown:
            raise SystemExit(f"unknown workloads {sorted(unknown)}; known: {', '.join(plan)}")
        plan = {name: plan[name] for name in args.only}
    samples = {name: {side: [] for side in SIDES} for name in plan}
    open_dbs = {side: CommittedDatabase(dbs[side]) for side in SIDES}
    mark = monitor.mark()
    try:
        for round_no in range(args.rounds):
            print(f"==> round {round_no + 1}/{args.rounds}", flush=True)
            for position, (name, (_label, func)) in enumerate(plan.items()):
                for side in postings.alternate(SIDES, round_no + position):
                    samples[name][side] += func(open_dbs[side], skus, round_no)
    finally:
        for db in open_dbs.values():
            db.close()
    return plan, samples, monitor.cores(mark)


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------

GOALS = {"validate_200": 0.5, "count": 0.5, "validate_1": 1.0}


def _range(values):
    return min(values), max(values)


def figures(samples):
    """Per workload: each side's median ms and statements, and the ratio."""
    result = {}
    for name, sides in samples.items():
        medians = {side: statistics.median(ms for ms, _n in sides[side]) for side in SIDES}
        statements = {side: statistics.median(n for _ms, n in sides[side]) for side in SIDES}
        result[name] = dict(
            ms=medians,
            statements=statements,
            ratio=medians[OURS] / medians[VANILLA],
            spread={side: _range([ms for ms, _n in sides[side]]) for side in SIDES},
        )
    return result


def report(plan, found, conditions, noise):
    lines = [
        "## Set-based posting: large validations, counts, reservations (issue 28)",
        "",
        "`python3 -m bench.set_posting --write`. " + conditions,
        "",
        row(
            "workload",
            f"{VANILLA} ms (min–max)",
            f"{OURS} ms (min–max)",
            "ours / vanilla",
            "goal",
            "SQL statements vanilla → ours",
        ),
        row(*["---"] * 6),
    ]
    for name, (label, _func) in plan.items():
        f = found[name]
        goal = GOALS.get(name)
        verdict = ""
        if goal:
            verdict = f"≤ {goal:.1f}× " + ("**met**" if f["ratio"] <= goal else "**missed**")
        cells = {
            side: "{:,.0f} ({:,.0f}–{:,.0f})".format(f["ms"][side], *f["spread"][side])
            for side in SIDES
        }
        lines.append(
            row(
                label,
                cells[VANILLA],
                cells[OURS],
                f"{f['ratio']:.2f}×",
                verdict,
                f"{f['statements'][VANILLA]:,.0f} → {f['statements'][OURS]:,.0f}",
            )
        )
    lines += ["", noise, "", "![set-based posting](img/set_posting.png)"]
    return "\n".join(lines)


def plot(plan, found, path):
    plt = pyplot()
    names = list(plan)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.38
    for offset, side in ((-width / 2, VANILLA), (width / 2, OURS)):
        ax.barh(
            [i + offset for i in range(len(names))],
            [found[n]["ms"][side] for n in names],
            height=width,
            label=side,
        )
    ax.set_yticks(range(len(names)), [plan[n][0] for n in names])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median ms per request (log scale)")
    ax.set_title("Set-based posting: vanilla Odoo vs the three addons")
    ax.legend()
    save(fig, path)


def main():
    parser = cli.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per workload and side")
    parser.add_argument(
        "--lines", type=int, nargs="+", default=[1, 20, 200, 1000], help="delivery sizes"
    )
    parser.add_argument("--receipt-lines", type=int, default=200, help="lines of the receipt")
    parser.add_argument("--count", type=int, default=2000, help="quants applied by the count")
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries assigned at once")
    parser.add_argument("--components", type=int, default=50, help="components of the MO")
    parser.add_argument(
        "--only",
        nargs="+",
        help="run these workloads only (validate_N, receipt, count, assign, manufacture)",
    )
    args = cli.parse(parser)

    conf = odoo_conf.bench_odoo_conf(db_maxconn=64, log_level="warn")
    prefix = f"bench_setpost_{int(time.time())}"
    monitor = CpuMonitor(prefix)
    monitor.start()
    try:
        dbs, skus = build(conf, prefix)
        plan, samples, cores = measure(dbs, skus, args, monitor)
        found = figures(samples)
        conditions = (
            f"{args.rounds} rounds, the two sides alternating inside each round, each figure "
            f"one request in its own transaction; median of the rounds. {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, PostgreSQL on this machine."
        )
        body = report(plan, found, conditions, noise_line(cores))
        publish("set_posting", body, args.write, lambda path: plot(plan, found, path))
    finally:
        monitor.stop()
        if not args.keep:
            stack.drop_databases_with_prefix(prefix)


if __name__ == "__main__":
    sys.exit(main())
