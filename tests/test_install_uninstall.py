# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Install on a database that already holds stock data, then uninstall: the
addons must leave no table, column, view, trigger, function, cron, menu or
other record behind, and must not take anything of Odoo's with them."""

import json

import pytest

from odoo.tests import tagged

from tests.harness import stack

POST_STOCK_DATA = """
warehouse = env["stock.warehouse"].search([], limit=1)
product = env["product.product"].create({"name": "Pre-existing Stock", "is_storable": True})
quant = env["stock.quant"].with_context(inventory_mode=True).create(
    {"product_id": product.id, "location_id": warehouse.lot_stock_id.id,
     "inventory_quantity": 25})
quant.action_apply_inventory()
# Odoo's count of 0 where nothing is stocked, applied: a quant with a NULL
# quantity (stock_scalable sets it to 0 at install).
empty = env["product.product"].create({"name": "Counted Empty", "is_storable": True})
env["stock.quant"].with_context(inventory_mode=True).create(
    {"product_id": empty.id, "location_id": warehouse.lot_stock_id.id,
     "inventory_quantity": 0}).action_apply_inventory()
picking = env["stock.picking"].create({
    "picking_type_id": warehouse.out_type_id.id,
    "location_id": warehouse.lot_stock_id.id,
    "location_dest_id": env.ref("stock.stock_location_customers").id,
    "move_ids": [(0, 0, {"name": "out", "product_id": product.id, "product_uom_qty": 5,
                         "location_id": warehouse.lot_stock_id.id,
                         "location_dest_id": env.ref("stock.stock_location_customers").id})],
})
picking.action_confirm()
picking.action_assign()
picking.button_validate()
# What Odoo's SKIP LOCKED leaves under contention: the key's 20 units split
# over two quant rows (stock_scalable merges them at install).
quant = env["stock.quant"].search([("product_id", "=", product.id),
                                   ("location_id", "=", warehouse.lot_stock_id.id)])
env.flush_all()
env.cr.execute("UPDATE stock_quant SET quantity = quantity - 7 WHERE id = %s", [quant.id])
env.cr.execute(
    "INSERT INTO stock_quant (product_id, location_id, company_id, quantity, reserved_quantity,"
    " in_date) SELECT product_id, location_id, company_id, 7, 0, in_date FROM stock_quant"
    " WHERE id = %s", [quant.id])
env.cr.commit()
"""

CHECK_LEDGER = """
import json
product = env["product.product"].search([("name", "=", "Pre-existing Stock")])
warehouse = env["stock.warehouse"].search([], limit=1)
env.cr.execute("SELECT COUNT(*) FROM stock_quant WHERE quantity IS NULL")
null_quantities = env.cr.fetchone()[0]
print("RESULT " + json.dumps({
    "qty_available": product.qty_available,
    "stock_quant_rows": env["stock.quant"].search_count(
        [("product_id", "=", product.id), ("location_id", "=", warehouse.lot_stock_id.id)]),
    "drift": env["stock.quant"]._sscale_ledger_drift(),
    "null_quantities": null_quantities,
}))
"""

UNINSTALL = f"""
addons = env["ir.module.module"].search([("name", "in", {list(stack.ADDONS)!r})])
addons.button_immediate_uninstall()
"""

SNAPSHOT = """
SELECT 'relation ' || c.relname || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
UNION ALL SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type
                 || ' nullable ' || is_nullable || ' default ' || COALESCE(column_default, '-')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'check ' || conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
  JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.contype = 'c'
UNION ALL SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text
  FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'function ' || p.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
UNION ALL SELECT 'constraint ' || conname FROM pg_constraint c
  JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
UNION ALL SELECT 'cron ' || cron_name FROM ir_cron
UNION ALL SELECT 'menu ' || id FROM ir_ui_menu
UNION ALL SELECT 'view ' || id FROM ir_ui_view
UNION ALL SELECT 'action ' || id FROM ir_actions
UNION ALL SELECT 'model ' || model FROM ir_model
UNION ALL SELECT 'field ' || model || '.' || name FROM ir_model_fields
UNION ALL SELECT 'rule ' || id FROM ir_rule
UNION ALL SELECT 'access ' || id FROM ir_model_access
UNION ALL SELECT 'group ' || id FROM res_groups
UNION ALL SELECT 'parameter ' || key FROM ir_config_parameter
  WHERE key NOT IN ('database.uuid', 'database.create_date', 'base.login_cooldown_duration')
"""


def _query(dbname, query, params=None):
    conn = stack.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else []
    finally:
        conn.close()


def _snapshot(dbname):
    return {row[0] for row in _query(dbname, SNAPSHOT)}


def _states(dbname):
    return dict(
        _query(
            dbname,
            "SELECT name, state FROM ir_module_module WHERE name IN %s",
            [stack.ADDONS],
        )
    )


def _module_states(dbname, names):
    return dict(
        _query(dbname, "SELECT name, state FROM ir_module_module WHERE name IN %s", [names])
    )


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
@pytest.mark.slow
class TestInstallUninstall:
    def test_install_on_stock_data_then_uninstall_leaves_no_trace(self, fresh_database, odoo_cli):
        """odoo -i on a production-like database (no demo, posted stock, a
        split quant) installs all three and merges the split quant; uninstall
        returns the catalog to what it was."""
        db = fresh_database(copy=False)
        _ok(odoo_cli("-d", db, "-i", "stock", "--without-demo=all", "--stop-after-init"))
        _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=POST_STOCK_DATA))
        before = _snapshot(db)
        null_quantities = "SELECT COUNT(*) FROM stock_quant WHERE quantity IS NULL"
        assert _query(db, null_quantities) == [(1,)]  # Odoo's count of 0

        _ok(odoo_cli("-d", db, "-i", ",".join(stack.ADDONS), "--stop-after-init"))
        assert _states(db) == dict.fromkeys(stack.ADDONS, "installed")
        out = _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=CHECK_LEDGER)).stdout
        ledger = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
        # The split quants were merged at install: one row, nothing lost.
        assert ledger == {
            "qty_available": 20.0,
            "stock_quant_rows": 1,
            "drift": [],
            "null_quantities": 0,
        }
        installed = _snapshot(db)
        assert (
            "check stock_quant_sscale_quantity_set CHECK ((quantity IS NOT NULL))"
            in installed - before
        )
        assert "relation stock_event_outbox r" in installed - before
        assert "relation stock_level_change r" in installed - before
        assert "relation stock_level_sequence r" in installed - before
        assert "relation stock_report_refresh r" in installed - before
        # What the reporting addon builds at run time, the ORM does not know:
        # the uninstall hook must find it by name.
        _query(db, "CREATE MATERIALIZED VIEW sscale_rpt_probe AS SELECT 1 AS id")

        _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=UNINSTALL))
        assert _states(db) == dict.fromkeys(stack.ADDONS, "uninstalled")
        after = _snapshot(db)
        assert sorted(after - before) == [], "left behind by the uninstall"
        assert sorted(before - after) == [], "removed by the uninstall but not ours"
        leftovers = _query(
            db,
            "SELECT module, model, name FROM ir_model_data WHERE module IN %s",
            [stack.ADDONS],
        )
        assert leftovers == []

    def test_valuation_bridge_installs_beside_stock_account_and_uninstalls(
        self, fresh_database, odoo_cli
    ):
        """With stock_account there, installing the addons brings the
        valuation bridge (auto_install); uninstalling the bridge drops its
        views, journal and trigger and leaves the reporting addon's; then
        uninstalling everything returns the catalog to what it was."""
        db = fresh_database(copy=False)
        _ok(odoo_cli("-d", db, "-i", "stock_account", "--without-demo=all", "--stop-after-init"))
        _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=POST_STOCK_DATA))
        before = _snapshot(db)
        all_addons = stack.ADDONS + stack.BRIDGES
        _ok(odoo_cli("-d", db, "-i", ",".join(stack.ADDONS), "--stop-after-init"))
        assert _module_states(db, all_addons) == dict.fromkeys(all_addons, "installed")
        installed = _snapshot(db)
        assert "relation sscale_rpt_val_day m" in installed
        assert "trigger sscale_rpt_val_journal_ins on stock_valuation_layer" in installed

        bridges = list(stack.BRIDGES)
        uninstall_bridge = (
            f'env["ir.module.module"].search([("name", "in", {bridges!r})])'
            ".button_immediate_uninstall()"
        )
        _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=uninstall_bridge))
        assert _module_states(db, all_addons) == {
            **dict.fromkeys(stack.ADDONS, "installed"),
            **dict.fromkeys(stack.BRIDGES, "uninstalled"),
        }
        without_bridge = _snapshot(db)
        assert not [item for item in without_bridge if "sscale_rpt_val" in item]
        assert "relation sscale_rpt_movement m" in without_bridge

        _ok(odoo_cli("-d", db, "--no-http", command="shell", stdin=UNINSTALL))
        after = _snapshot(db)
        assert sorted(after - before) == [], "left behind by the uninstall"
        assert sorted(before - after) == [], "removed by the uninstall but not ours"
