# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Connecting to one broker or the nodes of a RabbitMQ cluster: connection
parameters, a blocking connection, a one-line reason for a failure, and the
growing pause between attempts (the dispatcher, the publisher and the
command consumer share them).

No Odoo import. pika itself does the failover: given a list of
``ConnectionParameters``, ``BlockingConnection`` and
``SelectConnection.create_connection`` try them in order until one opens
(each with its own ``connection_attempts``), so a process whose node stops
reconnects to the next node at its next attempt.
"""

import urllib.parse

import pika
import pika.exceptions
from pika.adapters.utils import connection_workflow

from .config import mask_url, split_urls


def parameters(amqp_url, *, name=None, timeout=None):
    """``pika.URLParameters`` for each URL of ``amqp_url`` (one URL, or
    several separated by commas or spaces), in order.

    ``name`` becomes the connection's ``connection_name`` client property,
    shown by ``rabbitmqctl list_connections client_properties`` and the
    management UI. ``timeout`` (seconds) caps the socket and blocked-
    connection timeouts. Raises ``ValueError`` naming the bad URL, password
    masked."""
    result = []
    for url in split_urls(amqp_url):
        try:
            params = pika.URLParameters(url)
        except Exception as exc:  # noqa: BLE001 - any parse error is a bad URL
            raise ValueError(f"bad AMQP URL {mask_url(url)}: {exc}") from None
        if timeout is not None:
            params.socket_timeout = min(params.socket_timeout or timeout, timeout)
            params.blocked_connection_timeout = timeout
        if name:
            params.client_properties = {"connection_name": name}
        result.append(params)
    if not result:
        raise ValueError("no AMQP URL configured")
    return result


def endpoint(params):
    """A printable ``host:port/vhost`` of ``params``, the virtual host
    encoded as in a URL (``127.0.0.1:5672/%2F``); no credentials."""
    return f"{params.host}:{params.port}/{urllib.parse.quote(params.virtual_host, safe='')}"


def connected_endpoint(connection):
    """:func:`endpoint` of an open pika connection, blocking or not (a
    ``BlockingConnection`` wraps its ``SelectConnection`` as ``_impl``)."""
    impl = getattr(connection, "_impl", connection)  # pylint: disable=protected-access
    return endpoint(impl.params)


def connect_blocking(amqp_url, *, name, timeout=None):
    """A ``pika.BlockingConnection`` to the first node of ``amqp_url`` that
    answers, each node tried once (the caller retries with a
    :class:`Backoff`). Raises ``ValueError`` for a bad URL
    (:func:`parameters`), pika's errors when no node answers."""
    configs = parameters(amqp_url, name=name, timeout=timeout)
    for params in configs:
        params.connection_attempts = 1
    return pika.BlockingConnection(configs)


BACKOFF_START = 1.0
BACKOFF_MAX = 60.0


class Backoff:
    def __init__(self, start=BACKOFF_START, maximum=BACKOFF_MAX):
        self.start = start
        self.maximum = maximum
        self.delay = start

    def next(self):
        delay, self.delay = self.delay, min(self.delay * 2, self.maximum)
        return delay

    def reset(self):
        self.delay = self.start


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
