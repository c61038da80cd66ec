# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os

from odoo import api, fields, models
from odoo.tools import config

from ..lib import config as bus_config

EVENT_TYPES = [
    ("RECEIPT", "Receipt"),
    ("SALE", "Sale"),
    ("RETURN", "Return"),
    ("TRANSFER", "Transfer"),
    ("INTERNAL", "Internal"),
    ("ADJUSTMENT", "Adjustment"),
    ("SCRAP", "Scrap"),
    ("PRODUCTION", "Production"),
]


class StockEventOutbox(models.Model):
    """One row per stock event, written in the posting's own transaction
    (transactional outbox); the dispatcher publishes it and marks it sent."""

    _name = "stock.event.outbox"
    _description = "Stock Event Outbox"
    _order = "id"
    _rec_name = "event_uuid"

    event_uuid = fields.Char(string="Event ID", required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True, index=True)
    product_id = fields.Many2one("product.product", readonly=True, index=True)
    event_type = fields.Selection(EVENT_TYPES, required=True, readonly=True)
    quantity = fields.Float(readonly=True, digits="Product Unit of Measure")
    sequence = fields.Integer(
        readonly=True, help="Increases strictly per product and warehouse, in commit order."
    )
    payload = fields.Json(readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("event_uuid_uniq", "unique(event_uuid)", "An event ID must be unique."),
    ]

    @api.model
    def _get_bus_settings(self):
        """The event-bus settings of this server (odoo.conf, environment)."""
        return bus_config.resolve(config.misc.get(bus_config.SECTION, {}), os.environ)
