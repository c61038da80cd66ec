# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks' side of RabbitMQ: odoo.conf copies pointing the event
bus at a bench exchange, the bench queue of the events, the broker user the
consumer maps, and threads that collect command replies and count events."""

import collections
import json
import threading
import time
import urllib.parse
from pathlib import Path

from tests.harness import amqp, odoo_conf, stack

QUEUES = 8  # per-product queues of the bench's command exchange


def _bus_conf(conf, name, **values):
    """A copy of ``conf`` named ``name`` beside it, whose [stock_event_bus]
    section has the broker of ``amqp_url()`` and ``values``."""
    target = Path(conf).with_name(name)
    return odoo_conf.copy_conf(conf, target, amqp_url=stack.amqp_url(), **values)


def event_conf(conf, exchange):
    """A copy of ``conf`` whose events go to ``exchange``."""
    return _bus_conf(conf, f"dispatch-{exchange}.conf", exchange=exchange)


def command_conf(conf, exchange):
    """A copy of ``conf`` whose commands go through ``exchange``."""
    name = f"commands-{exchange}.conf"
    return _bus_conf(conf, name, command_exchange=exchange, command_queues=QUEUES)


def channel(confirm=False):
    """``(connection, channel)`` on the broker of ``amqp_url()``, without
    heartbeats (the benchmarks' connections sit idle while the measured
    processes work); ``confirm``: with publisher confirms."""
    return amqp.open_channel(confirm=confirm, heartbeat=0)


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


def publish_command(chan, exchange, command, reply_to):
    """Publish ``command`` as a client does: routing key = its product,
    persistent, its idempotency key as message and correlation id, the
    outcome to ``reply_to``, from :func:`broker_user`."""
    key = command["idempotency_key"]
    amqp.publish(
        chan,
        exchange,
        command["product"],
        command,
        message_id=key,
        correlation_id=key,
        reply_to=reply_to,
        user_id=broker_user(),
    )


def delete_command_topology(chan, exchange):
    """Delete the queues and exchanges that ``declare_topology`` of the
    command consumer made for ``exchange``."""
    for name in [f"{exchange}.{i}" for i in range(QUEUES)] + [f"{exchange}.dead"]:
        chan.queue_delete(name)
    chan.exchange_delete(f"{exchange}.dlx")
    chan.exchange_delete(exchange)


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
