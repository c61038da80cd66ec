# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

CRON = "stock_scalable_reporting.ir_cron_refresh_reports"


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sscale_report_refresh_minutes = fields.Integer(
        string="Refresh stock reports every (minutes)",
        compute="_compute_sscale_report_refresh_minutes",
        inverse="_inverse_sscale_report_refresh_minutes",
        help="How often the materialized views of the stock reports are refreshed in the "
        "background. Reports stay exact in between (they add what was posted since).",
    )

    @api.depends("company_id")
    def _compute_sscale_report_refresh_minutes(self):
        cron = self.env.ref(CRON, raise_if_not_found=False)
        factor = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 43200}
        minutes = (
            cron.sudo().interval_number * factor.get(cron.sudo().interval_type, 1) if cron else 0
        )
        for settings in self:
            settings.sscale_report_refresh_minutes = minutes

    def _inverse_sscale_report_refresh_minutes(self):
        cron = self.env.ref(CRON, raise_if_not_found=False)
        for settings in self:
            if cron and settings.sscale_report_refresh_minutes > 0:
                cron.sudo().write(
                    {
                        "interval_number": settings.sscale_report_refresh_minutes,
                        "interval_type": "minutes",
                    }
                )
