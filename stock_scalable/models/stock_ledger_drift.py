# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, float_compare, float_repr

from ..lib.quant_key import QuantKey, key_columns


class StockLedgerDrift(models.Model):
    """A quant key whose on-hand differs from its ledger (the sum of done
    move lines in minus out), found by the reconciliation check. Repairs are
    kept, with who made them and the quantities before and after."""

    _name = "stock.ledger.drift"
    _description = "Stock Ledger Drift"
    _inherit = ["mail.thread"]
    _order = "check_date desc, id desc"
    _rec_name = "product_id"

    check_date = fields.Datetime(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    product_id = fields.Many2one("product.product", required=True, readonly=True, index=True)
    location_id = fields.Many2one("stock.location", required=True, readonly=True, index=True)
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", readonly=True)
    package_id = fields.Many2one("stock.quant.package", string="Package", readonly=True)
    owner_id = fields.Many2one("res.partner", string="Owner", readonly=True)
    product_uom_id = fields.Many2one(related="product_id.uom_id")
    quantity = fields.Float(
        "On Hand", readonly=True, digits="Product Unit of Measure", help="Sum of the key's quants."
    )
    ledger_quantity = fields.Float(
        "Ledger",
        readonly=True,
        digits="Product Unit of Measure",
        help="Done move lines into the key minus done move lines out of it.",
    )
    difference = fields.Float(readonly=True, digits="Product Unit of Measure")
    quant_count = fields.Integer("Quant Rows", readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved"), ("repaired", "Repaired")],
        default="open",
        required=True,
        readonly=True,
        index=True,
        tracking=True,
    )
    repaired_by = fields.Many2one("res.users", readonly=True)
    repaired_date = fields.Datetime(readonly=True)
    repaired_from = fields.Float(
        "On Hand Before Repair", readonly=True, digits="Product Unit of Measure"
    )
    repaired_to = fields.Float(
        "On Hand After Repair", readonly=True, digits="Product Unit of Measure"
    )

    def _key(self):
        self.ensure_one()
        return QuantKey.of(
            self.product_id, self.location_id, self.lot_id, self.package_id, self.owner_id
        )

    def action_check_ledger(self):
        """Compare every quant key with its ledger and record what drifts.

        Plain MVCC reads: no lock is taken on quants or move lines, so
        posting goes on during the check. Open findings that no longer drift
        become Resolved; new ones are created, known ones updated."""
        if not self.env.user.has_group("stock.group_stock_manager"):
            raise AccessError(_("Only inventory administrators can check the stock ledger."))
        self = self.sudo()
        now = fields.Datetime.now()
        rows = self.env["stock.quant"]._sscale_ledger_drift()
        open_by_key = {d._key(): d for d in self.search([("state", "=", "open")])}
        to_create = []
        for row in rows:
            key = QuantKey.of(
                row["product_id"],
                row["location_id"],
                row["lot_id"],
                row["package_id"],
                row["owner_id"],
            )
            values = {
                "check_date": now,
                "quantity": row["quantity"],
                "ledger_quantity": row["ledger_quantity"],
                "difference": row["quantity"] - row["ledger_quantity"],
                "quant_count": row["quant_count"],
            }
            finding = open_by_key.pop(key, None)
            if finding:
                finding.write(values)
            else:
                location = self.env["stock.location"].browse(key.location_id)
                to_create.append(
                    dict(
                        values,
                        product_id=key.product_id,
                        location_id=key.location_id,
                        lot_id=key.lot_id or False,
                        package_id=key.package_id or False,
                        owner_id=key.owner_id or False,
                        company_id=location.company_id.id,
                    )
                )
        for finding in open_by_key.values():
            finding.write({"state": "resolved", "check_date": now})
        self.create(to_create)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Stock ledger checked"),
                "message": _("Quant keys that differ from their ledger: %s.", len(rows)),
                "type": "warning" if rows else "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.model
    def _cron_check_ledger(self):
        """Daily reconciliation (runs as the cron's user, OdooBot)."""
        return self.with_user(self.env.ref("base.user_root")).action_check_ledger()

    def _ledger_of_key(self, key):
        """The ledger of one key, read under the key's lock."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(CASE WHEN (%(dest_key)s) = %(key)s
                                         THEN quantity_product_uom ELSE 0 END), 0)
                     - COALESCE(SUM(CASE WHEN (%(source_key)s) = %(key)s
                                         THEN quantity_product_uom ELSE 0 END), 0)
                  FROM stock_move_line
                 WHERE state = 'done' AND product_id = %(product)s
                   AND (location_id = %(loc)s OR location_dest_id = %(loc)s)
                """,
                # Each end's key, from the one definition (lib/quant_key.py).
                dest_key=SQL(
                    key_columns(location_id="location_dest_id", package_id="result_package_id")
                ),
                source_key=SQL(key_columns()),
                key=tuple(key),
                product=key.product_id,
                loc=key.location_id,
                lot=key.lot_id,
                pack=key.package_id,
                owner=key.owner_id,
            )
        )
        return self.env.cr.fetchone()[0]

    def action_repair(self):
        """Set each finding's quant to its ledger, under the key's lock.

        Inventory administrators only. The ledger is read again under the
        lock, so a posting made since the check is counted. The finding keeps
        who repaired it, when, and the quantities before and after."""
        if not self.env.user.has_group("stock.group_stock_manager"):
            raise AccessError(_("Only inventory administrators can repair stock quantities."))
        user = self.env.user
        findings = self.sudo().filtered(lambda d: d.state == "open")
        Quant = self.env["stock.quant"].sudo()
        locked = Quant._sscale_lock_keys([f._key() for f in findings])
        digits = self.env["decimal.precision"].precision_get("Product Unit of Measure")
        for finding in findings:
            key = finding._key()
            quant = Quant.browse(locked.get(key))
            ledger = self._ledger_of_key(key)
            before = quant.quantity
            if not quant and float_compare(ledger, 0, precision_digits=digits):
                Quant._sscale_create_quant(
                    dict(
                        zip(QuantKey._fields, (v or False for v in key), strict=False),
                        quantity=ledger,
                    )
                )
            elif float_compare(before, ledger, precision_digits=digits):
                quant.write({"quantity": ledger})
            finding.write(
                {
                    "state": "repaired",
                    "repaired_by": user.id,
                    "repaired_date": fields.Datetime.now(),
                    "repaired_from": before,
                    "repaired_to": ledger,
                }
            )
            finding.message_post(
                body=_(
                    "On hand of %(product)s in %(location)s set from %(before)s to the ledger's "
                    "%(after)s by %(user)s.",
                    product=finding.product_id.display_name,
                    location=finding.location_id.complete_name,
                    before=float_repr(before, digits),
                    after=float_repr(ledger, digits),
                    user=user.name,
                )
            )
        return True
