# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.addons.stock_scalable_reporting.matviews import matview

from .matviews import valuation


def uninstall_hook(env):
    """Drop the valuation views, journal and trigger: the ORM knows nothing
    of them (stock_scalable_reporting's own objects stay)."""
    matview.drop_all(env.cr, valuation.PREFIX)
