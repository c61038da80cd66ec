# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""stock.inventory.command: one inventory command (receive, deliver, move,
count, scrap) from a scanner or an integration, posted once per idempotency
key as a real Odoo document.

This file holds the row: its fields, the retention cron and the form's
button. The command path is in ``inventory_command/``: the wire format and
its errors are pure (lib/commands.py); runner.py runs the transactions
(resolve, claim, post, retry); resolution.py resolves names to records;
posting.py posts one command as an Odoo document; batch.py posts a run of
transfers together.
"""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..lib import commands as cmdlib

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
