# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.publisher import BrokerError, Publisher


class StockEventBusStatus(models.TransientModel):
    """Inventory > Configuration > Event Bus > Status: the state of the outbox,
    of the broker and of each dispatcher, for stock managers (credentials
    are never shown). A screen, not a document: the menu opens one record
    (:meth:`action_open_status`) whose fields are computed at each read, so
    *Refresh* reloads it and nothing is ever saved."""

    _name = "stock.event.bus.status"
    _description = "Stock Event Bus Status"

    broker = fields.Char(compute="_compute_status", help="AMQP URL, password masked")
    exchange = fields.Char(compute="_compute_status")
    retention_days = fields.Integer(compute="_compute_status", string="Retention (days)")
    pending_count = fields.Integer(compute="_compute_status")
    failed_count = fields.Integer(compute="_compute_status")
    oldest_pending_age = fields.Char(string="Oldest pending event", compute="_compute_status")
    sent_last_hour = fields.Integer(string="Sent in the last hour", compute="_compute_status")
    throughput_last_hour = fields.Float(
        string="Events per second (last hour)", compute="_compute_status"
    )
    level_events = fields.Boolean(
        compute="_compute_status",
        help="Level events (absolute on-hand, reserved and available quantity per product and"
        " warehouse) are published: level_events in the [stock_event_bus] section of odoo.conf.",
    )
    level_changes_pending = fields.Integer(
        string="Level changes waiting",
        compute="_compute_status",
        help="Committed changes of a product's levels in a warehouse that no dispatcher has"
        " turned into a level event yet.",
    )
    dispatcher_ids = fields.Many2many(
        "stock.event.dispatcher", string="Dispatchers", compute="_compute_status"
    )

    @api.depends()
    def _compute_display_name(self):
        for status in self:
            status.display_name = _("Event Bus Status")

    def _compute_status(self):
        values = self._read_status()
        for status in self:
            status.update(values)

    @api.model
    def action_open_status(self):
        """The menu's action: the status screen, titled, on a record of its own."""
        return {
            "type": "ir.actions.act_window",
            "name": _("Event Bus Status"),
            "res_model": self._name,
            "res_id": self.create({}).id,
            "view_mode": "form",
            "target": "current",
            "context": {"form_view_initial_mode": "readonly"},
        }

    @api.model
    def _read_status(self):
        Outbox = self.env["stock.event.outbox"]
        settings = Outbox._get_bus_settings()
        now = fields.Datetime.now()
        oldest = Outbox.search([("state", "=", "pending")], order="id", limit=1)
        sent_last_hour = Outbox.search_count(
            [("state", "=", "sent"), ("sent_at", ">=", now - datetime.timedelta(hours=1))]
        )
        return {
            "broker": settings.safe_amqp_url or _("not configured (events wait in the outbox)"),
            "exchange": settings.exchange,
            "retention_days": settings.retention_days,
            "pending_count": Outbox.search_count([("state", "=", "pending")]),
            "failed_count": Outbox.search_count([("state", "=", "failed")]),
            "oldest_pending_age": self._format_age(now - oldest.create_date)
            if oldest
            else _("none"),
            "sent_last_hour": sent_last_hour,
            "throughput_last_hour": sent_last_hour / 3600.0,
            "level_events": settings.level_events,
            "level_changes_pending": self.env["stock.level.change"].sudo().search_count([]),
            "dispatcher_ids": self.env["stock.event.dispatcher"].sudo().search([]),
        }

    def action_refresh(self):
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_test_connection(self):
        """Connect to each configured broker (each node of a cluster) and
        declare the exchange: success when all answer, a warning naming the
        nodes that do not, an error when none does."""
        settings = self.env["stock.event.outbox"]._get_bus_settings()
        if not settings.broker_configured:
            raise UserError(
                _(
                    "No broker is configured. Set amqp_url in the [stock_event_bus] section "
                    "of the Odoo configuration file, or the STOCK_EVENT_BUS_AMQP_URL "
                    "environment variable."
                )
            )
        # Each node on its own: a node that refuses (down, wrong password)
        # must show now, not on the day the others fail.
        failed = []
        for url in settings.amqp_urls:
            publisher = Publisher(url, settings.exchange, timeout=10)
            try:
                publisher.connect()
            except BrokerError as exc:
                failed.append(str(exc))
            finally:
                publisher.close()
        if len(failed) == len(settings.amqp_urls):
            raise UserError(_("Connection failed: %s", "; ".join(failed)))
        if failed:
            return self.env["stock.event.outbox"]._notify(
                _(
                    "%(ok)s of %(count)s brokers answer; exchange %(exchange)s is ready."
                    " Not answering: %(failed)s",
                    ok=len(settings.amqp_urls) - len(failed),
                    count=len(settings.amqp_urls),
                    exchange=settings.exchange,
                    failed="; ".join(failed),
                ),
                kind="warning",
            )
        return self.env["stock.event.outbox"]._notify(
            _(
                "Connected to %(broker)s, exchange %(exchange)s is ready.",
                broker=settings.safe_amqp_url,
                exchange=settings.exchange,
            )
        )

    def action_retry_failed(self):
        return self.env["stock.event.outbox"].action_retry_failed()

    @api.model
    def _format_age(self, delta):
        seconds = int(delta.total_seconds())
        if seconds < 120:
            return _("%s seconds", seconds)
        if seconds < 7200:
            return _("%s minutes", seconds // 60)
        if seconds < 172800:
            return _("%s hours", seconds // 3600)
        return _("%s days", seconds // 86400)

    def _open_outbox(self, state):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "stock_event_bus.action_stock_event_outbox"
        )
        action["context"] = {f"search_default_{state}": 1}
        return action

    def action_open_pending(self):
        return self._open_outbox("pending")

    def action_open_failed(self):
        return self._open_outbox("failed")
