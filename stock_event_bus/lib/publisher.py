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
from pika.adapters.utils import connection_workflow

from .config import mask_url

_logger = logging.getLogger(__name__)


class BrokerError(Exception):
    """The broker cannot be reached or refused us; the message says which
    broker (password masked) and why."""


class Publisher:
    def __init__(self, amqp_url, exchange, *, timeout=30.0, app_id="odoo.stock_event_bus"):
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.timeout = timeout
        self.app_id = app_id
        self._connection = None
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
    def last_error(self):
        """Why the last connection failed or was closed (a message), or None."""
        return str(self._error) if self._error is not None else None

    def connect(self):
        """Open the connection and a confirm-mode channel, declare the
        durable topic exchange. Raises :class:`BrokerError`."""
        self.close()
        self._error = None
        self._ready = False
        self._next_tag = 0
        try:
            params = pika.URLParameters(self.amqp_url)
        except Exception as exc:  # noqa: BLE001 - any parse error is a bad URL
            raise BrokerError(f"bad AMQP URL {mask_url(self.amqp_url)}: {exc}") from None
        params.socket_timeout = min(params.socket_timeout or self.timeout, self.timeout)
        params.blocked_connection_timeout = self.timeout
        self._connection = pika.SelectConnection(
            params,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_error,
            on_close_callback=self._on_connection_closed,
        )
        self._run_until(lambda: self._ready, "connecting")

    def close(self):
        connection, self._connection = self._connection, None
        self._ready = False
        if connection is None:
            return
        try:
            if connection.is_open:
                connection.close()
                connection.ioloop.call_later(self.timeout, connection.ioloop.stop)
                connection.ioloop.start()
        except Exception:  # noqa: BLE001 - closing a dead connection
            _logger.debug("closing the AMQP connection failed", exc_info=True)

    def _describe(self, exc):
        return f"broker {mask_url(self.amqp_url)}: {describe_error(exc)}"

    def _on_connection_open(self, connection):
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, connection, exc):
        self._error = BrokerError(self._describe(exc))
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, exc):
        self._ready = False
        if self._error is None and connection is self._connection:
            self._error = BrokerError(self._describe(exc))
        connection.ioloop.stop()

    def _on_channel_open(self, channel):
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.exchange_declare(
            exchange=self.exchange,
            exchange_type="topic",
            durable=True,
            callback=lambda _frame: channel.confirm_delivery(
                ack_nack_callback=self._on_confirm,
                callback=self._on_confirm_mode,
            ),
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
        properties dict)`` — and wait for the broker's answer to each.
        Returns ``{key: None}`` for confirmed messages and ``{key: reason}``
        for refused or unroutable ones. Raises :class:`BrokerError` when the
        connection fails (then no message of the batch counts as sent)."""
        if not self.connected:
            self.connect()
        self._pending.clear()
        self._returned.clear()
        self._results = {}
        for key, routing_key, body, props in messages:
            properties = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, app_id=self.app_id, **props
            )
            self._channel.basic_publish(
                self.exchange, routing_key, body, properties=properties, mandatory=True
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
                self._results[key] = "the broker refused the message (basic.nack)"
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
        if self._connection is not None:
            self._connection.ioloop.stop()

    def _run_until(self, done, what):
        connection = self._connection
        expired = []

        def expire():
            expired.append(True)
            connection.ioloop.stop()

        timer = connection.ioloop.call_later(self.timeout, expire)
        try:
            while not done() and self._error is None and not expired:
                connection.ioloop.start()
        finally:
            connection.ioloop.remove_timeout(timer)
        if self._error is None and not done():
            self._error = BrokerError(
                f"broker {mask_url(self.amqp_url)}: no answer after {self.timeout:g} s ({what})"
            )
        if self._error is not None:
            error = self._error
            self._ready = False
            if connection.is_open:
                try:
                    connection.close()
                except Exception:  # noqa: BLE001
                    _logger.debug("closing after an error failed", exc_info=True)
            raise error


def describe_error(exc):
    """A one-line, human reason for a pika connection error."""
    if type(exc) is pika.exceptions.AMQPConnectionError and exc.args:
        exc = exc.args[0]
    while isinstance(exc, connection_workflow.AMQPConnectionWorkflowFailed) and exc.exceptions:
        exc = exc.exceptions[-1]
    if isinstance(
        exc,
        pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError,
    ):
        return "access refused (wrong user name or password, or no access to the virtual host)"
    if isinstance(exc, connection_workflow.AMQPConnectorAMQPHandshakeError):
        exc = exc.exception
        if isinstance(
            exc,
            pika.exceptions.ProbableAuthenticationError
            | pika.exceptions.ProbableAccessDeniedError,
        ):
            return describe_error(exc)
    if isinstance(exc, connection_workflow.AMQPConnectorPhaseErrorBase):
        inner = exc.exception
        reason = inner.strerror if isinstance(inner, OSError) else repr(inner)
        return f"cannot connect ({reason})"
    if isinstance(exc, pika.exceptions.ConnectionClosedByBroker):
        return f"connection closed by the broker ({exc.reply_code} {exc.reply_text})"
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
        return f"channel closed by the broker ({exc.reply_code} {exc.reply_text})"
    return str(exc) or exc.__class__.__name__
