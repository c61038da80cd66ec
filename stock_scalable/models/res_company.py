# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..lib import guard

DEFAULT_POLICY_PARAM = "stock_scalable.default_negative_stock_policy"


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

    def _sscale_negative_policy(self):
        """The company's policy; empty (a company created by code that does not
        know this module) means the default one."""
        self.ensure_one()
        return self.sscale_negative_stock_policy or self._sscale_default_negative_policy()
