# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A consumer of stock events for downstream services. Pure Python (pika,
and jsonschema for validation), no Odoo: installed with pip as the package
``stock_events`` (``pip install ./`` at the repository's root, whose
pyproject.toml maps this folder to it; README, "A client for downstream
services"), and:

    from stock_events.consumer import StockEventConsumer

    def apply(event):  # your side effect; raise PoisonMessage to reject
        print(event["event_type"], event["product_id"], event["quantity"])

    consumer = StockEventConsumer(
        "amqp://guest:guest@localhost:5672/%2F", queue="shop.stock",  # or a list
        # of cluster nodes: "amqp://...@rabbit1/%2F, amqp://...@rabbit2/%2F"
        binding_keys=["stock.1.*.sale", "stock.1.*.receipt"],
    )
    consumer.run(apply)  # manual acks, prefetch, dedup by event_id, DLX

Every message is acknowledged only after ``handler`` returned. A message
that is not a valid event (bad JSON, schema violation) or that the handler
rejects with :class:`PoisonMessage` is published to the dead-letter exchange
with the reason in the ``x-poison-reason`` header, then acknowledged: it
never blocks the queue. Any other exception requeues the message (a
transient failure: the handler will see it again). Deduplication keeps the
last ``dedup_size`` event ids in memory; pass ``seen`` (any object with
``__contains__`` and ``add``, e.g. backed by a database table) to make it
survive restarts.
"""

import collections
import logging
import time

import pika

from . import broker, events

_logger = logging.getLogger(__name__)


class PoisonMessage(Exception):
    """Raised by a handler for a message it can never process."""


class QueueTypeError(Exception):
    """The queue exists with another type (e.g. classic, declared by an
    earlier version of this library) than the one asked for."""


class RecentIds:
    """The last ``size`` ids seen (a bounded, insertion-ordered set)."""

    def __init__(self, size=100_000):
        self.size = size
        self._ids = collections.OrderedDict()

    def __contains__(self, event_id):
        return event_id in self._ids

    def add(self, event_id):
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)


class StockEventConsumer:
    def __init__(
        self,
        amqp_url,
        queue,
        *,
        exchange="stock.events",
        binding_keys=("stock.#",),
        prefetch=100,
        dead_letter_exchange=None,
        seen=None,
        dedup_size=100_000,
        validate=True,
        queue_type="quorum",
    ):
        self.amqp_url = amqp_url
        self.queue_type = queue_type
        self.queue = queue
        self.exchange = exchange
        self.binding_keys = list(binding_keys)
        self.prefetch = prefetch
        # Each queue its own dead-letter exchange: a shared one would copy
        # every service's dead letters into every other service's.
        self.dead_letter_exchange = dead_letter_exchange or f"{queue}.dlx"
        self.dead_letter_queue = f"{queue}.dead"
        self.seen = seen if seen is not None else RecentIds(dedup_size)
        self.validate = validate
        self.stats = collections.Counter()
        self._connection = None
        self._channel = None
        self._stopping = False

    def connect(self):
        """Connect to the first node of ``amqp_url`` that answers (one URL,
        or the nodes of a cluster separated by commas) and declare: the
        durable topic exchange, the queue bound to it, the dead-letter
        exchange and its queue. The queues are quorum queues (replicated
        over the cluster's nodes) unless ``queue_type="classic"``."""
        self._connection = pika.BlockingConnection(
            broker.parameters(self.amqp_url, name=f"stock event consumer {self.queue}")
        )
        channel = self._connection.channel()
        channel.confirm_delivery()  # a dead letter is acked only once the broker has it
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
        typed = {"x-queue-type": self.queue_type}
        for queue in (self.queue, self.dead_letter_queue):
            try:
                channel.queue_declare(queue, durable=True, arguments=typed)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 406:  # PRECONDITION_FAILED: inequivalent arguments
                    raise
                self.close()
                raise QueueTypeError(
                    f"queue {queue!r} exists with other arguments than {typed} ({exc.reply_text})."
                    " RabbitMQ cannot change a queue's type: pass queue_type='classic' to keep"
                    " it, or stop this consumer, let it drain (rabbitmqctl list_queues name"
                    " messages), delete it (rabbitmqctl delete_queue <name>) and start again"
                ) from None
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)
        for key in self.binding_keys:
            channel.queue_bind(self.queue, self.exchange, routing_key=key)
        channel.basic_qos(prefetch_count=self.prefetch)
        self._channel = channel
        return channel

    def stop(self):
        """Make :meth:`run` return after the message being handled (safe to
        call from a signal handler): SIGTERM stops between messages."""
        self._stopping = True

    def process_events(self):
        """Let the connection answer the broker's heartbeats while the caller
        is busy elsewhere (a long bootstrap) without consuming; nothing when
        not connected or the connection is gone (:meth:`run` reconnects)."""
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.process_data_events(time_limit=0)
            except pika.exceptions.AMQPError as exc:
                _logger.warning("stock event consumer: connection lost while idle (%r)", exc)
                self.close()

    def close(self):
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = self._channel = None

    def parse(self, body):
        """The event in a message body; raises :class:`PoisonMessage`. Strict
        JSON: a name given twice in an object, NaN or Infinity are refused
        (Python's decoder would keep the last value, or a NaN)."""
        try:
            event = events.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise PoisonMessage(f"not JSON: {exc}") from None
        if not isinstance(event, dict):
            raise PoisonMessage("not a JSON object")
        if self.validate:
            try:
                events.validate(event)
            except events.PayloadError as exc:
                raise PoisonMessage(str(exc)) from None
        elif "event_id" not in event:
            raise PoisonMessage("no event_id")
        return event

    def handle(self, channel, method, properties, body, handler):
        """Process one delivery: parse, deduplicate, handle, then ack."""
        try:
            event = self.parse(body)
            if event["event_id"] in self.seen:
                self.stats["duplicates"] += 1
            else:
                handler(event)
                self.seen.add(event["event_id"])
                self.stats["handled"] += 1
        except PoisonMessage as exc:
            self._dead_letter(channel, method, properties, body, str(exc))
        except Exception:
            _logger.exception("handler failed on %s; requeued", properties.message_id)
            self.stats["requeued"] += 1
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)

    def _dead_letter(self, channel, method, properties, body, reason):
        _logger.warning("poison message %s: %s", properties.message_id, reason)
        headers = dict(properties.headers or {})
        headers.update(
            {
                "x-poison-reason": reason,
                "x-original-exchange": method.exchange,
                "x-original-routing-key": method.routing_key,
            }
        )
        channel.basic_publish(
            self.dead_letter_exchange,
            method.routing_key,
            body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=properties.message_id,
                content_type=properties.content_type,
                type=properties.type,
                headers=headers,
            ),
        )
        self.stats["dead_lettered"] += 1

    def run(self, handler, *, max_messages=None, inactivity_timeout=None, reconnect_delay=2.0):
        """Consume until ``max_messages`` were processed, or no message came
        for ``inactivity_timeout`` seconds (None: forever). When the
        connection is lost (the node stopped, the network failed), it
        connects again, to the next node of ``amqp_url`` that answers, after
        ``reconnect_delay`` seconds; the messages not yet acked are
        redelivered and deduplicated by ``event_id``. After :meth:`stop` it
        returns once the message being handled is acked."""
        return self._reconnecting(
            lambda done: self._consume(handler, max_messages, done, inactivity_timeout),
            reconnect_delay,
        )

    def run_batches(
        self,
        batch_handler,
        *,
        batch_size=500,
        batch_wait=0.05,
        max_messages=None,
        inactivity_timeout=None,
        reconnect_delay=2.0,
    ):
        """:meth:`run` for a handler of many events at once (one local
        transaction for all, then one ack): ``batch_handler(events)`` gets
        the valid events not seen yet of up to ``batch_size`` deliveries (a
        batch is handed over when full, or ``batch_wait`` seconds after its
        first event arrived, or when no more message comes), and returns
        ``{event_id: reason}`` of the events it refuses: those are
        dead-lettered as with :class:`PoisonMessage`. The batch is acked
        once the handler returned; when it raises, the whole batch is
        requeued. Messages that are not valid events, and duplicates, are
        dead-lettered or acked at once, as :meth:`run` does. Keep
        ``prefetch`` at least ``batch_size``."""
        return self._reconnecting(
            lambda done: self._consume_batches(
                batch_handler, batch_size, batch_wait, max_messages, done, inactivity_timeout
            ),
            reconnect_delay,
        )

    def _reconnecting(self, consume, reconnect_delay):
        processed = 0
        while not self._stopping:
            try:
                processed += consume(processed)
                return processed
            except pika.exceptions.AMQPConnectionError as exc:
                processed += getattr(exc, "processed", 0)
                _logger.warning(
                    "stock event consumer: connection to the broker lost (%s); again in %.0f s",
                    type(exc).__name__,
                    reconnect_delay,
                )
                self.close()
                time.sleep(reconnect_delay)
        return processed

    def _consume(self, handler, max_messages, done, inactivity_timeout):
        channel = self._channel or self.connect()
        processed = 0
        try:
            for method, properties, body in channel.consume(
                self.queue, inactivity_timeout=inactivity_timeout
            ):
                if method is None or self._stopping:
                    if method is not None:  # not handled: back to the queue
                        channel.basic_nack(method.delivery_tag, requeue=True)
                    break
                self.handle(channel, method, properties, body, handler)
                processed += 1
                if max_messages is not None and done + processed >= max_messages:
                    break
                if self._stopping:
                    break
        except pika.exceptions.AMQPConnectionError as exc:
            exc.processed = processed  # what was handled before the loss counts
            raise
        finally:
            if channel.is_open:
                channel.cancel()
        return processed

    def _consume_batches(
        self, batch_handler, batch_size, batch_wait, max_messages, done, inactivity_timeout
    ):
        channel = self._channel or self.connect()
        processed = 0
        batch = []  # (method, properties, body, event) of the events to hand over
        started = idle_since = time.monotonic()
        try:
            for method, properties, body in channel.consume(
                self.queue, inactivity_timeout=batch_wait
            ):
                now = time.monotonic()
                if method is not None:
                    processed += 1
                    idle_since = now
                    event = self._admit(channel, method, properties, body, batch)
                    if event is not None:
                        if not batch:
                            started = now
                        batch.append((method, properties, body, event))
                enough = max_messages is not None and done + processed >= max_messages
                if batch and (
                    method is None
                    or len(batch) >= batch_size
                    or now - started >= batch_wait
                    or enough
                    or self._stopping
                ):
                    self._handle_batch(channel, batch, batch_handler)
                    batch = []
                if enough or self._stopping:
                    break
                if (
                    method is None
                    and inactivity_timeout is not None
                    and now - idle_since >= inactivity_timeout
                ):
                    break
        except pika.exceptions.AMQPConnectionError as exc:
            exc.processed = processed  # what was handled before the loss counts
            raise
        finally:
            if channel.is_open:
                channel.cancel()
        return processed

    def _admit(self, channel, method, properties, body, batch):
        """The event of a delivery for ``batch``, or None when it was
        dead-lettered or is a duplicate (of an event seen or in the batch;
        acked here, at once)."""
        try:
            event = self.parse(body)
        except PoisonMessage as exc:
            self._dead_letter(channel, method, properties, body, str(exc))
            channel.basic_ack(method.delivery_tag)
            return None
        if event["event_id"] in self.seen or any(
            item[3]["event_id"] == event["event_id"] for item in batch
        ):
            self.stats["duplicates"] += 1
            channel.basic_ack(method.delivery_tag)
            return None
        return event

    def _handle_batch(self, channel, batch, batch_handler):
        """Hand a batch over, then dead-letter what it refused and ack the
        batch (one ack for all); requeue the batch when the handler raised."""
        try:
            refused = batch_handler([item[3] for item in batch]) or {}
        except Exception:
            _logger.exception("batch handler failed on %d events; requeued", len(batch))
            self.stats["requeued"] += len(batch)
            channel.basic_nack(batch[-1][0].delivery_tag, multiple=True, requeue=True)
            time.sleep(1)  # a lasting failure (a full disk) is not retried in a tight loop
            return
        for method, properties, body, event in batch:
            reason = refused.get(event["event_id"])
            if reason:
                self._dead_letter(channel, method, properties, body, reason)
            else:
                self.seen.add(event["event_id"])
                self.stats["handled"] += 1
        # Every delivery of this channel up to the batch's last is now acked
        # (the ones before, refused or duplicated, were acked one by one).
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)
