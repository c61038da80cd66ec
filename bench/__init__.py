# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks: one script per performance goal (``python3 -m
bench.<name>`` from the repository's root), over the library in
``bench/lib``."""

# Until the test harness package (tests/harness) is merged: its modules by
# their bare names, from scripts/ and tests/.
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT / "scripts"), str(_ROOT / "tests")]
