# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client package for downstream services (the root pyproject.toml):
``stock-events-client`` installs with pip into a fresh virtual environment
without Odoo, as the package ``stock_events`` (stock_event_bus/lib) with the
schemas of stock_event_bus/schemas as its package data, and its console
script ``stock-events`` runs."""

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from odoo.tests import tagged

from tests.harness import stack

# What the package is built from: pyproject.toml's package-dir mapping.
SOURCES = ("pyproject.toml", "stock_event_bus/lib", "stock_event_bus/schemas")

PROBE = """
import json, sys, uuid
import stock_events.cli, stock_events.consumer, stock_events.projection
import stock_events.snapshot_client, stock_events.sync
from stock_events import events
assert not [m for m in sys.modules if m == "odoo" or m.startswith("odoo.")]
level = {"schema_version": "1.0", "event_id": str(uuid.uuid4()), "event_type": "LEVEL",
         "occurred_at": "2026-12-07T10:05:31Z", "company_id": 1, "warehouse_id": 1,
         "product_id": 42, "default_code": None, "barcode": None, "sequence": 3,
         "on_hand": 5.0, "reserved": 1.0, "available": 4.0, "uom": "Units"}
events.validate(level)
try:
    events.validate(dict(level, schema_version="2.0"))
except events.PayloadError as exc:
    unknown = str(exc)
with stock_events.projection.Projection(f"sqlite:///{sys.argv[1]}") as projection:
    applied = projection.apply(level), projection.apply(level)
import psycopg2  # the [postgresql] extra
print(json.dumps({"schema": str(events.SCHEMA_PATH), "applied": applied, "unknown": unknown}))
"""


def _run(cmd, **kwargs):
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, timeout=900, **kwargs
    )


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
@pytest.mark.slow
class TestClientPackage:
    def test_installs_and_runs_without_odoo(self, tmp_path):
        """pip installs stock-events-client[postgresql] from the repository's
        files into a fresh venv (newest pip and setuptools, no Odoo, no
        system site-packages): the modules import without Odoo, find their
        schemas in the installed package, the projection works, and
        ``stock-events --help`` runs; the wheel carries each schema once."""
        source = tmp_path / "src"
        for name in SOURCES:
            origin = stack.ROOT / name
            if origin.is_dir():
                shutil.copytree(
                    origin, source / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, source / name)
        venv = tmp_path / "venv"
        assert _run([sys.executable, "-m", "venv", venv]).returncode == 0
        pip = [venv / "bin" / "python", "-m", "pip", "--quiet"]
        result = _run([*pip, "install", "--upgrade", "pip", "setuptools"])
        assert result.returncode == 0, result.stdout + result.stderr
        result = _run([*pip, "wheel", "--no-deps", "--wheel-dir", tmp_path / "dist", source])
        assert result.returncode == 0, result.stdout + result.stderr
        (wheel,) = (tmp_path / "dist").glob("stock_events_client-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
        schemas = sorted(p.name for p in (stack.ROOT / "stock_event_bus/schemas").glob("*.json"))
        assert sorted(n.split("/")[-1] for n in names if n.endswith(".json")) == schemas
        assert all(f"stock_events/schemas/{s}" in names for s in schemas)
        assert "stock_events/py.typed" in names
        assert "stock_events/cli.py" in names
        result = _run([*pip, "install", f"{wheel}[postgresql]"])
        assert result.returncode == 0, result.stdout + result.stderr

        result = _run([venv / "bin" / "python", "-c", PROBE, tmp_path / "levels.db"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stdout)
        assert probe["schema"].startswith(str(venv)), probe
        assert probe["schema"].endswith("stock_events/schemas/stock_event.v1.schema.json")
        assert probe["applied"] == [True, False]
        assert "unknown schema_version '2.0'" in probe["unknown"]

        script = venv / "bin" / "stock-events"
        result = _run([script, "--help"])
        assert result.returncode == 0, result.stderr
        assert "sync" in result.stdout and "reconcile" in result.stdout
        result = _run([script, "sync", "--help"])
        assert result.returncode == 0 and "--max-gap" in result.stdout, result.stderr
        # Missing settings: a usage error naming the option and its variable.
        result = _run([script, "reconcile", "--odoo", "http://127.0.0.1:1"], env={})
        assert result.returncode == 2
        assert "--api-key is required (or $STOCK_EVENTS_API_KEY)" in result.stderr
