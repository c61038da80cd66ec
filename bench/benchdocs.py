# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Write one benchmark's section of docs/benchmarks.md, between its markers."""

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


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
