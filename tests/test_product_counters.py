# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The product form's In and Out smart buttons (``nbr_moves_in``,
``nbr_moves_out``: done move lines of the last year in receipts and
deliveries), read from stock_scalable_reporting's views and journal, equal
to Odoo's own count, on committed data: lines in the views, in the journal,
at the edges of the one-year window, on a product template with an archived
variant, for a stock user under the multi-company rule, and after a done
transfer changed operation type (the views are then left alone)."""

import datetime

import pytest

from odoo import fields
from odoo.tests import tagged

from tests.harness import stock_flows


def _odoo_counts(records):
    """Odoo's own _compute_nbr_moves (addons/stock), past our override."""
    for cls in type(records).__mro__:
        if cls.__module__ == "odoo.addons.stock.models.product" and (
            "_compute_nbr_moves" in vars(cls)
        ):
            records.invalidate_recordset(["nbr_moves_in", "nbr_moves_out"])
            vars(cls)["_compute_nbr_moves"](records)
            return {r.id: (r.nbr_moves_in, r.nbr_moves_out) for r in records}
    raise LookupError("stock's _compute_nbr_moves not found")


def _our_counts(records):
    records.invalidate_recordset(["nbr_moves_in", "nbr_moves_out"])
    return {r.id: (r.nbr_moves_in, r.nbr_moves_out) for r in records}


def _post(env, picking_type, product, qty, when):
    picking = stock_flows.create_picking(env, picking_type, [(product.id, qty)])
    stock_flows.validate_all(picking)
    assert picking.state == "done"
    picking.move_ids.write({"date": when})
    picking.move_ids.move_line_ids.write({"date": when})
    return picking


def _views_answer(env, product_ids):
    from odoo.addons.stock_scalable_reporting.models.product_product import (  # noqa: PLC0415
        _picking_counts,
    )

    return _picking_counts(env, product_ids) is not None


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestProductCounters:
    def test_counters_equal_odoo(self, committed_db):
        now = fields.Datetime.now()
        year_ago = now - datetime.timedelta(days=365)
        moments = [
            year_ago - datetime.timedelta(days=40),
            year_ago - datetime.timedelta(hours=2),
            year_ago + datetime.timedelta(hours=2),
            year_ago + datetime.timedelta(days=20),
            now - datetime.timedelta(days=200),
            now - datetime.timedelta(days=31),
            now - datetime.timedelta(minutes=5),
        ]
        with committed_db.env() as env:
            wh = stock_flows.main_warehouse(env)
            attribute = env["product.attribute"].create(
                {
                    "name": "Counter size",
                    "value_ids": [(0, 0, {"name": "S"}), (0, 0, {"name": "L"})],
                }
            )
            template = env["product.template"].create(
                {
                    "name": "Counted",
                    "is_storable": True,
                    "attribute_line_ids": [
                        (
                            0,
                            0,
                            {"attribute_id": attribute.id, "value_ids": attribute.value_ids.ids},
                        )
                    ],
                }
            )
            small, large = template.product_variant_ids
            plain = stock_flows.create_product(env, "Counted plain")
            for product in (small, large, plain):
                for when in moments[:4]:
                    _post(env, wh.in_type_id, product, 5, when)
                    _post(env, wh.out_type_id, product, 1, when)
                # Internal transfers count neither way.
                _post(env, wh.int_type_id, product, 1, moments[4])
            ids = [small.id, large.id, plain.id], template.id
        with committed_db.env() as env:
            env["stock.report.refresh"]._refresh_reports()
        with committed_db.env() as env:
            products = env["product.product"].browse(ids[0])
            wh = stock_flows.main_warehouse(env)
            for product in products:
                for when in moments[3:]:
                    _post(env, wh.in_type_id, product, 2, when)
                    _post(env, wh.out_type_id, product, 1, when)
            # A done line deleted after the refresh (the journal's -1).
            line = env["stock.move.line"].search(
                [("product_id", "=", products[2].id), ("picking_code", "=", "outgoing")],
                order="date desc",
                limit=1,
            )
            env.cr.execute("DELETE FROM stock_move_line WHERE id = %s", [line.id])
            products[1].action_archive()
        for state in ("journal", "refreshed"):
            if state == "refreshed":
                with committed_db.env() as env:
                    env["stock.report.refresh"]._refresh_reports()
            with committed_db.env() as env:
                products = env["product.product"].with_context(active_test=False).browse(ids[0])
                template = env["product.template"].browse(ids[1])
                assert _views_answer(env, products.ids), state
                odoo_products, odoo_template = _odoo_counts(products), _odoo_counts(template)
                assert _our_counts(products) == odoo_products, state
                assert _our_counts(template) == odoo_template, state
                assert odoo_products[ids[0][2]][0] > 0 and odoo_template[ids[1]][1] > 0
                # A stock user, under the multi-company rule.
                user = env.ref("base.user_demo", raise_if_not_found=False) or env[
                    "res.users"
                ].create(
                    {
                        "name": "Counter user",
                        "login": "counter_user",
                        "groups_id": [(6, 0, [env.ref("stock.group_stock_user").id])],
                    }
                )
                as_user = products.with_user(user)
                assert _views_answer(as_user.env, products.ids)
                assert _our_counts(as_user) == _odoo_counts(as_user)
        # A done receipt given another operation type: the views keep the
        # old code until the next refresh, so Odoo's own count answers.
        with committed_db.env() as env:
            receipt = (
                env["stock.move.line"]
                .search(
                    [("product_id", "=", ids[0][2]), ("picking_code", "=", "incoming")], limit=1
                )
                .picking_id
            )
            # (Odoo's form forbids it on a done transfer; a script can.)
            env.cr.execute(
                "UPDATE stock_picking SET picking_type_id = %s WHERE id = %s",
                [stock_flows.main_warehouse(env).out_type_id.id, receipt.id],
            )
        with committed_db.env() as env:
            products = env["product.product"].browse(ids[0][2:])
            assert not _views_answer(env, products.ids)
            assert _our_counts(products) == _odoo_counts(products)
        # Code newer than the database (the view not built yet, before
        # ``-u``): the refresh goes on without it and the counters are
        # Odoo's own.
        with committed_db.env() as env:
            env.cr.execute("DROP MATERIALIZED VIEW sscale_rpt_picking_count_month")
            env.cr.execute("DROP FUNCTION sscale_rpt_picking_type_change_fn() CASCADE")
            env.cr.execute("DROP TABLE sscale_rpt_picking_type_change")
            logs = env["stock.report.refresh"]._refresh_reports()
            assert "sscale_rpt_picking_count_month" not in logs.mapped("view_name")
            assert all(log.state == "done" for log in logs)
            products = env["product.product"].browse(ids[0])
            assert not _views_answer(env, products.ids)
            assert _our_counts(products) == _odoo_counts(products)
