# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""OCA stock_barcodes (the scanning app of Odoo Community) beside the addons.

Its only 18.0 release on PyPI (18.0.1.6.0.4) puts a ``help`` attribute on
list fields, which the view schema of the Odoo 18.0 source this project is
developed against (May 2025) refuses; Odoo accepted the attribute in January
2026 (odoo/odoo#240261). No newer Community 18.0 source can be fetched here
(stock_scalable/readme/ROADMAP.md). This test pins that state, on vanilla
Odoo and with our addons: when it fails, stock_barcodes installs, and the
test of its reader wizard posting through the quant lock can be written."""

import subprocess

import pytest
import stacklib

from odoo.tests import tagged

REFUSAL = "Invalid attribute help for element field"


def _install(harness, db_name, modules):
    return subprocess.run(
        stacklib.odoo_command()
        + [
            "-c",
            harness["conf"],
            "-d",
            db_name,
            "-i",
            modules,
            "--stop-after-init",
            "--log-level=warn",
            "--without-demo=all",
        ],
        capture_output=True,
        text=True,
        env=stacklib.odoo_env(),
        timeout=1200,
        check=False,
    )


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.slow
class TestStockBarcodes:
    def test_the_pypi_release_is_refused_by_this_odoo_with_and_without_our_addons(
        self, harness, fresh_database
    ):
        pytest.importorskip("odoo.addons.stock_barcodes")
        ours = fresh_database()  # a copy of the template: our addons installed
        vanilla = fresh_database(copy=False)
        for db_name, modules in ((ours, "stock_barcodes"), (vanilla, "stock,stock_barcodes")):
            result = _install(harness, db_name, modules)
            output = result.stdout + result.stderr
            assert result.returncode != 0 or "Failed to load registry" in output, output[-3000:]
            assert REFUSAL in output, output[-3000:]
