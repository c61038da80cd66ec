# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""RabbitMQ for the tests, benchmarks and scripts: one way to open a
connection (``connect``, ``open_channel``) and to publish a command or an
event with the properties the addons' producers give it (``publish``)."""

import json

import pika

from . import stack

DEMO_QUEUE = "stock.events.demo"


def parameters(url=None, **settings):
    """pika parameters of ``url`` (default: ``stack.amqp_url()``), with
    ``settings`` (``heartbeat``, ``socket_timeout``...) set on them. A
    comma-separated list of URLs (a cluster, as odoo.conf's ``amqp_url``)
    gives a list, which pika tries in order.

    >>> parameters("amqp://u:p@127.0.0.1:5699/%2F", heartbeat=0).port
    5699
    >>> [p.port for p in parameters("amqp://127.0.0.1:1/, amqp://127.0.0.1:2/")]
    [1, 2]
    """
    urls = [u.strip() for u in (url or stack.amqp_url()).split(",") if u.strip()]
    params = [pika.URLParameters(u) for u in urls]
    for each in params:
        for name, value in settings.items():
            setattr(each, name, value)
    return params[0] if len(params) == 1 else params


def connect(url=None, **settings):
    """A pika BlockingConnection (``url`` and ``settings`` as in
    ``parameters``). Give ``heartbeat=0`` to a connection that sits idle for
    minutes while measured processes work: pika's blocking connection
    answers heartbeats only when it is called (the broker would close it:
    "missed heartbeats from client")."""
    return pika.BlockingConnection(parameters(url, **settings))


def open_channel(url=None, confirm=True, **settings):
    """``(connection, channel)`` on a new connection (as ``connect``); the
    channel has publisher confirms unless ``confirm`` is false."""
    connection = connect(url, **settings)
    channel = connection.channel()
    if confirm:
        channel.confirm_delivery()
    return connection, channel


def properties(persistent=True, content_type="application/json", **fields):
    """The properties of a command or an event: persistent, JSON, and
    ``fields`` (``user_id``, ``reply_to``, ``correlation_id``,
    ``message_id``, ``headers``...).

    >>> props = properties(message_id="m-1")
    >>> (props.delivery_mode, props.content_type, props.message_id)
    (2, 'application/json', 'm-1')
    """
    if persistent:
        fields["delivery_mode"] = pika.DeliveryMode.Persistent.value
    return pika.BasicProperties(content_type=content_type, **fields)


def publish(channel, exchange, routing_key, body, mandatory=False, **fields):
    """Publish ``body`` (a dict or list is sent as JSON, str and bytes as
    they are) on ``channel`` with ``properties(**fields)``."""
    if isinstance(body, dict | list):
        body = json.dumps(body)
    channel.basic_publish(exchange, routing_key, body, properties(**fields), mandatory=mandatory)


def declare_demo_queue(exchange="stock.events", queue=DEMO_QUEUE, url=None):
    """A durable queue bound to every stock event (routing key ``#``), kept to
    the last 10,000 messages, so that the demo's events are routed (the
    dispatcher publishes with ``mandatory``: an event no queue takes is marked
    failed as unroutable) and can be read in RabbitMQ's management UI. A real
    installation binds its consumers' queues instead. ``url``: the broker
    (default: ``stack.amqp_url()``)."""
    connection = connect(url)
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True, arguments={"x-max-length": 10_000})
        channel.queue_bind(queue, exchange, routing_key="#")
    finally:
        connection.close()
