# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockEventSequence(models.Model):
    """The last event sequence number of each (product, warehouse). Its row
    is updated in the posting's transaction, so numbers follow commit order
    with no gap."""

    _name = "stock.event.sequence"
    _description = "Stock Event Sequence"
    _log_access = False

    product_id = fields.Many2one("product.product", required=True, ondelete="cascade")
    warehouse_id = fields.Many2one("stock.warehouse", required=True, ondelete="cascade")
    last_sequence = fields.Integer(required=True, default=0)

    _sql_constraints = [
        (
            "key_uniq",
            "unique(product_id, warehouse_id)",
            "One sequence per product and warehouse.",
        ),
    ]
