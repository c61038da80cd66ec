# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The tables and plot of bench/command_throughput.py: inventory commands
over AMQP and HTTP against 1-line pickings through the ORM."""

from .report import pyplot, row, save


def fmt_rate(figures):
    return f"{figures['rate']:.1f}"


def cpu_cell(figures):
    return f"{figures['cpu']['bench']:.2f} / {figures['cpu']['other']:.2f}"


def report(results, conditions, command_line):
    """The section of docs/benchmarks.md: commands/s per channel, the AMQP
    batches, HTTP latency, the goals."""
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

    def channel_row(scenario, channel, database, figures, base):
        check = figures["check"]
        ok = "yes" if not check["mismatches"] else f"no ({check['mismatches']} products)"
        lines.append(
            row(
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
    channel_row(
        hot_label,
        f"JSON-RPC (ORM), {hot['workers']} threads",
        "vanilla",
        hot["orm_vanilla"],
        base_hot,
    )
    channel_row(
        hot_label,
        f"JSON-RPC (ORM), {hot['workers']} threads",
        "stock_scalable",
        hot["orm_ours"],
        base_hot,
    )
    channel_row(
        hot_label,
        f"AMQP, {hot['publishers']} publishers, 1 consumer",
        "stock_scalable",
        hot["amqp"],
        base_hot,
    )
    skus_label = f"{skus['products']:,} products, {n_skus:,} moves"
    channel_row(
        skus_label,
        f"JSON-RPC (ORM), {skus['workers']} threads",
        "stock_scalable",
        skus["orm_ours"],
        base_skus,
    )
    channel_row(
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
            row(
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
            row(
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
    """Moves/s per channel (hot product, many products) and HTTP latency."""
    plt = pyplot()
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
    save(fig, path)
