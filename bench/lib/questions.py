# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Report questions asked through the ORM, vanilla Odoo's way and the
reporting addons' way, timed side by side (report_latency,
valuation_latency): the timing, the install that builds the views, the
table, the plot and the section of docs/benchmarks.md."""

import os
import platform
import statistics
import textwrap
import time

from . import data, report
from .report import pyplot, row, save


def timed(env, func, runs):
    """p50/p95 of ``func``, each run with an empty ORM cache, as a new
    request of the web client starts (after one warm-up for the plans)."""
    func()
    samples = []
    for _run in range(runs):
        env.invalidate_all()
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"p50": statistics.median(samples), "p95": p95, "samples": samples}


def ask(env, questions, runs, after=None):
    """Time each of ``questions`` [(name, vanilla callable, ours callable,
    what answered ours)], vanilla then ours, and print the figures; then
    ``after(name, vanilla, ours)`` if given. Returns [(name, vanilla
    timings, ours, what answered ours)]."""
    results = []
    for name, vanilla, ours, answered in questions:
        print(f"==> {name} (ours: {answered})", flush=True)
        v, o = timed(env, vanilla, runs), timed(env, ours, runs)
        results.append((name, v, o, answered))
        print(
            f"    vanilla p50 {v['p50']:.0f} ms p95 {v['p95']:.0f} ms; "
            f"ours p50 {o['p50']:.1f} ms p95 {o['p95']:.1f} ms"
        )
        if after is not None:
            after(name, vanilla, ours)
    return results


def install_reporting(conf, dbname, keep):
    """Install stock_scalable_reporting on ``dbname`` (the initial build of
    the views): ``(seconds, the log lines of the build that ``keep(line)``
    keeps)``."""
    started = time.perf_counter()
    install = data.install(conf, dbname, "stock_scalable_reporting")
    seconds = time.perf_counter() - started
    progress = [line.split(": ", 2)[-1] for line in install.stderr.splitlines() if keep(line)]
    print("\n".join("    " + line for line in progress))
    return seconds, progress


def latency_table(results):
    """The markdown table of ``results`` [(question, vanilla timings, ours,
    what answered ours)]."""
    lines = [
        "| question | vanilla p50 / p95 ms | ours p50 / p95 ms | vanilla / ours (p95) |"
        " ours answered by |",
        "|---|---:|---:|---:|---|",
    ]
    for name, v, o, answered in results:
        lines.append(
            row(
                name,
                f"{v['p50']:.0f} / {v['p95']:.0f}",
                f"{o['p50']:.1f} / {o['p95']:.1f}",
                f"{v['p95'] / o['p95']:.0f}×",
                f"`{answered}`",
            )
        )
    return lines


def run_conditions(runs):
    """How the questions were timed, for the results' heading."""
    return (
        f"{runs} timed runs per question after one warm-up, each with an empty "
        "ORM cache as a new request has, through the ORM "
        "(read_group, as the pivot and grouped lists call it), on one database; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        "PostgreSQL on this machine."
    )


def publish(name, title, command, args, lines, build, progress, results):
    """Print the section ``name`` of docs/benchmarks.md and, with
    ``args.write``, write it and its plot of ``results``: ``title``, the
    command line (``--runs`` when not the default), the table ``lines``, the
    install log's ``progress`` under ``build`` and the plot."""
    runs = args.runs
    body = (
        f"## {title}\n\n"
        f"Command: `{command}"
        + (f" --runs {runs}" if runs != 10 else "")
        + f" --write`. {run_conditions(runs)}\n\n"
        + "\n".join(lines)
        + f"\n\n{build}:\n\n"
        + "\n".join(f"    {line}" for line in progress)
        + f"\n\n![vanilla vs ours, p95 per question](img/{name}.png)"
    )
    report.publish(name, body, args.write, lambda path: plot(results, path))


def plot(results, path):
    """p95 per question, vanilla against ours, on a log scale."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(12, 5))
    names = [textwrap.fill(name, 22) for name, _v, _o, _a in results]
    xs = range(len(names))
    ax.bar(
        [x - 0.2 for x in xs], [v["p95"] for _n, v, _o, _a in results], 0.4, label="vanilla Odoo"
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [o["p95"] for _n, _v, o, _a in results],
        0.4,
        label="stock_scalable_reporting",
    )
    ax.set_yscale("log")
    ax.axhline(100, color="red", linestyle="--", label="100 ms goal")
    ax.set_xticks(list(xs), names, fontsize=8)
    ax.set_ylabel("p95 ms (log scale)")
    ax.legend()
    save(fig, path)
