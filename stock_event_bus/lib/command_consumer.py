# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over AMQP, queued per product (no Odoo import: the
``stock_command_consume`` Odoo command gives it the function that posts).

Topology (declared idempotently by the consumer, by ``stock_command_consume
--declare-only`` and when stock_event_bus is installed or upgraded):

* ``stock.commands``: a consistent-hash exchange (RabbitMQ's
  ``rabbitmq_consistent_hash_exchange`` plugin). Publishers use the
  product (its barcode or internal reference, always the same one) as the
  routing key: every command of a product lands in the same queue.
* ``stock.commands.0`` ... ``stock.commands.<N-1>``: quorum queues (RabbitMQ
  replicates them over the nodes of a cluster; a queue lives on while a
  majority of its nodes run) bound with weight 1, each with *single active
  consumer*: however many consumer processes subscribe, one at a time
  takes a queue's messages, in order; the others wait as hot standbys.
* ``stock.commands.dead``: quorum queue of the commands refused or
  malformed, behind the fanout exchange ``stock.commands.dlx``; each keeps
  its body and gets ``x-error-code`` and ``x-error-message`` headers.

``queue_type="classic"`` keeps classic queues (``command_queue_type`` in
odoo.conf), for a broker whose queues were declared classic by an earlier
version: RabbitMQ cannot change the type of an existing queue.

Who posts: each message's ``user_id`` property, the RabbitMQ user its
publisher connected as. RabbitMQ validates it (a publisher that sets another
user's name gets its channel closed, PRECONDITION_FAILED), so the consumer
trusts it and posts the command as the Odoo user mapped to that broker user.
A message without ``user_id`` is answered ``unknown_broker_user`` and
dead-lettered: there is no default user.

The consumer takes what its prefetch window holds (``batch_size`` per
queue) and posts each run of consecutive messages of one broker user in
one database transaction (a savepoint per command: a refusal rolls back
alone), then publishes the dead letters and the replies (``reply_to`` +
``correlation_id``) with publisher confirms, and only then acks. A crash
before the ack redelivers: the idempotency key makes the replay answer the
stored outcome without posting again.
"""

import json
import logging
import os
import socket
import time

import pika
import pika.exceptions
import psycopg2
import psycopg2.pool

from . import broker
from .broker import Backoff, describe_error
from .config import mask_urls

_logger = logging.getLogger(__name__)

EXCHANGE = "stock.commands"
DEAD_LETTER_EXCHANGE = "stock.commands.dlx"
DEAD_LETTER_QUEUE = "stock.commands.dead"
PLUGIN = "rabbitmq_consistent_hash_exchange"
STATUS_INTERVAL = 5.0  # seconds between two heartbeats of the status row


# The database is away (a restart, a failover, a full pool): retry later.
DATABASE_UNAVAILABLE = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.pool.PoolError,
)


def error_answer(key, code, message, **details):
    """An answer ``{"idempotency_key", "status": "error", "error": {...}}``."""
    return {
        "idempotency_key": key,
        "status": "error",
        "error": {"code": code, "message": message, "details": details},
    }


def _internal_error(key):
    return error_answer(
        key, "internal_error", "the server failed on this command; nothing was posted"
    )


def unknown_broker_user(key, broker_user):
    """The answer (HTTP status, body) to a message whose broker user posts as
    nobody: no ``user_id`` property, or a user mapped to no active Odoo user."""
    if not broker_user:
        message = (
            "the message has no user_id property: publish with user_id set to the RabbitMQ"
            " user you connect as (RabbitMQ checks it)"
        )
    else:
        message = (
            f"RabbitMQ user {broker_user!r} is mapped to no active Odoo user: an administrator"
            " sets AMQP User on the user's form (Settings > Users)"
        )
    return 401, error_answer(key, "unknown_broker_user", message, user_id=broker_user or None)


class TopologyError(Exception):
    """The consumer cannot run as configured: a bad URL, the plugin is
    missing, a queue exists with another type or past ``queues``."""


def queue_names(exchange, count):
    return [f"{exchange}.{index}" for index in range(count)]


def declare_topology(channel, exchange=EXCHANGE, queues=8, queue_type="quorum"):
    """Declare the exchange, the ``queues`` per-product queues and the dead
    letters on ``channel`` (a pika blocking channel); ``queue_type`` is
    ``"quorum"`` or ``"classic"``. Returns the dead-letter exchange's name.
    Raises :class:`TopologyError` when the consistent-hash exchange type is
    unknown to the broker, or when a queue exists with another type or
    other arguments (the broker closes the channel then: a new one is
    needed)."""
    try:
        channel.exchange_declare(exchange, exchange_type="x-consistent-hash", durable=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise TopologyError(
            f"the broker refused the consistent-hash exchange {exchange!r} ({exc.reply_text});"
            f" enable RabbitMQ's plugin: rabbitmq-plugins enable {PLUGIN}"
        ) from None
    dlx, dead = f"{exchange}.dlx", f"{exchange}.dead"
    typed = {"x-queue-type": queue_type}
    channel.exchange_declare(dlx, exchange_type="fanout", durable=True)
    _declare_queue(channel, dead, typed)
    channel.queue_bind(dead, dlx)
    for name in queue_names(exchange, queues):
        _declare_queue(channel, name, dict(typed, **{"x-single-active-consumer": True}))
        channel.queue_bind(name, exchange, routing_key="1")
    return dlx


def declare(amqp_url, exchange=EXCHANGE, queues=8, queue_type="quorum", timeout=10):
    """Connect to the first node of ``amqp_url`` that answers, declare the
    command topology there (:func:`declare_topology`) and disconnect.
    Returns the node's ``host:port/vhost``. Raises :class:`TopologyError`,
    or pika's errors when no node answers."""
    connection = _connect(amqp_url, "stock_command_consume declare", timeout)
    try:
        declare_topology(connection.channel(), exchange, queues, queue_type)
        return broker.connected_endpoint(connection)
    finally:
        if connection.is_open:
            connection.close()


def _connect(amqp_url, name, timeout=None):
    """:func:`broker.connect_blocking`; a bad URL (config.resolve checks
    them first) is a :class:`TopologyError`."""
    try:
        return broker.connect_blocking(amqp_url, name=name, timeout=timeout)
    except ValueError as exc:
        raise TopologyError(str(exc)) from None


def _declare_queue(channel, name, arguments):
    try:
        channel.queue_declare(name, durable=True, arguments=arguments)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 406:  # PRECONDITION_FAILED: inequivalent arguments
            raise
        drain = (
            "read or move the dead letters it holds (nothing consumes them)"
            if name.endswith(".dead")
            else "drain it (let the consumer empty it with the publishers stopped)"
        )
        raise TopologyError(
            f"queue {name!r} exists with other arguments than {arguments} ({exc.reply_text})."
            f" RabbitMQ cannot change a queue's type: {drain}, stop every consumer, delete"
            f" it (rabbitmqctl delete_queue {name}) and start the consumer again to declare it"
            " anew, or set command_queue_type = classic in odoo.conf to keep classic queues"
            " (README: Upgrading from stock_event_bus 18.0.1.1.0)"
        ) from None


class CommandConsumer:
    """Consume inventory commands, read with ``decode``, and post them with
    ``apply_batch``.

    ``decode(body) -> payload``: reads a message body, raising ``ValueError``
    (or ``UnicodeDecodeError``, ``RecursionError``) for one that is not JSON;
    the Odoo command passes stock_scalable's strict reading, the HTTP API's
    (``stock_scalable/lib/commands.py::loads``: each name once per object,
    UTF-8 only). The default is :func:`json.loads`.

    ``apply_batch(broker_user, payloads, keys) -> [(http_status, answer)]``:
    posts the decoded commands in order in one transaction as the Odoo user
    mapped to ``broker_user`` (the messages' validated ``user_id``; answered
    :func:`unknown_broker_user` when none is) and returns one answer per
    command, as the HTTP API does (``keys``: the message's ``message_id``
    used as idempotency key when the body has none). It raises when the
    database is unavailable: the batch is retried after a pause, never
    acked before it committed."""

    def __init__(
        self,
        amqp_url,
        apply_batch,
        *,
        decode=json.loads,
        exchange=EXCHANGE,
        queues=8,
        queue_type="quorum",
        only_queues=None,
        batch_size=100,
        batch_wait=0.05,
        name=None,
        record_status=None,
        pause_before_ack=0.0,
    ):
        self.amqp_url = amqp_url
        self.apply_batch = apply_batch
        self.decode = decode
        self.exchange = exchange
        self.queue_count = queues
        self.queue_type = queue_type
        self.only_queues = only_queues
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.record_status = record_status or (lambda *_args, **_kw: None)
        # Fault injection for the tests (a crash between commit and ack).
        self.pause_before_ack = pause_before_ack
        self.handled = 0
        self.dead_lettered = 0
        self._stopping = False
        self._connection = None
        self._channel = None
        self._pending = []

    def stop(self):
        """Finish the batch in hand, then stop (signal-safe)."""
        self._stopping = True

    # -- connection ---------------------------------------------------------

    def connect(self):
        """Connect to the first node of ``amqp_url`` that answers (pika tries
        the URLs in order), declare the topology and subscribe."""
        self._connection = _connect(self.amqp_url, f"stock_command_consume {self.name}")
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        self.dead_letter_exchange = declare_topology(
            self._channel, self.exchange, self.queue_count, self.queue_type
        )
        self._check_no_queue_beyond()
        self._channel.basic_qos(prefetch_count=self.batch_size)
        names = queue_names(self.exchange, self.queue_count)
        if self.only_queues is not None:
            names = [names[i] for i in self.only_queues]
        for queue in names:
            self._channel.basic_consume(queue, self._on_message)
        self._pending = []
        _logger.info(
            "stock_command_consume: consuming %d queue(s) of %s at %s",
            len(names),
            self.exchange,
            broker.connected_endpoint(self._connection),
        )

    def _check_no_queue_beyond(self):
        """Refuse to run while a queue numbered past ``queues`` exists: left
        by a larger ``command_queues``, it is still bound to the exchange and
        takes its share of the products, but nobody consumes it."""
        extra = f"{self.exchange}.{self.queue_count}"
        probe = self._connection.channel()
        try:
            declared = probe.queue_declare(extra, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:  # NOT_FOUND: as it should be
                return
            raise
        probe.close()
        raise TopologyError(
            f"queue {extra!r} exists ({declared.method.message_count} command(s) in it) but"
            f" command_queues is {self.queue_count}: it is still bound to {self.exchange!r} and"
            " takes commands nobody consumes. Set command_queues back to the number of queues"
            " that exist; to lower it, stop the publishers, let the consumer empty every queue,"
            f" then delete the queues from {extra} on (rabbitmqctl delete_queue <name>)"
        )

    def close(self):
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except pika.exceptions.AMQPError:
            pass
        self._connection = self._channel = None

    def _on_message(self, _channel, method, properties, body):
        self._pending.append((method, properties, body))

    # -- loop -----------------------------------------------------------------

    def run(self, max_idle=None):
        """Consume until :meth:`stop` (or ``max_idle`` seconds without a
        message). Reconnects with a growing pause when the broker goes away.
        Returns 0, or 1 when the topology cannot be declared."""
        backoff = Backoff()
        idle_since = last_status = time.monotonic()
        self.record_status("running")
        while not self._stopping:
            try:
                if self._connection is None or not self._connection.is_open:
                    self.connect()
                    backoff.reset()
                    self.record_status("running")
                self._connection.process_data_events(time_limit=self.batch_wait)
                if not self._pending:
                    self._connection.process_data_events(time_limit=1.0)
                if self._pending:
                    self._handle_batch()
                    idle_since = time.monotonic()
                    self.record_status("running")
                    last_status = time.monotonic()
                elif max_idle is not None and time.monotonic() - idle_since > max_idle:
                    break
                elif time.monotonic() - last_status > STATUS_INTERVAL:
                    # The heartbeat of the status screen, also while idle.
                    self.record_status("running")
                    last_status = time.monotonic()
            except TopologyError as exc:
                _logger.error("stock_command_consume: %s", exc)
                self.record_status("broker_error", str(exc))
                self.close()
                return 1
            except (pika.exceptions.AMQPError, OSError) as exc:
                reason = describe_error(exc)
                delay = backoff.next()
                _logger.warning(
                    "stock_command_consume: broker %s unavailable (%s); again in %.0f s",
                    mask_urls(self.amqp_url),
                    reason,
                    delay,
                )
                self.record_status("broker_error", reason)
                self.close()
                self._pending = []  # unacked: the broker redelivers them
                self._sleep(delay)
        self.close()
        self.record_status("stopped")
        return 0

    def _sleep(self, seconds):
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    def _apply(self, user, payloads, keys):
        """``apply_batch`` of the commands of broker user ``user``, retried while the database is
        unavailable (never acked before the commit). Any other failure (a
        bug, data the database refuses) is isolated: the commands are posted
        one at a time, and one that fails alone is answered ``internal_error``
        (then dead-lettered), so that it cannot block its queue. Returns the
        answers, or None when asked to stop before it could commit."""
        backoff = Backoff()
        while True:
            try:
                return self.apply_batch(user, [p for _i, p in payloads], keys)
            except DATABASE_UNAVAILABLE as exc:
                if self._stopping:
                    return None
                delay = backoff.next()
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                _logger.error(
                    "stock_command_consume: database unavailable (%s); %d command(s) again in"
                    " %.0f s",
                    reason,
                    len(payloads),
                    delay,
                )
                self.record_status("db_error", reason)
                # Keep the broker connection alive while waiting.
                self._connection.process_data_events(time_limit=delay)
            except Exception:
                if len(payloads) == 1:
                    _logger.exception(
                        "stock_command_consume: command %s failed; dead-lettered",
                        keys[0] or payloads[0][1].get("idempotency_key"),
                    )
                    return [
                        (500, _internal_error(keys[0] or payloads[0][1].get("idempotency_key")))
                    ]
                results = []
                for payload, key in zip(payloads, keys, strict=True):
                    result = self._apply(user, [payload], [key])
                    if result is None:
                        return None
                    results += result
                return results

    def _handle_batch(self):
        batch, self._pending = self._pending, []
        # Consecutive messages of one broker user go together: the order of
        # a queue (of a product) is kept across users.
        runs, answers = [], {}
        for index, (_method, properties, body) in enumerate(batch):
            try:
                payload = self.decode(body)
                if not isinstance(payload, dict):
                    raise ValueError("a command is a JSON object")
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                payload, malformed = None, exc
            if not properties.user_id:  # no default user: refused before anything else
                key = properties.message_id or (payload or {}).get("idempotency_key")
                answers[index] = unknown_broker_user(key, None)
                continue
            if payload is None:
                answers[index] = (
                    400,
                    error_answer(
                        properties.message_id,
                        "malformed",
                        f"the message is not a JSON command: {malformed}",
                    ),
                )
                continue
            if not runs or runs[-1][0] != properties.user_id:
                runs.append((properties.user_id, [], []))
            runs[-1][1].append((index, payload))
            runs[-1][2].append(properties.message_id)
        for user, payloads, keys in runs:
            results = self._apply(user, payloads, keys)
            if results is None:  # stopping before the commit: not acked, redelivered
                # The runs committed before are answered again from their
                # stored outcome when redelivered.
                return
            for (index, _payload), result in zip(payloads, results, strict=True):
                answers[index] = result
        # Committed: dead letters and replies first (confirmed), then acks.
        if self.pause_before_ack:
            _logger.info("stock_command_consume: committed %d, pausing before ack", len(batch))
            time.sleep(self.pause_before_ack)
        for index, (method, properties, body) in enumerate(batch):
            status, answer = answers[index]
            if status == 409:  # another request is posting this key: later
                self._channel.basic_nack(method.delivery_tag, requeue=True)
                continue
            if status != 200:
                error = answer.get("error", {})
                headers = dict(properties.headers or {})
                headers["x-error-code"] = error.get("code", "refused")
                headers["x-error-message"] = str(error.get("message", ""))[:1000]
                headers["x-original-routing-key"] = method.routing_key
                if properties.user_id:
                    headers["x-original-user-id"] = properties.user_id
                self._channel.basic_publish(
                    self.dead_letter_exchange,
                    "",
                    body,
                    pika.BasicProperties(
                        delivery_mode=2,
                        content_type=properties.content_type or "application/json",
                        message_id=properties.message_id,
                        correlation_id=properties.correlation_id,
                        headers=headers,
                    ),
                )
                self.dead_lettered += 1
            if properties.reply_to:
                self._channel.basic_publish(
                    "",
                    properties.reply_to,
                    json.dumps(dict(answer, http_status=status)),
                    pika.BasicProperties(
                        content_type="application/json",
                        correlation_id=properties.correlation_id,
                    ),
                )
            self._channel.basic_ack(method.delivery_tag)
            self.handled += 1
