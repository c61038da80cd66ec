# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks' side of RabbitMQ: odoo.conf copies pointing the event
bus at a bench exchange, the bench queue of the events, the broker user the
consumer maps, and threads that collect command replies and count events."""

import collections
import configparser
import json
import threading
import time
import urllib.parse
from pathlib import Path

import stacklib as stack

QUEUES = 8  # per-product queues of the bench's command exchange


def _conf_copy(conf, name, **values):
    """A copy of ``conf`` named ``name`` beside it, whose [stock_event_bus]
    section has ``values`` (and the broker of ``amqp_url()``)."""
    parser = configparser.RawConfigParser()
    parser.read(conf)
    if not parser.has_section("stock_event_bus"):
        parser.add_section("stock_event_bus")
    parser.set("stock_event_bus", "amqp_url", stack.amqp_url())
    for key, value in values.items():
        parser.set("stock_event_bus", key, value)
    path = Path(conf).with_name(name)
    with path.open("w") as handle:
        parser.write(handle)
    return path


def event_conf(conf, exchange):
    """A copy of ``conf`` whose events go to ``exchange``."""
    return _conf_copy(conf, f"dispatch-{exchange}.conf", exchange=exchange)


def command_conf(conf, exchange):
    """A copy of ``conf`` whose commands go through ``exchange``."""
    return _conf_copy(
        conf,
        f"commands-{exchange}.conf",
        command_exchange=exchange,
        command_queues=str(QUEUES),
    )


def channel():
    """``(connection, channel)`` on the broker of ``amqp_url()``."""
    connection = stack.amqp_connection()
    return connection, connection.channel()


def declare_event_queue(exchange):
    """The event topic ``exchange`` and a durable queue bound to every
    stock event: ``(connection, channel, queue)``."""
    connection, chan = channel()
    chan.exchange_declare(exchange, exchange_type="topic", durable=True)
    queue = f"{exchange}.q"
    chan.queue_declare(queue, durable=True)
    chan.queue_bind(queue, exchange, "stock.#")
    return connection, chan, queue


def broker_user():
    """The RabbitMQ user of ``amqp_url()``: the publishers' ``user_id``."""
    return urllib.parse.urlsplit(stack.amqp_url()).username


def map_broker_user(dbname):
    """Map :func:`broker_user` to admin (its AMQP User): the consumer posts
    what it publishes as admin, as the JSON-RPC and HTTP workloads do."""
    conn = stack.connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                "UPDATE res_users SET amqp_user = NULL WHERE amqp_user = %s", [broker_user()]
            )
            cr.execute(
                "UPDATE res_users SET amqp_user = %s WHERE login = 'admin'", [broker_user()]
            )
    finally:
        conn.close()


def command_properties(key, reply_to):
    """The AMQP properties of a command whose idempotency key is ``key``,
    answered on ``reply_to``."""
    import pika  # noqa: PLC0415

    return pika.BasicProperties(
        delivery_mode=2,
        content_type="application/json",
        message_id=key,
        correlation_id=key,
        reply_to=reply_to,
        user_id=broker_user(),
    )


def wait_for_consumers(chan, exchange, queue_indexes, processes, timeout=120):
    """Until each of ``queue_indexes`` has its (single active) consumer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [
            chan.queue_declare(f"{exchange}.{i}", passive=True).method.consumer_count
            for i in queue_indexes
        ]
        if all(counts):
            return
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.3)
    logs = "\n".join(p.log_path.read_text()[-3000:] for p in processes)
    raise RuntimeError(f"no consumer on {exchange}:\n{logs}")


class ReplyCollector(threading.Thread):
    """Receives the consumer's replies on an exclusive queue and notes
    when each correlation id was answered."""

    def __init__(self):
        super().__init__(daemon=True)
        self.connection, self.channel = channel()
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.replies = {}
        self.expected = 0
        self.stopping = False

    def run(self):
        def on_reply(_channel, _method, properties, body):
            self.replies[properties.correlation_id] = (time.perf_counter(), json.loads(body))

        self.channel.basic_consume(self.queue, on_reply, auto_ack=True)
        while not self.stopping:
            self.connection.process_data_events(time_limit=0.2)

    def wait(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.replies) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self):
        self.stopping = True
        self.join(10)
        self.connection.close()


class EventCounter(threading.Thread):
    """Drains the bench queue bound to the event exchange and counts every
    delivery by event_id (no deduplication: duplicates must show)."""

    def __init__(self, queue):
        super().__init__(daemon=True)
        self.connection, self.channel = channel()
        self.channel.basic_qos(prefetch_count=1000)
        self.queue = queue
        self.counts = collections.Counter()
        self.last = time.monotonic()
        self.stopping = False

    def run(self):
        def on_message(_channel, _method, _properties, body):
            self.counts[json.loads(body)["event_id"]] += 1
            self.last = time.monotonic()

        self.channel.basic_consume(self.queue, on_message, auto_ack=True)
        while not self.stopping:
            self.connection.process_data_events(time_limit=0.2)

    def stop(self):
        self.stopping = True
        self.join(10)
        self.connection.close()
