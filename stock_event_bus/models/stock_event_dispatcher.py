# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging

import pika.exceptions

from odoo import api, fields, models

from ..lib import command_consumer

_logger = logging.getLogger(__name__)

# A running dispatcher writes its row at least every poll interval (5 s by
# default) while idle, and after every batch.
SILENT_AFTER = datetime.timedelta(minutes=2)


class StockEventDispatcher(models.Model):
    """What each running dispatcher reported last (written by the dispatcher
    process itself, see lib/dispatcher.py)."""

    _name = "stock.event.dispatcher"
    _description = "Stock Event Dispatcher"
    _order = "last_seen desc"
    _log_access = False

    name = fields.Char(required=True, readonly=True, help="host:pid of the process")
    kind = fields.Selection(
        [("dispatcher", "Event Dispatcher"), ("command_consumer", "Command Consumer")],
        required=True,
        default="dispatcher",
        readonly=True,
        help="stock_event_dispatch publishes the outbox; stock_command_consume posts the"
        " inventory commands of the stock.commands exchange.",
    )
    state = fields.Selection(
        [
            ("running", "Running"),
            ("broker_error", "Broker unreachable"),
            ("db_error", "Database unavailable"),
            ("stopped", "Stopped"),
        ],
        required=True,
        readonly=True,
    )
    last_error = fields.Text(readonly=True)
    last_seen = fields.Datetime(string="Last Heartbeat", readonly=True)
    responding = fields.Boolean(
        compute="_compute_responding",
        help="Running and heard from in the last two minutes. A dispatcher killed"
        " without a chance to say so (SIGKILL, a lost machine) stays Running with"
        " an old heartbeat.",
    )
    events_sent = fields.Integer(
        readonly=True,
        help="Events published (dispatcher) or commands handled (consumer) since it started",
    )

    @api.depends("state", "last_seen")
    def _compute_responding(self):
        limit = fields.Datetime.now() - SILENT_AFTER
        for dispatcher in self:
            dispatcher.responding = bool(
                dispatcher.state == "running"
                and dispatcher.last_seen
                and dispatcher.last_seen >= limit
            )

    _sql_constraints = [("name_uniq", "unique(name)", "One row per dispatcher process.")]

    @api.model
    def _declare_command_topology(self):
        """Declare the command exchange and queues on the broker of odoo.conf,
        so that publishers can send commands before any consumer ran. Called
        when stock_event_bus is installed or upgraded
        (data/command_topology.xml): best effort, a failure is logged and
        never fails the install (``stock_command_consume --declare-only``
        does it again). Returns True when declared."""
        try:
            settings = self.env["stock.event.outbox"]._get_bus_settings()
        except ValueError as exc:
            _logger.warning("stock_event_bus: command topology not declared: %s", exc)
            return False
        if not settings.broker_configured:
            return False
        try:
            node = command_consumer.declare(
                settings.amqp_url,
                settings.command_exchange,
                settings.command_queues,
                settings.command_queue_type,
                timeout=5,
            )
        except (command_consumer.TopologyError, pika.exceptions.AMQPError, OSError) as exc:
            _logger.warning(
                "stock_event_bus: command exchange %s not declared on %s (%s); run"
                " stock_command_consume --declare-only once the broker answers",
                settings.command_exchange,
                settings.safe_amqp_url,
                str(exc) or type(exc).__name__,
            )
            return False
        _logger.info(
            "stock_event_bus: command exchange %s and its %d queues declared at %s",
            settings.command_exchange,
            settings.command_queues,
            node,
        )
        return True
