# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""18.0.2.0.0: a quant's quantity is never NULL (a CHECK constraint on
stock_quant.quantity). Quants stored without one by an earlier version (a
count of 0 where nothing was stocked) are set to 0, as Odoo reads them,
before the upgrade adds the constraint."""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute("UPDATE stock_quant SET quantity = 0 WHERE quantity IS NULL")
    _logger.info("stock_scalable: %s quants without a quantity set to 0", cr.rowcount)
