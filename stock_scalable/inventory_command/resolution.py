# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Step 1 of a command (see runner.py): its names resolved to records.

Read only, before anything is claimed: a GS1-128 barcode decoded with Odoo's
nomenclature, the product, locations, unit, lot and package looked up as the
user may see them, and every refusal raised as a ``CommandError`` (unknown_*,
ambiguous, bad_location, bad_product, lot_required, bad_quantity,
forbidden). :meth:`_sscale_row_values` gives the row the claim inserts.
"""

import json
import logging

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_round

from ..lib import commands as cmdlib
from ..lib import gs1
from .runner import LOOKUP_SLOT

_logger = logging.getLogger(__name__)


class StockInventoryCommand(models.Model):
    _inherit = "stock.inventory.command"

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
            elements = nomenclature.sudo().parse_barcode(gs1.gs1_raw(command.barcode))
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
        return gs1.merge_gs1(command, decoded)

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
        :func:`.runner.execute` resolves a batch, a lookup
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
