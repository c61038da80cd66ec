# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The tables and plots of bench/loadtest.py: steps, sustained postings/s,
latency, CPU and memory per process, log lines, invariants, and the
headline of docs/scaling.md."""

import statistics

from .report import pyplot, quantiles, row, save
from .workload import POSTING_OPS, REPORT_OPS


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
                row(
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
            row(
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
        lines.append(row(op, *cells))
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
        lines.append(row(label, *cells))
    lines += ["", "### Log lines (retries and fallbacks)", ""]
    kinds = sorted({k for r in results for k in r["logs"]})
    lines += [
        "| log line | " + " | ".join(r["phase"] for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    lines += [row(k, *(r["logs"].get(k, 0) for r in results)) for k in kinds]
    lines += ["", "### Invariants after each phase", "", "| phase | invariant | result | detail |"]
    lines.append("|---|---|---|---|")
    for r in results:
        for c in r["checks"]:
            lines.append(
                row(r["phase"], c["name"], "PASS" if c["ok"] else "**FAIL**", c["detail"])
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
            row(
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
    """Postings/s and latency over time, a row of plots per phase."""
    plt = pyplot()
    fig, axes = plt.subplots(len(results), 2, figsize=(14, 4 * len(results)), squeeze=False)
    colors = dict(
        zip(POSTING_OPS + REPORT_OPS + ("http_replay",), plt.cm.tab10.colors, strict=False)
    )
    for line, r in enumerate(results):
        records = [x for x in r["records"] if x["end"] is not None and x["step"] >= 0]
        horizon = int(max((x["end"] for x in records), default=1)) + 1
        ax = axes[line][0]
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
        ax = axes[line][1]
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
                    q = quantiles(values)
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
    save(fig, path, dpi=80)
