# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""OCA stock_barcodes (the scanning app of Odoo Community) beside the addons:
pickings scanned with its reader wizard and validated from it post through
stock_scalable's quant lock and negative-stock guard, and stock_event_bus
writes exactly one event per posted line.

stock_barcodes (PyPI ``odoo-addon-stock-barcodes``, requirements-test.txt)
needs an Odoo 18.0 source of January 2026 or newer (its views use a ``help``
attribute on list fields, odoo/odoo#240261). Each test installs it on a copy
of the template (our addons installed), as an admin adds it to a running
database, and works there through the ORM in real, committed transactions.
The reader is set up as scripts/run-demo sets up the demo
(demo_loader.configure_barcodes): the shipped option groups, "Picking OUT
options" made to read a product's barcode."""

import subprocess

import pytest

from odoo.exceptions import UserError
from odoo.tests import tagged

from scripts import demo_loader
from tests.harness import stack, stock_flows
from tests.harness.odoo_db import CommittedDatabase

BARCODE = "2000000000015"


@pytest.fixture
def barcodes_db(harness, fresh_database):
    """A committed copy of the template with stock_barcodes installed."""
    pytest.importorskip("odoo.addons.stock_barcodes")
    name = fresh_database()
    result = subprocess.run(
        stack.odoo_command()
        + ["-c", harness["conf"], "-d", name, "-i", "stock_barcodes", "--stop-after-init"]
        + ["--log-level=warn", "--http-port=0"],
        capture_output=True,
        text=True,
        env=stack.odoo_env(),
        timeout=1200,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Failed to load registry" not in output, output[-3000:]
    db = CommittedDatabase(name)
    yield db
    db.close()


def _scan(wizard, barcode):
    """What the reader's barcode field does on a scan (stock_barcodes' own
    tests drive it the same way)."""
    wizard._barcode_scanned = barcode
    wizard._on_barcode_scanned()
    wizard.dummy_on_barcode_scanned()


def _reader(env, picking_type, product, qty):
    """A confirmed 1-line picking of ``qty`` units, opened in the barcode
    reader as its Scan button does; returns (picking, reader)."""
    picking = stock_flows.create_picking(env, picking_type, [(product.id, qty)])
    picking.action_assign()
    action = picking.action_barcode_scan()
    return picking, env[action["res_model"]].browse(action["res_id"])


def _scanned_receipt(env, picking_type, product, qty):
    """A receipt of ``qty`` units read with "Picking IN options": one scan
    of the product's EAN per unit."""
    picking, reader = _reader(env, picking_type, product, qty)
    for _ in range(qty):
        _scan(reader, BARCODE)
    assert sum(picking.move_line_ids.mapped("qty_picked")) == qty
    return picking, reader


def _scanned_delivery(env, picking_type, product, qty):
    """A delivery of ``qty`` units read with "Picking OUT options" as
    configure_barcodes leaves it: the product's EAN scanned once (found, not
    "Barcode not found with this screen values"), the quantity typed, the
    reading confirmed."""
    picking, reader = _reader(env, picking_type, product, qty)
    _scan(reader, BARCODE)
    assert reader.message_type != "not_found", reader.message
    assert reader.product_id == product
    reader.product_qty = qty
    assert reader.action_confirm(), reader.message
    assert sum(picking.move_line_ids.mapped("qty_picked")) == qty
    return picking, reader


def _validate_from_reader(reader_id):
    """A request that presses the reader's Validate."""

    def validate(env):
        return env["wiz.stock.barcodes.read.picking"].browse(reader_id).action_validate_picking()

    return validate


def _events(env, lines):
    """{move line id: number of outbox events about it}."""
    counts = dict.fromkeys(lines.ids, 0)
    for event in env["stock.event.outbox"].search([("product_id", "in", lines.product_id.ids)]):
        line_id = event.payload.get("move_line_id")
        if line_id in counts:
            counts[line_id] += 1
    return counts


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
@pytest.mark.slow
class TestStockBarcodes:
    def test_scanned_pickings_post_through_the_quant_lock(self, barcodes_db):
        """With the demo's set-up of the shipped groups: a receipt of 3
        scanned and validated in the reader (loose: the demo's "Picking IN"
        packs nothing), then two deliveries of 2, the product's EAN read in
        "Picking OUT" and the quantity typed, validated from their readers at
        the same moment: one posts, the other is refused by the guard (3 on
        hand), on one quant row, the ledger exact; one event per posted line
        and none for the refused delivery."""
        db = barcodes_db
        with db.env() as env:
            product = stock_flows.create_product(env, "Scanned SKU", barcode=BARCODE)
            wh = stock_flows.main_warehouse(env)
            picking_in, picking_out = demo_loader.configure_barcodes(env)
            assert picking_out == env.ref(demo_loader.BARCODES_OUT)
            assert wh.in_type_id.barcode_option_group_id == picking_in
            assert wh.out_type_id.barcode_option_group_id == picking_out
            receipt, reader = _scanned_receipt(env, wh.in_type_id, product, 3)
            reader.action_validate_picking()
            assert receipt.state == "done" and not receipt.move_line_ids.result_package_id
            assert product.qty_available == 3
            receipt_lines = receipt.move_line_ids
            assert _events(env, receipt_lines) == dict.fromkeys(receipt_lines.ids, 1)
            receipt_line_ids = receipt_lines.ids
            readers = []
            for _ in range(2):
                _picking, reader = _scanned_delivery(env, wh.out_type_id, product, 2)
                readers.append(reader.id)
            product_id, stock_id = product.id, wh.lot_stock_id.id

        outcomes = db.run_concurrently(
            [lambda r=r: db.call(_validate_from_reader(r))[0] for r in readers]
        )
        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["error", "ok"], outcomes
        # The loser waited on the quant row the winner held, then was retried
        # as Odoo's RPC layer retries a serialization failure.
        assert db.retry_errors, "the validations never raced: the test proves nothing"
        refusal = next(value for kind, value in outcomes if kind == "error")
        assert isinstance(refusal, UserError), repr(refusal)
        assert "Not enough stock" in str(refusal) and "Scanned SKU" in str(refusal), refusal

        with db.env() as env:
            product = env["product.product"].browse(product_id)
            assert product.qty_available == 1
            quants = env["stock.quant"].search(
                [("product_id", "=", product_id), ("location_id", "=", stock_id)]
            )
            assert len(quants) == 1 and quants.quantity == 1
            assert env["stock.quant"]._sscale_ledger_drift(product_ids=[product_id]) == []
            pickings = env["wiz.stock.barcodes.read.picking"].browse(readers).picking_id
            done = pickings.filtered(lambda p: p.state == "done")
            refused = pickings - done
            assert len(done) == 1 and refused.state != "done"
            assert _events(env, done.move_line_ids) == dict.fromkeys(done.move_line_ids.ids, 1)
            assert refused.move_line_ids
            assert _events(env, refused.move_line_ids) == dict.fromkeys(
                refused.move_line_ids.ids, 0
            )
            # Nothing else was published about the product: the receipt's
            # lines and the posted delivery's.
            events = env["stock.event.outbox"].search_count([("product_id", "=", product_id)])
            assert events == len(receipt_line_ids) + len(done.move_line_ids)
