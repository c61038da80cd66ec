# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Connection parameters for one broker or the nodes of a RabbitMQ cluster.

No Odoo import. pika itself does the failover: given a list of
``ConnectionParameters``, ``BlockingConnection`` and
``SelectConnection.create_connection`` try them in order until one opens
(each with its own ``connection_attempts``), so a process whose node stops
reconnects to the next node at its next attempt.
"""

import urllib.parse

import pika

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
