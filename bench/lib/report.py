# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks' output: Markdown rows, their sections of
docs/benchmarks.md (between markers), percentiles and plots."""

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"


def row(*cells):
    """One line of a Markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def replace_section(name, body, doc=None):
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->``
    of ``doc`` (docs/benchmarks.md by default; appended at the end the
    first time)."""
    doc = Path(doc or DOC)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = doc.read_text()
    if start in text:
        text = text.split(start)[0] + section + text.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def publish(name, body, write, draw, image=None):
    """Print ``body``; with ``write``, ``draw(path)`` the plot to
    docs/img/``image`` (default: ``name``.png) and put ``body`` in
    docs/benchmarks.md as the section ``name``."""
    image = image or f"{name}.png"
    print()
    print(body)
    if write:
        draw(IMG / image)
        replace_section(name, body)
        print(f"==> wrote docs/benchmarks.md and docs/img/{image}")


def quantiles(values):
    """``{"p50", "p95", "p99", "mean"}`` of ``values`` (0 for none; one
    value is each of them)."""
    values = sorted(values)
    if len(values) < 2:
        values = values * 2 or [0.0, 0.0]
    cuts = statistics.quantiles(values, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "mean": statistics.fmean(values)}


def pyplot():
    """matplotlib.pyplot, drawing to files (no display)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save(fig, path, dpi=90):
    """Lay ``fig`` out and write it to ``path`` (its folder made if needed)."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
