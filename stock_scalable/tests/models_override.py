# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A module overriding Odoo's per-line quant method, as third-party addons
do; loaded by test_set_posting.py with odoo-test-helper (never at import)."""

from odoo import api, models


class StockQuant(models.Model):
    _inherit = "stock.quant"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _update_available_quantity(self, product_id, location_id, quantity=False, **kwargs):
        calls = self.env.cr.cache.setdefault("test_override_calls", [])
        calls.append((product_id.id, location_id.id, quantity))
        return super()._update_available_quantity(product_id, location_id, quantity, **kwargs)
