# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockEventDispatcher(models.Model):
    """What each running dispatcher reported last (written by the dispatcher
    process itself, see lib/dispatcher.py)."""

    _name = "stock.event.dispatcher"
    _description = "Stock Event Dispatcher"
    _order = "last_seen desc"
    _log_access = False

    name = fields.Char(required=True, readonly=True, help="host:pid of the dispatcher process")
    state = fields.Selection(
        [
            ("running", "Running"),
            ("broker_error", "Broker unreachable"),
            ("stopped", "Stopped"),
        ],
        required=True,
        readonly=True,
    )
    last_error = fields.Text(readonly=True)
    last_seen = fields.Datetime(readonly=True)
    events_sent = fields.Integer(readonly=True, help="Events published since it started")

    _sql_constraints = [("name_uniq", "unique(name)", "One row per dispatcher process.")]
