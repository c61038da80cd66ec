# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Step 3 for a run of transfers (see runner.py): consecutive receive,
deliver and move commands posted together, planned under their quant locks
(``lib/batch_plan.py``), one transfer per route."""

from odoo import _, api, models

from ..lib import batch_plan
from ..lib import commands as cmdlib
from ..lib.quant_key import QuantKey
from ..locking import posting_guard


class StockInventoryCommand(models.Model):
    _inherit = "stock.inventory.command"

    @api.model
    def _sscale_post_run(self, run):
        """Post a run of consecutive receive, deliver and move commands (each
        naming a product) together: one transfer per operation type, source
        and destination, one move per command.

        ``run``: ``[(index, record, resolved)]`` in publishing order, rows
        locked and pending. Under the lock of the quant keys the run takes
        from, the commands are replayed in order (``lib/batch_plan.py``):
        those that would take stock below zero where it is forbidden are
        refused as the guard refuses them, the others posted; receipts
        first, then moves, then deliveries, so that no key goes below what
        the plan saw. Returns ``{index: (status, answer)}``. Raises what
        Odoo raises when a transfer is refused (the caller then posts the
        run one command at a time)."""
        env = self.env
        prepared, moves, routes = [], [], {}
        for index, record, resolved in run:
            resolved = record._sscale_prepare(resolved)
            command, product = resolved["command"], resolved["product"]
            picking_type, src, dest = record._sscale_route(env, resolved)
            [(_p, uom, quantity, lot, src_package, result_package)] = record._sscale_lines(
                env, resolved, src
            )
            quantity = uom._compute_quantity(quantity, product.uom_id)
            take = give = None
            if src.usage == "internal":
                take = QuantKey.of(product, src, lot, src_package)
            if dest.usage == "internal":
                give = QuantKey.of(product, dest, lot, result_package)
            moves.append((index, take, give, quantity))
            routes[index] = (picking_type, src, dest)
            prepared.append((index, record, resolved))
        takes = {take for _i, take, _g, _q in moves if take}
        Quant = env["stock.quant"]
        locked = Quant._sscale_lock_keys(list(takes)) if takes else {}
        quants = Quant.browse(list(locked.values()))
        on_hand = {quant._sscale_key(): quant.quantity for quant in quants}
        negative_ok = set()
        for key in takes:
            location = env["stock.location"].browse(key.location_id)
            company = location.company_id or env.company
            if posting_guard.negative_allowed_for(
                company, location, env["product.product"].browse(key.product_id)
            ):
                negative_ok.add(key)
        fits, refused = batch_plan.plan_batch(moves, on_hand, negative_ok)
        answers = {}
        by_index = {index: (record, resolved) for index, record, resolved in prepared}
        requested = {index: quantity for index, _t, _g, quantity in moves}
        for index, available in refused.items():
            record, resolved = by_index[index]
            _picking_type, src, _dest = routes[index]
            line, details = posting_guard.shortage(
                env,
                resolved["product"],
                src,
                resolved["lot"],
                resolved["package"],
                env["res.partner"],
                requested[index],
                available,
            )
            error = cmdlib.CommandError(
                "insufficient_stock", posting_guard.shortage_title(env) + "\n" + line, **details
            )
            answers[index] = 422, record._sscale_refuse(error)
        groups = {}
        rank = {cmdlib.RECEIVE: 0, cmdlib.MOVE: 1, cmdlib.DELIVER: 2}
        for index in fits:
            picking_type, src, dest = routes[index]
            command = by_index[index][1]["command"]
            groups.setdefault((rank[command.type], picking_type, src, dest), []).append(index)
        documents = {}
        for (_rank, picking_type, src, dest), indexes in sorted(
            groups.items(), key=lambda item: item[0][0]
        ):
            lines = []
            for index in indexes:
                record, resolved = by_index[index]
                lines += record._sscale_lines(env, resolved, src)
            first = by_index[indexes[0]][1]["command"]
            origin = (
                first.reference or first.idempotency_key
                if len(indexes) == 1
                else _("%(count)s inventory commands", count=len(indexes))
            )
            picking, _keys = self._sscale_validate(env, picking_type, src, dest, origin, lines)
            documents.update(dict.fromkeys(indexes, picking))
        for index in fits:
            record, resolved = by_index[index]
            take, give = next((t, g) for i, t, g, _q in moves if i == index)
            keys = [key for key in (take, give) if key]
            answers[index] = (
                200,
                record._sscale_done(resolved, documents[index], self._sscale_on_hand(env, keys)),
            )
        return answers
