# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Publish events to RabbitMQ with publisher confirms, many in flight.

No Odoo import. pika's asynchronous connection is driven step by step: a
batch is published without waiting, then the I/O loop runs until the broker
has confirmed (or refused) every message of the batch. Messages are
persistent and mandatory: one that no queue would receive comes back
(basic.return) and is reported as unroutable instead of being dropped.
"""

import logging

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop

from . import broker
from .broker import describe_error
from .config import mask_urls

_logger = logging.getLogger(__name__)


# The broker could not take the message now (basic.nack): a quorum queue
# electing a new leader after its node was lost, a queue over its length
# limit with reject-publish. Transient: publish it again later.
NACKED = "the broker did not take the message (basic.nack); it is published again later"


class BrokerError(Exception):
    """The broker cannot be reached or refused us; the message says which
    broker (password masked) and why."""


class Publisher:
    """``amqp_url``: one URL or several (the nodes of a cluster, separated by
    commas or spaces), tried in order at each connection; ``name`` is the
    connection name the broker shows."""

    def __init__(
        self, amqp_url, exchange, *, timeout=30.0, app_id="odoo.stock_event_bus", name=None
    ):
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.timeout = timeout
        self.app_id = app_id
        self.name = name
        self._connection = None
        self._ioloop = None
        self._channel = None
        self._error = None
        self._ready = False
        self._next_tag = 0
        self._pending = {}  # delivery tag -> message key
        self._returned = {}  # message_id -> reason
        self._results = {}  # message key -> None (confirmed) or reason
        self._waiting_for = None

    # -- connection -------------------------------------------------------

    @property
    def connected(self):
        return bool(self._ready and self._connection and self._connection.is_open)

    @property
    def endpoint(self):
        """``host:port/vhost`` of the node connected to, or None."""
        return broker.endpoint(self._connection.params) if self.connected else None

    @property
    def last_error(self):
        """Why the last connection failed or was closed (a message), or None."""
        return str(self._error) if self._error is not None else None

    def connect(self):
        """Open the connection (the first URL of ``amqp_url`` that answers,
        in order: pika's connection workflow) and a confirm-mode channel,
        declare the durable topic exchange (none for the default exchange,
        ``""``). Raises :class:`BrokerError`."""
        self.close()
        self._error = None
        self._ready = False
        self._next_tag = 0
        try:
            configs = broker.parameters(self.amqp_url, name=self.name, timeout=self.timeout)
        except ValueError as exc:
            raise BrokerError(str(exc)) from None
        self._ioloop = IOLoop()
        pika.SelectConnection.create_connection(
            configs, self._on_connection_done, custom_ioloop=self._ioloop
        )
        self._run_until(lambda: self._ready, "connecting")

    def close(self):
        connection, self._connection = self._connection, None
        ioloop, self._ioloop = self._ioloop, None
        self._ready = False
        try:
            if connection is not None and connection.is_open:
                connection.close()
                ioloop.call_later(self.timeout, ioloop.stop)
                ioloop.start()
        except Exception:  # noqa: BLE001 - closing a dead connection
            _logger.debug("closing the AMQP connection failed", exc_info=True)
        if ioloop is not None:
            # Also drops the sockets of a connection attempt still under way.
            ioloop.close()

    def _describe(self, exc):
        return f"broker {mask_urls(self.amqp_url)}: {describe_error(exc)}"

    def _on_connection_done(self, result):
        if isinstance(result, Exception):
            self._error = BrokerError(self._describe(result))
            self._ioloop.stop()
            return
        self._connection = result
        result.add_on_close_callback(self._on_connection_closed)
        result.channel(on_open_callback=self._on_channel_open)

    def _on_connection_closed(self, connection, exc):
        self._ready = False
        if self._error is None and connection is self._connection:
            self._error = BrokerError(self._describe(exc))
        connection.ioloop.stop()

    def _on_channel_open(self, channel):
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)

        def confirm_mode(_frame=None):
            channel.confirm_delivery(
                ack_nack_callback=self._on_confirm, callback=self._on_confirm_mode
            )

        if not self.exchange:
            # The default exchange (routing key = a queue's name): it always
            # exists and cannot be declared.
            confirm_mode()
            return
        channel.exchange_declare(
            exchange=self.exchange, exchange_type="topic", durable=True, callback=confirm_mode
        )

    def _on_confirm_mode(self, _frame):
        self._ready = True
        self._stop()

    def _on_channel_closed(self, _channel, exc):
        self._ready = False
        self._error = BrokerError(self._describe(exc))
        if self._connection and self._connection.is_open:
            self._connection.close()
        self._stop()

    # -- publishing -------------------------------------------------------

    def publish(self, messages):
        """Publish ``messages`` — ``(key, routing_key, body bytes,
        properties dict[, mandatory])`` — and wait for the broker's answer to
        each. Messages are mandatory unless the fifth item says otherwise
        (the broker drops one no queue takes, and confirms it).
        Returns ``{key: None}`` for confirmed messages and ``{key: reason}``
        for the others: :data:`NACKED` for those the broker did not take
        (publish them again later), another reason for unroutable ones.
        Raises :class:`BrokerError` when the connection fails (then no
        message of the batch counts as sent)."""
        if not self.connected:
            self.connect()
        self._pending.clear()
        self._returned.clear()
        self._results = {}
        for key, routing_key, body, props, *optional in messages:
            mandatory = optional[0] if optional else True
            properties = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, app_id=self.app_id, **props
            )
            self._channel.basic_publish(
                self.exchange, routing_key, body, properties=properties, mandatory=mandatory
            )
            self._next_tag += 1
            self._pending[self._next_tag] = (key, props.get("message_id"), routing_key)
        self._run_until(lambda: not self._pending, "waiting for publisher confirms")
        return self._results

    def _on_return(self, _channel, method, properties, _body):
        self._returned[properties.message_id] = (
            f"unroutable: no queue is bound to exchange {self.exchange!r} for routing key "
            f"{method.routing_key!r} ({method.reply_code} {method.reply_text})"
        )

    def _on_confirm(self, frame):
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tags = (
            [t for t in self._pending if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is None:
                continue
            key, message_id, _rk = entry
            if not acked:
                self._results[key] = NACKED
            else:
                self._results[key] = self._returned.pop(message_id, None)
        if not self._pending:
            self._stop()

    # -- idle -------------------------------------------------------------

    def wait(self, fds, timeout):
        """Wait until one of ``fds`` (file descriptors or objects with
        ``fileno()``) is readable or ``timeout`` seconds passed, while the
        connection's I/O loop runs: pika answers and sends heartbeats, and
        notices when the broker closes the connection (then
        :attr:`connected` is False and the next :meth:`publish` reconnects).
        Returns the readable ones; ``None`` when not connected (the caller
        waits some other way)."""
        if not self.connected:
            return None
        ioloop = self._connection.ioloop
        ready = []
        by_fd = {(f if isinstance(f, int) else f.fileno()): f for f in fds}

        def on_ready(fd, _events):
            ready.append(by_fd[fd])
            ioloop.stop()

        registered = []
        timer = ioloop.call_later(max(timeout, 0), ioloop.stop)
        try:
            for fd in by_fd:
                ioloop.add_handler(fd, on_ready, ioloop.READ)
                registered.append(fd)
            ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
            for fd in registered:
                ioloop.remove_handler(fd)
        return ready

    # -- I/O loop ---------------------------------------------------------

    def _stop(self):
        if self._ioloop is not None:
            self._ioloop.stop()

    def _run_until(self, done, what):
        ioloop = self._ioloop
        expired = []

        def expire():
            expired.append(True)
            ioloop.stop()

        timer = ioloop.call_later(self.timeout, expire)
        try:
            while not done() and self._error is None and not expired:
                ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
        if self._error is None and not done():
            self._error = BrokerError(
                f"broker {mask_urls(self.amqp_url)}: no answer after {self.timeout:g} s ({what})"
            )
        if self._error is not None:
            error = self._error
            self._ready = False
            connection = self._connection
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except Exception:  # noqa: BLE001
                    _logger.debug("closing after an error failed", exc_info=True)
            raise error
