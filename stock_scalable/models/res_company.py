# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..lib import guard

DEFAULT_POLICY_PARAM = "stock_scalable.default_negative_stock_policy"
DEFAULT_UNIQUE_SERIAL_PARAM = "stock_scalable.default_unique_serial"


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.model
    def _sscale_default_negative_policy(self):
        policy = (
            self.env["ir.config_parameter"].sudo().get_param(DEFAULT_POLICY_PARAM)
            or guard.FORBID_INTERNAL
        )
        return policy if policy in guard.POLICIES else guard.FORBID_INTERNAL

    sscale_negative_stock_policy = fields.Selection(
        [
            (guard.FORBID_INTERNAL, "Forbid negative stock in internal locations"),
            (guard.ALLOW, "Allow negative stock"),
        ],
        string="Negative Stock",
        default=_sscale_default_negative_policy,
        help="Checked when a posting takes stock, under the quant lock. Locations, "
        "product categories and products can be exceptions that allow negative stock.",
    )

    @api.model
    def _sscale_default_unique_serial(self):
        value = self.env["ir.config_parameter"].sudo().get_param(DEFAULT_UNIQUE_SERIAL_PARAM)
        return not value or str(value).strip().lower() not in ("0", "false", "no")

    sscale_unique_serial = fields.Boolean(
        string="Serial Numbers Once in Stock",
        default=_sscale_default_unique_serial,
        help="Refuse a posting that would put a serial number on hand in two internal "
        "locations of the company at once (Odoo alone only warns).",
    )

    def _sscale_negative_policy(self):
        """The company's policy; empty (a company created by code that does not
        know this module) means the default one."""
        self.ensure_one()
        return self.sscale_negative_stock_policy or self._sscale_default_negative_policy()
