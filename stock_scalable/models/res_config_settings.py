# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sscale_negative_stock_policy = fields.Selection(
        related="company_id.sscale_negative_stock_policy", readonly=False
    )
    sscale_unique_serial = fields.Boolean(
        related="company_id.sscale_unique_serial", readonly=False
    )
    sscale_command_retention_days = fields.Integer(
        string="Command Keys Kept (Days)",
        config_parameter="stock_scalable.command_retention_days",
        default=30,
        help="Inventory commands (and their idempotency keys) are kept this many days,"
        " then purged by a daily cron. A copy sent after that is posted again.",
    )

    @api.constrains("sscale_command_retention_days")
    def _check_sscale_command_retention_days(self):
        stored = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("stock_scalable.command_retention_days")
        )
        for settings in self:
            days = settings.sscale_command_retention_days
            # A value stored before this check is kept until changed.
            if days < 1 and str(days) != stored:
                raise ValidationError(
                    _(
                        "Command keys are kept at least 1 day, not %(days)s: a copy of a"
                        " command sent after its key is purged is posted again.",
                        days=days,
                    )
                )
