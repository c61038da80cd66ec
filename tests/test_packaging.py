# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addons as OCA ships addons: each builds as an ``odoo-addon-<name>``
wheel with whool, and they install into a throwaway virtual environment
beside an Odoo installed there (here: the machine's, seen through
``--system-site-packages``), where Odoo finds them under ``odoo/addons``."""

import ast
import subprocess
import sys
import zipfile

import pytest

from odoo.tests import tagged

from tests.harness import stack


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
@pytest.mark.slow
class TestPackaging:
    def test_wheels_build_and_install(self, tmp_path):
        """pip wheel builds odoo-addon-<name> for the addons and the bridge (version and
        dependencies from the manifest), and a fresh virtual environment
        imports them from its own site-packages."""
        dist = tmp_path / "dist"
        for addon in stack.ADDONS + stack.BRIDGES:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "wheel",
                    "--quiet",
                    "--no-deps",
                    "--wheel-dir",
                    str(dist),
                    str(stack.ROOT / addon),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        wheels = sorted(dist.glob("*.whl"))
        assert [w.name.split("-")[0] for w in wheels] == [
            "odoo_addon_stock_event_bus",
            "odoo_addon_stock_scalable",
            "odoo_addon_stock_scalable_reporting",
            "odoo_addon_stock_scalable_reporting_account",
        ]
        for wheel in wheels:
            addon = wheel.name.split("-")[0].removeprefix("odoo_addon_")
            manifest = ast.literal_eval((stack.ROOT / addon / "__manifest__.py").read_text())
            assert wheel.name.split("-")[1].startswith(manifest["version"])
            with zipfile.ZipFile(wheel) as archive:
                names = archive.namelist()
                metadata = archive.read(
                    next(n for n in names if n.endswith(".dist-info/METADATA"))
                ).decode()
            assert f"odoo/addons/{addon}/__manifest__.py" in names
            assert "Requires-Dist: odoo==18.0.*" in metadata
            for dependency in manifest["depends"]:
                if dependency in stack.ADDONS:
                    assert f"Requires-Dist: odoo-addon-{dependency}==18.0.*" in metadata
            for package in manifest.get("external_dependencies", {}).get("python", []):
                assert f"Requires-Dist: {package}" in metadata
        venv = tmp_path / "venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
        )
        python = venv / "bin" / "python"
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", *map(str, wheels)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        result = subprocess.run(
            [
                str(python),
                "-c",
                "import odoo.addons.stock_scalable, odoo.addons.stock_event_bus,"
                " odoo.addons.stock_scalable_reporting,"
                " odoo.addons.stock_scalable_reporting_account as r; print(r.__file__)",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().startswith(str(venv)), result.stdout
