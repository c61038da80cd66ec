# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

CRON = "stock_scalable_reporting.ir_cron_refresh_reports"
MAX_REFRESH_MINUTES = 10080  # a week


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sscale_report_refresh_minutes = fields.Integer(
        string="Refresh stock reports every (minutes)",
        compute="_compute_sscale_report_refresh_minutes",
        inverse="_inverse_sscale_report_refresh_minutes",
        help="How often the materialized views of the stock reports are refreshed in the "
        "background. Reports stay exact in between (they add what was posted since).",
    )

    def _sscale_refresh_cron_minutes(self, cron):
        factor = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 43200}
        return (
            cron.sudo().interval_number * factor.get(cron.sudo().interval_type, 1) if cron else 0
        )

    @api.depends("company_id")
    def _compute_sscale_report_refresh_minutes(self):
        cron = self.env.ref(CRON, raise_if_not_found=False)
        minutes = self._sscale_refresh_cron_minutes(cron)
        for settings in self:
            settings.sscale_report_refresh_minutes = minutes

    def _inverse_sscale_report_refresh_minutes(self):
        """Set the refresh cron's interval, from 1 minute to a week; an
        interval left as it is (one set on the cron itself) is kept."""
        cron = self.env.ref(CRON, raise_if_not_found=False)
        for settings in self:
            minutes = settings.sscale_report_refresh_minutes
            if not cron or minutes == self._sscale_refresh_cron_minutes(cron):
                continue
            if not 1 <= minutes <= MAX_REFRESH_MINUTES:
                raise ValidationError(
                    _(
                        "The stock reports are refreshed every 1 to %(max)s minutes (a week),"
                        " not every %(minutes)s.",
                        max=MAX_REFRESH_MINUTES,
                        minutes=minutes,
                    )
                )
            cron.sudo().write({"interval_number": minutes, "interval_type": "minutes"})
