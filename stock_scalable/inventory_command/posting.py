# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Step 3 of a command (see runner.py): one real Odoo document posted.

Each command goes through Odoo's own flows (a validated picking, an applied
count, a done scrap), so that the quant lock, the negative-stock guard,
valuation and the outbox see it as any posting; its outcome (done with the
on-hand it left, or refused) is stored on the command's row.
"""

import json

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..lib import commands as cmdlib
from ..lib.quant_key import QuantKey
from ..locking import posting_guard


class StockInventoryCommand(models.Model):
    _inherit = "stock.inventory.command"

    def _sscale_post(self, resolved):
        """Post the command of this (pending, locked) row. Returns the answer
        (a dict) and writes it on the row. Raises UserError/ValidationError
        when Odoo or the guard refuses: the caller rolls back its savepoint."""
        self.ensure_one()
        resolved = self._sscale_prepare(resolved)
        env = self.with_company(resolved["company"]).env
        post = {
            cmdlib.RECEIVE: self._sscale_post_picking,
            cmdlib.DELIVER: self._sscale_post_picking,
            cmdlib.MOVE: self._sscale_post_picking,
            cmdlib.COUNT: self._sscale_post_count,
            cmdlib.SCRAP: self._sscale_post_scrap,
        }[resolved["command"].type]
        document, keys = post(env, resolved)
        return self._sscale_done(resolved, document, self._sscale_on_hand(env, keys))

    def _sscale_prepare(self, resolved):
        """The lot and the package a command names, created when it receives
        or counts new ones (or found, when another command created them
        since it was resolved). Returns ``resolved`` with them."""
        command = resolved["command"]
        env = self.with_company(resolved["company"]).env
        lot = resolved["lot"]
        company = resolved["company"]
        if resolved["lot_name"] and not lot:
            lot = env["stock.lot"].search(
                [
                    ("name", "=", resolved["lot_name"]),
                    ("product_id", "=", resolved["product"].id),
                    ("company_id", "in", [company.id, False]),
                ],
                limit=1,
            )
            if not lot:
                vals = {
                    "name": resolved["lot_name"],
                    "product_id": resolved["product"].id,
                    "company_id": company.id,
                }
                if command.expiration_date and "expiration_date" in env["stock.lot"]._fields:
                    vals["expiration_date"] = fields.Datetime.to_datetime(command.expiration_date)
                lot = env["stock.lot"].create(vals)
        package = resolved["package"]
        if command.package and not package:
            package = env["stock.quant.package"].search(
                [("name", "=", command.package), ("company_id", "in", [company.id, False])],
                limit=1,
            ) or env["stock.quant.package"].create(
                {"name": command.package, "company_id": company.id}
            )
        return dict(resolved, lot=lot, package=package)

    def _sscale_done(self, resolved, document, on_hand):
        """Store the answer of a posted command on its row; return it."""
        self.ensure_one()
        command = resolved["command"]
        answer = {
            "idempotency_key": command.idempotency_key,
            "status": "done",
            "type": command.type,
            "document": (
                (document.reference if document._name == "stock.move" else document.name)
                if document
                else None
            ),
            "on_hand": on_hand,
        }
        # Users read commands; the outcome is the system's to write.
        self.sudo().write(
            {
                "state": "done",
                "document": answer["document"],
                "lot_id": resolved["lot"].id,
                "package_id": resolved["package"].id,
                "picking_id": document.id if document._name == "stock.picking" else False,
                "scrap_id": document.id if document._name == "stock.scrap" else False,
                "result": json.dumps(answer),
                "posted_at": fields.Datetime.now(),
            }
        )
        return answer

    def _sscale_refuse(self, error):
        """Store a refusal (a CommandError) as this row's outcome."""
        self.ensure_one()
        answer = dict(
            {"idempotency_key": self.idempotency_key, "status": "refused", "type": self.type},
            error=error.as_dict(),
        )
        # Users read commands; the outcome is the system's to write.
        self.sudo().write(
            {
                "state": "refused",
                "result_code": error.code,
                "result_message": error.message,
                "result": json.dumps(answer),
                "posted_at": fields.Datetime.now(),
            }
        )
        return answer

    def _sscale_route(self, env, resolved):
        """``(operation type, source, destination)`` of a receive, deliver or
        move: the warehouse's receipt, delivery or internal type, with its
        default vendor or customer location where the command names none."""
        kind = resolved["command"].type
        src, dest = resolved["location"], resolved["location_dest"]
        here = dest if kind == cmdlib.RECEIVE else src
        picking_type = here.warehouse_id[
            {cmdlib.RECEIVE: "in_type_id", cmdlib.DELIVER: "out_type_id"}.get(kind, "int_type_id")
        ]
        if not picking_type:
            raise cmdlib.CommandError(
                "bad_location",
                f"{here.complete_name} is in no warehouse with a {kind} operation type",
                location=here.complete_name,
            )
        if kind == cmdlib.RECEIVE and not src:
            src = picking_type.default_location_src_id or env.ref("stock.stock_location_suppliers")
        if kind == cmdlib.DELIVER and not dest:
            dest = picking_type.default_location_dest_id or env.ref(
                "stock.stock_location_customers"
            )
        return picking_type, src, dest

    def _sscale_lines(self, env, resolved, src):
        """What a transfer's lines carry, ``[(product, uom, quantity, lot,
        package, result package)]``: one line, or every quant of a whole
        package that a move names without a product."""
        command = resolved["command"]
        product, lot, package = resolved["product"], resolved["lot"], resolved["package"]
        if command.type == cmdlib.MOVE and package and not product:
            quants = env["stock.quant"].search(
                [("package_id", "=", package.id), ("quantity", ">", 0)]
            )
            if not quants or quants.location_id != src:
                raise cmdlib.CommandError(
                    "bad_location",
                    f"package {package.name} is not in {src.complete_name}",
                    package=package.name,
                    location=src.complete_name,
                )
            return [
                (q.product_id, q.product_uom_id, q.quantity, q.lot_id, package, package)
                for q in quants
            ]
        source_package = package if command.type != cmdlib.RECEIVE else package.browse()
        result_package = (
            package if command.type in (cmdlib.RECEIVE, cmdlib.MOVE) else package.browse()
        )
        return [(product, resolved["uom"], command.quantity, lot, source_package, result_package)]

    @api.model
    def _sscale_validate(self, env, picking_type, src, dest, origin, lines):
        """Create, confirm and validate a transfer with one move and one done
        line per element of ``lines`` (see :meth:`_sscale_lines`), through
        ``button_validate`` (the quant lock, the guard, valuation, the
        outbox). Returns ``(picking, keys)``: the internal quant keys
        (:class:`QuantKey`) its lines touched."""
        # The done lines are written with the moves: confirming them then
        # reserves nothing (what the command takes is already its lines), and
        # each command keeps its own move (no merge of one product's moves).
        picking = env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "location_id": src.id,
                "location_dest_id": dest.id,
                "origin": origin,
            }
        )
        # Moves created on their own (a picking created with them confirms
        # and merges them at once), each with its done line.
        env["stock.move"].create(
            [
                {
                    "picking_id": picking.id,
                    "name": product.display_name,
                    "product_id": product.id,
                    "product_uom": uom.id,
                    "product_uom_qty": quantity,
                    "location_id": src.id,
                    "location_dest_id": dest.id,
                    "picked": True,
                    "move_line_ids": [
                        Command.create(
                            {
                                "picking_id": picking.id,
                                "product_id": product.id,
                                "product_uom_id": uom.id,
                                "quantity": quantity,
                                "location_id": src.id,
                                "location_dest_id": dest.id,
                                "lot_id": lot.id,
                                "package_id": src_package.id,
                                "result_package_id": result_package.id,
                                "picked": True,
                            }
                        )
                    ],
                }
                for product, uom, quantity, lot, src_package, result_package in lines
            ]
        )
        picking._check_company()
        picking.move_ids._action_confirm(merge=False)
        picking.move_ids.picked = True
        result = picking.with_context(skip_backorder=True, cancel_backorder=True).button_validate()
        if result is not True or picking.state != "done":
            raise UserError(
                _(
                    "%(picking)s could not be validated without a question to answer.",
                    picking=picking.display_name,
                )
            )
        keys = [
            QuantKey.of(ml.product_id, ml.location_id, ml.lot_id, ml.package_id)
            for ml in picking.move_line_ids
            if ml.location_id.usage == "internal"
        ] + [
            QuantKey.of(ml.product_id, ml.location_dest_id, ml.lot_id, ml.result_package_id)
            for ml in picking.move_line_ids
            if ml.location_dest_id.usage == "internal"
        ]
        return picking, keys

    def _sscale_post_picking(self, env, resolved):
        command = resolved["command"]
        picking_type, src, dest = self._sscale_route(env, resolved)
        lines = self._sscale_lines(env, resolved, src)
        return self._sscale_validate(
            env, picking_type, src, dest, command.reference or command.idempotency_key, lines
        )

    def _sscale_post_count(self, env, resolved):
        command = resolved["command"]
        product, location = resolved["product"], resolved["location"]
        lot, package = resolved["lot"], resolved["package"]
        quantity = resolved["uom"]._compute_quantity(command.quantity, product.uom_id)
        quant = (
            env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": location.id,
                    "lot_id": lot.id,
                    "package_id": package.id,
                    "inventory_quantity": quantity,
                }
            )
        )
        name = command.reference or _("Count %s", command.idempotency_key)
        env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM stock_move")
        [last_move] = env.cr.fetchone()
        quant.with_context(inventory_name=name)._apply_inventory()
        # No move when the count confirms what was on hand.
        move = env["stock.move"].search(
            [("id", ">", last_move), ("product_id", "=", product.id), ("is_inventory", "=", True)],
            limit=1,
        )
        return move, [QuantKey.of(product, location, lot, package)]

    def _sscale_post_scrap(self, env, resolved):
        command = resolved["command"]
        vals = {
            "product_id": resolved["product"].id,
            "product_uom_id": resolved["uom"].id,
            "scrap_qty": command.quantity,
            "location_id": resolved["location"].id,
            "lot_id": resolved["lot"].id,
            "package_id": resolved["package"].id,
            "origin": command.reference or command.idempotency_key,
            "company_id": resolved["company"].id,
        }
        if resolved["location_dest"]:
            vals["scrap_location_id"] = resolved["location_dest"].id
        scrap = env["stock.scrap"].create(vals)
        scrap.do_scrap()
        return scrap, [
            QuantKey.of(
                resolved["product"], resolved["location"], resolved["lot"], resolved["package"]
            )
        ]

    @api.model
    def _sscale_on_hand(self, env, keys):
        """On hand after the posting, per internal quant key it touched
        (:class:`QuantKey`, each once): ``[{"product", "product_id",
        "location", "location_id", "lot", "package", "quantity", "uom"}]``
        (quantities in the product's unit). A command names no owner: its
        keys' owner is none, and the answer counts every owner's stock of
        the place."""
        env["stock.quant"].flush_model(["quantity"])
        answers = []
        for key in dict.fromkeys(keys):
            env.cr.execute(
                SQL(
                    """SELECT COALESCE(SUM(quantity), 0) FROM stock_quant
                        WHERE product_id = %s AND location_id = %s
                          AND lot_id IS NOT DISTINCT FROM %s
                          AND package_id IS NOT DISTINCT FROM %s""",
                    key.product_id,
                    key.location_id,
                    key.lot_id or None,
                    key.package_id or None,
                )
            )
            [quantity] = env.cr.fetchone()
            product = env["product.product"].browse(key.product_id)
            answers.append(
                dict(
                    posting_guard.key_details(
                        product,
                        env["stock.location"].browse(key.location_id),
                        env["stock.lot"].browse(key.lot_id),
                        env["stock.quant.package"].browse(key.package_id),
                    ),
                    quantity=quantity,
                    uom=product.uom_id.name,
                )
            )
        return answers
