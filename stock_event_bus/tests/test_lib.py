# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""lib/ is plain Python: installed as the package stock_events (README,
"A client for downstream services"), every module imports without Odoo;
so does stock_scalable's lib/ (the movement types, the command format)."""

import subprocess
import sys
from pathlib import Path

from odoo.tests import BaseCase, tagged

from odoo.addons import stock_scalable

LIBS = {
    "stock_event_bus": (Path(__file__).resolve().parent.parent / "lib", "events"),
    "stock_scalable": (Path(stock_scalable.__file__).resolve().parent / "lib", "movement_types"),
}

# Run in a fresh interpreter: this one has Odoo loaded.
PROBE = """
import importlib, importlib.util, sys
lib = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "stock_events", lib + "/__init__.py", submodule_search_locations=[lib]
)
package = importlib.util.module_from_spec(spec)
sys.modules["stock_events"] = package
spec.loader.exec_module(package)
for name in sys.argv[2:]:
    importlib.import_module("stock_events." + name)
print(sorted(m for m in sys.modules if m == "odoo" or m.startswith("odoo.")))
"""


@tagged("post_install", "-at_install")
class TestLibWithoutOdoo(BaseCase):
    def test_every_module_imports_without_odoo(self):
        """No module of lib/ imports Odoo, directly or through another addon."""
        for addon, (lib, known) in LIBS.items():
            with self.subTest(addon=addon):
                modules = sorted(p.stem for p in lib.glob("*.py") if p.stem != "__init__")
                self.assertIn(known, modules)
                result = subprocess.run(
                    [sys.executable, "-c", PROBE, str(lib), *modules],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout.strip(), "[]")
