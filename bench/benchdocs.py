# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Write one benchmark's section of docs/benchmarks.md, between its markers."""

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def row(*cells):
    """One line of a Markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def replace_section(name, body):
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->``
    (appended at the end the first time)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = DOC.read_text()
    if start in text:
        text = text.split(start)[0] + section + text.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)
