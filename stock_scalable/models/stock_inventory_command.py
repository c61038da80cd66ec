# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""stock.inventory.command: one inventory command (receive, deliver, move,
count, scrap) from a scanner or an integration, posted once per idempotency
key as a real Odoo document.

The wire format and its errors are pure (lib/commands.py); the transactions
(claim, lock, retry) are in tools/command_runner.py; this module resolves
names to records and posts the document through Odoo's own flows (a
validated picking, an applied count, a done scrap), so that the quant lock,
the negative-stock guard, valuation and the outbox see it as any posting.
"""

import json
import logging

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_compare, float_round

from ..lib import commands as cmdlib
from ..lib.quant_key import QuantKey
from ..tools import posting_guard
from ..tools.command_runner import LOOKUP_SLOT

_logger = logging.getLogger(__name__)

RETENTION_PARAM = "stock_scalable.command_retention_days"
DEFAULT_RETENTION_DAYS = 30


class StockInventoryCommand(models.Model):
    _name = "stock.inventory.command"
    _description = "Inventory Command"
    _order = "id desc"
    _rec_name = "idempotency_key"
    _check_company_auto = True

    idempotency_key = fields.Char(required=True, size=cmdlib.MAX_KEY_LENGTH, index=False)
    company_id = fields.Many2one("res.company", required=True, index=True)
    type = fields.Selection(
        [
            (cmdlib.RECEIVE, "Receive"),
            (cmdlib.DELIVER, "Deliver"),
            (cmdlib.MOVE, "Move"),
            (cmdlib.COUNT, "Count"),
            (cmdlib.SCRAP, "Scrap"),
        ],
        required=True,
    )
    state = fields.Selection(
        [("pending", "Being Posted"), ("done", "Done"), ("refused", "Refused")],
        required=True,
        default="pending",
        index=True,
    )
    channel = fields.Selection([("http", "HTTP"), ("amqp", "AMQP"), ("odoo", "Odoo")])
    fingerprint = fields.Char(
        required=True, help="SHA-256 of the payload's canonical JSON (without its key)."
    )
    payload = fields.Text(help="The command as received (JSON).")
    product_id = fields.Many2one("product.product", string="Product")
    quantity = fields.Float(digits="Product Unit of Measure")
    product_uom_id = fields.Many2one("uom.uom", string="Unit")
    location_id = fields.Many2one("stock.location", string="Source Location")
    location_dest_id = fields.Many2one("stock.location", string="Destination Location")
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial Number")
    package_id = fields.Many2one("stock.quant.package", string="Package")
    expiration_date = fields.Date(help="From the command (GS1 AI 17); stored on a new lot.")
    reference = fields.Char()
    document = fields.Char(help="The reference of the document the command posted.")
    picking_id = fields.Many2one("stock.picking", string="Transfer")
    scrap_id = fields.Many2one("stock.scrap", string="Scrap")
    result_code = fields.Char(string="Error Code", help="Machine-readable refusal code.")
    result_message = fields.Text(string="Message")
    result = fields.Text(help="The stored answer (JSON), sent again to every copy.")
    user_id = fields.Many2one("res.users", string="User", default=lambda self: self.env.user)
    posted_at = fields.Datetime(string="Posted On")

    _sql_constraints = [
        (
            "idempotency_key_company_uniq",
            "UNIQUE (company_id, idempotency_key)",
            "An idempotency key is used once per company.",
        ),
    ]

    # ------------------------------------------------------------------
    # Resolution: names to records (read-only, before anything is claimed)
    # ------------------------------------------------------------------

    @api.model
    def _sscale_decode_gs1(self, command):
        """Fill ``command`` from its ``barcode`` (GS1-128) with Odoo's GS1
        nomenclature (``barcodes_gs1_nomenclature``). Raises CommandError
        ``bad_barcode`` when it does not decode (a wrong check digit)."""
        if not command.barcode:
            return command
        nomenclature = self.env.ref(
            "barcodes_gs1_nomenclature.default_gs1_nomenclature", raise_if_not_found=False
        )
        if not nomenclature:
            raise cmdlib.CommandError(
                "bad_barcode", "the GS1 nomenclature of Odoo is not installed"
            )
        try:
            elements = nomenclature.sudo().parse_barcode(cmdlib.gs1_raw(command.barcode))
        except (UserError, ValueError) as exc:
            elements = None
            _logger.debug("GS1 barcode %r: %s", command.barcode, exc)
        if not elements or not isinstance(elements, list):
            raise cmdlib.CommandError(
                "bad_barcode",
                f"{command.barcode!r} is not a valid GS1-128 barcode (format or check digit)",
                barcode=command.barcode,
            )
        decoded = []
        for element in elements:
            kind, value = element["type"], element["value"]
            if kind == "product":
                decoded.append(("product", value))
            elif kind == "lot":
                decoded.append(("lot", value))
            elif kind == "expiration_date":
                decoded.append(("expiration_date", value))
            elif kind == "quantity":
                decoded.append(("quantity", value))
            elif kind == "package":
                decoded.append(("package", value))
        return cmdlib.merge_gs1(command, decoded)

    def _sscale_find(self, model, value, fields_in_order, domain, code, what):
        """One record of ``model`` by id (int) or by the first of
        ``fields_in_order`` equal to ``value`` (str). Raises CommandError
        ``code`` when none, ``ambiguous`` when several, ``forbidden`` when
        the only ones are in companies the user is not a member of."""
        record = self._sscale_search(self.env[model], value, fields_in_order, domain, what)
        if record:
            return record
        hidden = self._sscale_search(self.env[model].sudo(), value, fields_in_order, [], what)
        if (
            hidden
            and model == "product.product"
            and hidden.company_id in self.env.user.company_ids
        ):
            # The user's, but not of the company of the command's location
            # (the environment's company, once the locations are resolved).
            raise cmdlib.CommandError(
                code,
                f"{what} {value!r} belongs to {hidden.company_id.name}, not to"
                f" {self.env.company.name}, the company of the command's location",
                **{what: value},
            )
        if hidden:
            raise cmdlib.CommandError(
                "forbidden",
                f"{what} {value!r} belongs to {hidden.company_id.name}, a company of which user"
                f" {self.env.user.login} is not a member",
                **{what: value},
            )
        raise cmdlib.CommandError(code, f"no {what} {value!r}", **{what: value})

    @api.model
    def _sscale_search(self, Model, value, fields_in_order, domain, what):
        """The record of ``Model`` that ``value`` names (see
        :meth:`_sscale_find`), or an empty recordset. While
        :func:`..tools.command_runner.execute` resolves a batch, a lookup
        already made for the same model, value, user, companies and domain
        is answered from its memo (a batch names the same product and
        location many times)."""
        memo = self.env.cr.cache.get(LOOKUP_SLOT)
        if memo is None:
            return self._sscale_search_records(Model, value, fields_in_order, domain, what)
        key = (
            Model._name,
            Model.env.uid,
            Model.env.su,
            tuple(Model.env.context.get("allowed_company_ids") or ()),
            value,
            tuple(fields_in_order),
            repr(domain),
        )
        if key not in memo:
            memo[key] = self._sscale_search_records(
                Model, value, fields_in_order, domain, what
            ).ids
        return Model.browse(memo[key])

    @api.model
    def _sscale_search_records(self, Model, value, fields_in_order, domain, what):
        if isinstance(value, int):
            return Model.search([("id", "=", value), *domain], limit=1)
        else:
            for field in fields_in_order:
                values = [value]
                if field == "barcode" and value.isdigit() and value.startswith("0"):
                    values.append(value.lstrip("0"))  # GTIN-14 of an EAN-13
                records = Model.search([(field, "in", values), *domain], limit=2)
                if len(records) == 1:
                    return records
                if len(records) > 1:
                    raise cmdlib.CommandError(
                        "ambiguous",
                        f"several {what}s are named {value!r}",
                        **{what: value},
                    )
        return Model.browse()

    def _sscale_location(self, value, what):
        """A location by id, barcode or full name, that the user may use."""
        location = self._sscale_find(
            "stock.location",
            value,
            ["barcode", "complete_name", "name"],
            [],
            "unknown_location",
            "location",
        )
        return location

    @api.model
    def _sscale_resolve(self, command):
        """Resolve a parsed command (lib/commands.Command) to records. Returns
        a dict of values for the command row and the posting; creates
        nothing. Raises CommandError (unknown_*, ambiguous, bad_location,
        bad_product, lot_required, bad_quantity, forbidden)."""
        self._sscale_decode_gs1(command)
        if not self.env.user.has_group("stock.group_stock_user"):
            raise cmdlib.CommandError(
                "forbidden", f"user {self.env.user.login} has no Inventory rights"
            )
        locations, company = self._sscale_resolve_locations(command)
        self = self.with_company(company)
        company_domain = [("company_id", "in", [company.id, False])]
        package = self.env["stock.quant.package"]
        if command.package:
            package = package.search([("name", "=", command.package), *company_domain], limit=1)
            if not package and command.type not in (cmdlib.RECEIVE, cmdlib.COUNT):
                raise cmdlib.CommandError(
                    "unknown_package", f"no package {command.package!r}", package=command.package
                )
        product = self.env["product.product"]
        if command.product is not None:
            product = self._sscale_find(
                "product.product",
                command.product,
                ["barcode", "default_code", "name"],
                company_domain,
                "unknown_product",
                "product",
            )
        elif not (command.type == cmdlib.MOVE and package):
            raise cmdlib.CommandError("malformed", "product is required", field="product")
        elif command.quantity is not None:
            raise cmdlib.CommandError(
                "malformed",
                f"a move of a whole package takes all of it: no quantity (package {package.name})",
                field="quantity",
            )
        if product and product.type != "consu":
            raise cmdlib.CommandError(
                "bad_product",
                f"{product.display_name} is a {product.type}: it has no stock to"
                f" {command.type}",
                product=product.display_name,
            )
        if product and command.type == cmdlib.COUNT and not product.is_storable:
            raise cmdlib.CommandError(
                "bad_product",
                f"{product.display_name} does not track inventory (Track Inventory is off):"
                " there is no stock to count",
                product=product.display_name,
            )
        source = locations["location"]
        if (
            package
            and command.type in (cmdlib.DELIVER, cmdlib.MOVE, cmdlib.SCRAP)
            and package.location_id != source
        ):
            raise cmdlib.CommandError(
                "bad_location",
                f"package {package.name} is not in {source.complete_name}"
                + (f" but in {package.location_id.complete_name}" if package.location_id else ""),
                package=package.name,
                location=source.complete_name,
            )
        if command.quantity is None and product:
            raise cmdlib.CommandError(
                "malformed",
                "quantity is required (left out or null, and no barcode gives it)",
                field="quantity",
            )
        uom = self._sscale_resolve_uom(command, product)
        lot = self._sscale_resolve_lot(command, product, uom, company_domain)
        return {
            "command": command,
            "company": company,
            "product": product,
            "uom": uom,
            "location": locations["location"],
            "location_dest": locations["location_dest"],
            "lot": lot,
            "lot_name": command.lot if product.tracking != "none" else None,
            "package": package,
        }

    @api.model
    def _sscale_resolve_locations(self, command):
        """``({"location", "location_dest"}, company)``: the locations the
        command names (an empty recordset for one it does not) and the
        company of the internal one it acts on."""
        Location = self.env["stock.location"]
        locations = {}
        for name in ("location", "location_dest"):
            value = getattr(command, name)
            locations[name] = (
                self._sscale_location(value, name) if value not in (None, "") else Location
            )
        for name in cmdlib.required_locations(command.type):
            if not locations[name]:
                raise cmdlib.CommandError(
                    "malformed", f"a {command.type} command needs {name}", field=name
                )
        internal = [locations["location"]] if command.type != cmdlib.RECEIVE else []
        if command.type in (cmdlib.RECEIVE, cmdlib.MOVE):
            internal.append(locations["location_dest"])
        for location in internal:
            if location.usage != "internal":
                raise cmdlib.CommandError(
                    "bad_location",
                    f"{location.complete_name} is not an internal location",
                    location=location.complete_name,
                )
        source = locations["location"]
        if command.type == cmdlib.MOVE and source == locations["location_dest"]:
            raise cmdlib.CommandError(
                "bad_location",
                f"a move goes to another location, not back to {source.complete_name}",
                location=source.complete_name,
            )
        # The other end of a receipt, a delivery or a scrap is outside stock.
        outside = {
            cmdlib.RECEIVE: ("location", "a receipt comes from outside the stock (a vendor)"),
            cmdlib.DELIVER: ("location_dest", "a delivery goes out of the stock (a customer)"),
            cmdlib.SCRAP: ("location_dest", "a scrap goes to a scrap location"),
        }.get(command.type)
        if outside and locations[outside[0]]:
            location = locations[outside[0]]
            wrong = (
                not location.scrap_location
                if command.type == cmdlib.SCRAP
                else location.usage in ("internal", "view")
            )
            if wrong:
                raise cmdlib.CommandError(
                    "bad_location",
                    f"{location.complete_name}: {outside[1]}",
                    location=location.complete_name,
                )
        main = internal[0]
        company = main.company_id or self.env.company
        if company not in self.env.user.company_ids:
            raise cmdlib.CommandError(
                "forbidden",
                f"{main.complete_name} belongs to {company.name}, a company of which user"
                f" {self.env.user.login} is not a member",
                location=main.complete_name,
            )
        for location in internal[1:]:
            if (location.company_id or company) != company:
                raise cmdlib.CommandError(
                    "bad_location",
                    f"{location.complete_name} is in {location.company_id.name}, not in"
                    f" {company.name}: move stock between companies with a transfer through"
                    " a transit location",
                    location=location.complete_name,
                )
        return locations, company

    @api.model
    def _sscale_resolve_uom(self, command, product):
        """The unit given (by name, in the product's category), else the
        product's; checks that the quantity does not round to 0 in it."""
        uom = product.uom_id
        if command.uom and product:
            uom = self.env["uom.uom"].search(
                [("name", "=", command.uom), ("category_id", "=", product.uom_id.category_id.id)],
                limit=1,
            )
            if not uom:
                raise cmdlib.CommandError(
                    "unknown_uom",
                    f"no unit {command.uom!r} in the category of {product.display_name}",
                    uom=command.uom,
                    product=product.display_name,
                )
        if product and command.quantity:
            # In the unit given, and in the product's, where stock is kept.
            in_product_uom = uom._compute_quantity(
                command.quantity, product.uom_id, rounding_method="HALF-UP"
            )
            rounding = product.uom_id.rounding
            if (
                float_compare(
                    float_round(command.quantity, precision_rounding=uom.rounding),
                    0.0,
                    precision_rounding=uom.rounding,
                )
                <= 0
                or float_compare(in_product_uom, 0.0, precision_rounding=rounding) <= 0
            ):
                raise cmdlib.CommandError(
                    "bad_quantity",
                    f"{command.quantity:g} {uom.name} of {product.display_name} rounds to 0",
                    product=product.display_name,
                    requested=command.quantity,
                )
        return uom

    @api.model
    def _sscale_resolve_lot(self, command, product, uom, company_domain):
        """The lot or serial of a tracked product (may be empty when the
        command receives or counts a new one); a serial is one unit."""
        lot = self.env["stock.lot"]
        if product and product.tracking == "none" and command.lot:
            raise cmdlib.CommandError(
                "malformed",
                f"{product.display_name} is not tracked by lot or serial number; no lot",
                field="lot",
                product=product.display_name,
            )
        if not product or product.tracking == "none":
            return lot
        if not command.lot:
            raise cmdlib.CommandError(
                "lot_required",
                f"{product.display_name} is tracked by"
                f" {'serial' if product.tracking == 'serial' else 'lot'} number; give lot",
                product=product.display_name,
            )
        lot = lot.search(
            [("name", "=", command.lot), ("product_id", "=", product.id), *company_domain],
            limit=1,
        )
        if not lot and command.type not in (cmdlib.RECEIVE, cmdlib.COUNT):
            raise cmdlib.CommandError(
                "unknown_lot",
                f"no lot or serial number {command.lot!r} of {product.display_name}",
                product=product.display_name,
                lot=command.lot,
            )
        if product.tracking == "serial":
            quantity = uom._compute_quantity(command.quantity, product.uom_id)
            one = float_compare(quantity, 1.0, precision_rounding=product.uom_id.rounding)
            if one > 0 or (one < 0 and command.type != cmdlib.COUNT):
                raise cmdlib.CommandError(
                    "bad_quantity",
                    f"serial number {command.lot} of {product.display_name} is one unit,"
                    f" not {command.quantity:g}",
                    product=product.display_name,
                    requested=command.quantity,
                )
        return lot

    @api.model
    def _sscale_row_values(self, resolved, channel):
        command = resolved["command"]
        return {
            "idempotency_key": command.idempotency_key,
            "company_id": resolved["company"].id,
            "type": command.type,
            "state": "pending",
            "channel": channel,
            "fingerprint": command.fingerprint,
            "payload": json.dumps(command.payload, ensure_ascii=False, sort_keys=True),
            "product_id": resolved["product"].id or None,
            "quantity": command.quantity,
            "product_uom_id": resolved["uom"].id or None,
            "location_id": resolved["location"].id or None,
            "location_dest_id": resolved["location_dest"].id or None,
            "lot_id": resolved["lot"].id or None,
            "package_id": resolved["package"].id or None,
            "expiration_date": command.expiration_date and command.expiration_date.isoformat(),
            "reference": command.reference,
            "user_id": self.env.uid,
        }

    # ------------------------------------------------------------------
    # Posting: one real Odoo document
    # ------------------------------------------------------------------

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

    # ------------------------------------------------------------------
    # A batch: consecutive transfers posted together
    # ------------------------------------------------------------------

    @api.model
    def _sscale_post_run(self, run):
        """Post a run of consecutive receive, deliver and move commands (each
        naming a product) together: one transfer per operation type, source
        and destination, one move per command.

        ``run``: ``[(index, record, resolved)]`` in publishing order, rows
        locked and pending. Under the lock of the quant keys the run takes
        from, the commands are replayed in order (``lib/commands.plan_batch``):
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
        fits, refused = cmdlib.plan_batch(moves, on_hand, negative_ok)
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
            _picking_type, src, dest = routes[index]
            take, give = next((t, g) for i, t, g, _q in moves if i == index)
            keys = [
                (
                    resolved["product"],
                    env["stock.location"].browse(key.location_id),
                    env["stock.lot"].browse(key.lot_id),
                    env["stock.quant.package"].browse(key.package_id),
                )
                for key in (take, give)
                if key
            ]
            answers[index] = (
                200,
                record._sscale_done(resolved, documents[index], self._sscale_on_hand(env, keys)),
            )
        return answers

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
        command = resolved["command"]
        src, dest = resolved["location"], resolved["location_dest"]
        if command.type == cmdlib.RECEIVE:
            picking_type = dest.warehouse_id.in_type_id
            src = (
                src
                or picking_type.default_location_src_id
                or env.ref("stock.stock_location_suppliers")
            )
        elif command.type == cmdlib.DELIVER:
            picking_type = src.warehouse_id.out_type_id
            dest = (
                dest
                or picking_type.default_location_dest_id
                or env.ref("stock.stock_location_customers")
            )
        else:
            picking_type = src.warehouse_id.int_type_id
        if not picking_type:
            location = dest if command.type == cmdlib.RECEIVE else src
            raise cmdlib.CommandError(
                "bad_location",
                f"{location.complete_name} is in no warehouse with a {command.type}"
                " operation type",
                location=location.complete_name,
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
        outbox). Returns ``(picking, keys)``: the internal quant keys its
        lines touched."""
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
            (ml.product_id, ml.location_id, ml.lot_id, ml.package_id)
            for ml in picking.move_line_ids
            if ml.location_id.usage == "internal"
        ] + [
            (ml.product_id, ml.location_dest_id, ml.lot_id, ml.result_package_id)
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
        return move, [(product, location, lot, package)]

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
            (resolved["product"], resolved["location"], resolved["lot"], resolved["package"])
        ]

    @api.model
    def _sscale_on_hand(self, env, keys):
        """On hand after the posting, per internal key it touched:
        ``[{"product", "product_id", "location", "location_id", "lot",
        "package", "quantity", "uom"}]`` (quantities in the product's unit)."""
        env["stock.quant"].flush_model(["quantity"])
        answers, seen = [], set()
        for product, location, lot, package in keys:
            key = (product.id, location.id, lot.id, package.id)
            if key in seen:
                continue
            seen.add(key)
            env.cr.execute(
                SQL(
                    """SELECT COALESCE(SUM(quantity), 0) FROM stock_quant
                        WHERE product_id = %s AND location_id = %s
                          AND lot_id IS NOT DISTINCT FROM %s
                          AND package_id IS NOT DISTINCT FROM %s""",
                    product.id,
                    location.id,
                    lot.id or None,
                    package.id or None,
                )
            )
            [quantity] = env.cr.fetchone()
            answers.append(
                dict(
                    posting_guard.key_details(product, location, lot, package),
                    quantity=quantity,
                    uom=product.uom_id.name,
                )
            )
        return answers

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    @api.model
    def _sscale_retention_days(self):
        value = self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM)
        try:
            return max(int(value), 1) if value else DEFAULT_RETENTION_DAYS
        except ValueError:
            return DEFAULT_RETENTION_DAYS

    @api.model
    def _cron_purge(self, batch_size=10_000):
        """Delete up to ``batch_size`` done or refused commands older than the
        retention (Inventory settings, default 30 days). The cron reports its
        progress (``ir.cron._notify_progress``), so Odoo runs it again at
        once while a full batch was deleted: no transaction holds a long
        lock. Returns the number deleted."""
        days = self._sscale_retention_days()
        self.env.cr.execute(
            SQL(
                """DELETE FROM stock_inventory_command
                    WHERE id IN (SELECT id FROM stock_inventory_command
                                  WHERE state != 'pending'
                                    AND create_date < (now() at time zone 'UTC')
                                                      - make_interval(days => %s)
                                  ORDER BY id LIMIT %s
                                    FOR UPDATE SKIP LOCKED)""",
                days,
                batch_size,
            )
        )
        deleted = self.env.cr.rowcount
        self.env["ir.cron"]._notify_progress(
            done=deleted, remaining=1 if deleted == batch_size else 0
        )
        if deleted:
            _logger.info(
                "stock_scalable: purged %d inventory commands older than %d days", deleted, days
            )
        self.invalidate_model()
        return deleted

    def action_open_document(self):
        """Open the transfer or scrap the command posted."""
        self.ensure_one()
        document = self.picking_id or self.scrap_id
        return {
            "type": "ir.actions.act_window",
            "res_model": document._name,
            "res_id": document.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
