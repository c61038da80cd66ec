# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A test's own event bus: an exchange of its own, the dispatcher as the
Odoo command it is (``stock_event_dispatch``), the addon's consumer reading
a queue bound to the exchange, and the outbox of the test's database."""

import subprocess
import time
import uuid

import pika.exceptions

from odoo.addons.stock_event_bus.lib import consumer as consumer_lib

from . import odoo_conf, processes, stack


class EventBus:
    """One test's exchange, consumer queue and dispatcher runs on the
    committed database ``db_name``; ``amqp_url``: the dispatcher's broker
    (default: ``stack.amqp_url()``; the consumer always uses that one)."""

    def __init__(self, harness, db_name, tmp_path, amqp_url=None):
        self.db_name = db_name
        self.exchange = f"sscale.test.events.{uuid.uuid4().hex[:10]}"
        self.queue = f"{self.exchange}.q"
        self.amqp_url = amqp_url or stack.amqp_url()
        self.conf = odoo_conf.copy_conf(
            harness["conf"],
            tmp_path / f"dispatch-{uuid.uuid4().hex[:6]}.conf",
            exchange=self.exchange,
            amqp_url=self.amqp_url,
        )
        # The events of the template's demo postings (Manufacturing, Sales,
        # ...) are not this test's: this copy of the template starts without.
        # Nor are the level changes they marked.
        conn = stack.connect(db_name)
        try:
            with conn.cursor() as cr:
                cr.execute("DELETE FROM stock_event_outbox")
                cr.execute("DELETE FROM stock_level_change")
        finally:
            conn.close()
        self.consumer = consumer_lib.StockEventConsumer(
            stack.amqp_url(), self.queue, exchange=self.exchange, prefetch=200
        )
        self.consumer.connect()
        # Level events (stock_level.#) have a queue of their own: routable,
        # and apart from the movements the tests count.
        self.level_consumer = consumer_lib.StockEventConsumer(
            stack.amqp_url(),
            f"{self.queue}.levels",
            exchange=self.exchange,
            binding_keys=["stock_level.#"],
            prefetch=200,
        )
        self.level_consumer.connect()
        self.received = []
        self.levels = []
        self.processes = []

    def command(self, *args):
        return stack.dispatch_command(self.conf, self.db_name, *args)

    def dispatch_once(self, *args, env=None, timeout=300):
        return subprocess.run(
            self.command("--once", *args),
            capture_output=True,
            text=True,
            env=dict(stack.odoo_env(), **(env or {})),
            timeout=timeout,
            check=False,
        )

    def start(self, *args, env=None):
        """A long-running dispatcher; its log goes to a file (``log_path``)."""
        log = self.conf.with_suffix(f".{len(self.processes)}.log")
        process = processes.start(
            self.command("--poll-interval=1", *args),
            log,
            env=dict(stack.odoo_env(), **(env or {})),
        )
        self.processes.append(process)
        return process

    def receive(self, expected, timeout=60):
        """Consume until ``expected`` deliveries arrived (or timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < expected and time.monotonic() < deadline:
            self.consumer.run(
                self.handle, max_messages=expected - len(self.received), inactivity_timeout=1
            )
        return self.received

    def handle(self, event):
        """The consumer's handler: keeps the event in ``received``."""
        self.received.append(event)

    def receive_levels(self, expected, timeout=60):
        """Consume level events until ``expected`` arrived (or timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.levels) < expected and time.monotonic() < deadline:
            self.level_consumer.run(
                self.levels.append,
                max_messages=expected - len(self.levels),
                inactivity_timeout=1,
            )
        return self.levels

    def deliveries(self):
        """Every delivery, duplicates included (the consumer drops them)."""
        return self.consumer.stats["handled"] + self.consumer.stats["duplicates"]

    def close(self):
        for process in self.processes:
            processes.stop(process, 20)
        for consumer in (self.level_consumer, self.consumer):
            try:
                self._delete(consumer)
            except pika.exceptions.AMQPConnectionError:
                # A connection left without I/O for minutes (no heartbeats
                # in a BlockingConnection that is not used) was dropped by
                # the broker: delete on a new one.
                consumer.close()
                self._delete(consumer, consumer.connect())
            consumer.close()

    def _delete(self, consumer, channel=None):
        """Delete a consumer's queues and exchanges (the test's exchange
        with the movements' consumer)."""
        channel = channel or consumer._channel
        if channel is not None and channel.is_open:
            for queue in (consumer.queue, consumer.dead_letter_queue):
                channel.queue_delete(queue)
            channel.exchange_delete(consumer.dead_letter_exchange)
            if consumer is self.consumer:
                channel.exchange_delete(self.exchange)


def outbox(committed_db, where="TRUE", params=(), levels=False):
    """Rows of the outbox (id, event_uuid, state, product_id, warehouse_id,
    event_type, quantity, sequence, last_error) that meet ``where``, by id:
    movement events only, unless ``levels`` (LEVEL events too)."""
    if not levels:
        where = f"event_type <> 'LEVEL' AND ({where})"
    with committed_db.cursor() as cr:
        # ``where`` is a literal condition of the calling test, never input.
        cr.execute(
            "SELECT id, event_uuid, state, product_id, warehouse_id, event_type, quantity,"  # noqa: S608
            " sequence, last_error FROM stock_event_outbox WHERE " + where + " ORDER BY id",
            params,
        )
        return cr.fetchall()


def pending(committed_db):
    """How many movement events of the outbox wait to be published."""
    return len(outbox(committed_db, "state = 'pending'"))


def levels_pending(committed_db):
    """How many level events wait to be published, and level changes to be
    turned into events."""
    with committed_db.cursor() as cr:
        cr.execute(
            "SELECT (SELECT COUNT(*) FROM stock_event_outbox"
            "         WHERE state = 'pending' AND event_type = 'LEVEL')"
            " + (SELECT COUNT(*) FROM stock_level_change)"
        )
        return cr.fetchone()[0]


def fill_outbox(committed_db, product_ids, rounds):
    """Write ``rounds`` × (done lines of the products) real events through
    the posting hook, without posting again (fast pre-fill); returns the
    number of pending events."""
    with committed_db.env() as env:
        lines = env["stock.move.line"].search(
            [("product_id", "in", product_ids), ("state", "=", "done")]
        )
        for _round in range(rounds):
            env["stock.event.outbox"].sudo()._record_move_lines(lines)
        env.cr.execute("SELECT COUNT(*) FROM stock_event_outbox WHERE state = 'pending'")
        return env.cr.fetchone()[0]


def dispatcher_rows(committed_db, *dispatchers):
    """``(state, events_sent, last_seen)`` of each status row of these
    dispatcher processes (a row's name ends with ``:<pid>``)."""
    with committed_db.cursor() as cr:
        cr.execute(
            "SELECT state, events_sent, last_seen FROM stock_event_dispatcher"
            " WHERE name LIKE ANY(%s)",
            [[f"%:{process.pid}" for process in dispatchers]],
        )
        return cr.fetchall()
