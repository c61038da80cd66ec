# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The queues the event bus declares, as an admin meets them on a real
broker: queues left by an earlier version or by a larger
``command_queues``, and consumers of the library side by side."""

import uuid

import pytest

from odoo.addons.stock_event_bus.lib.command_consumer import (
    CommandConsumer,
    TopologyError,
    declare_topology,
)
from odoo.addons.stock_event_bus.lib.consumer import QueueTypeError, StockEventConsumer

from tests.harness import stack

pytestmark = [pytest.mark.committed, pytest.mark.amqp]


def test_classic_queue_of_an_earlier_version_is_named(amqp_channel):
    """A command queue declared classic by an earlier version cannot become
    a quorum queue in place: the consumer stops with the queue's name and
    the two ways out; ``command_queue_type = classic`` keeps it working."""
    exchange = f"sscale.test.commands.{uuid.uuid4().hex[:8]}"
    channel = amqp_channel.channel
    # The queues as version 18.0.1.1.0 declared them: classic.
    channel.queue_declare(f"{exchange}.dead", durable=True)
    for index in range(2):
        channel.queue_declare(
            f"{exchange}.{index}", durable=True, arguments={"x-single-active-consumer": True}
        )
    try:
        with pytest.raises(TopologyError) as err:
            declare_topology(channel, exchange, queues=2)
        message = str(err.value)
        assert f"'{exchange}.dead'" in message
        assert f"rabbitmqctl delete_queue {exchange}.dead" in message
        assert "command_queue_type = classic" in message
        channel = amqp_channel.connection.channel()  # the broker closed the other
        declare_topology(channel, exchange, queues=2, queue_type="classic")
    finally:
        channel = amqp_channel.connection.channel()
        for name in (f"{exchange}.0", f"{exchange}.1", f"{exchange}.dead"):
            channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dlx"):
            channel.exchange_delete(name)


def _delete_commands(connection, exchange, queues):
    channel = connection.channel()
    for name in [f"{exchange}.{i}" for i in range(queues)] + [f"{exchange}.dead"]:
        channel.queue_delete(name)
    for name in (exchange, f"{exchange}.dlx"):
        channel.exchange_delete(name)


def test_queue_left_by_a_larger_command_queues_is_refused(amqp_channel):
    """Lowering ``command_queues`` leaves the higher queues bound to the
    exchange: their products' commands would wait there unconsumed. The
    consumer refuses to start and says what to do."""
    exchange = f"sscale.test.commands.{uuid.uuid4().hex[:8]}"
    declare_topology(amqp_channel.channel, exchange, queues=4)
    amqp_channel.channel.basic_publish(exchange, "P-1", b"{}")  # lands in one of the four
    consumer = CommandConsumer(stack.amqp_url(), None, exchange=exchange, queues=2)
    try:
        with pytest.raises(TopologyError) as err:
            consumer.connect()
        message = str(err.value)
        assert f"queue '{exchange}.2' exists" in message
        assert "command_queues is 2" in message and "rabbitmqctl delete_queue" in message
    finally:
        consumer.close()
        _delete_commands(amqp_channel.connection, exchange, 4)


def test_consumer_library_names_a_classic_queue(amqp_channel):
    """A service upgraded to this library, whose queue an earlier version
    declared classic: a clear error, and ``queue_type='classic'`` works."""
    queue = f"sscale.test.shop.{uuid.uuid4().hex[:8]}"
    exchange = f"sscale.test.events.{uuid.uuid4().hex[:8]}"
    amqp_channel.channel.queue_declare(queue, durable=True)  # classic, as before
    amqp_channel.channel.queue_declare(f"{queue}.dead", durable=True)
    try:
        with pytest.raises(QueueTypeError, match=r"queue_type='classic'"):
            StockEventConsumer(stack.amqp_url(), queue, exchange=exchange).connect()
        consumer = StockEventConsumer(
            stack.amqp_url(), queue, exchange=exchange, queue_type="classic"
        )
        consumer.connect()
        consumer.close()
    finally:
        channel = amqp_channel.connection.channel()
        for name in (queue, f"{queue}.dead"):
            channel.queue_delete(name)
        for name in (exchange, f"{queue}.dlx"):
            channel.exchange_delete(name)


def test_each_consumer_gets_its_own_dead_letters(amqp_channel):
    """Two services consume the same exchange; a malformed message reaches
    both; each dead-letters its copy into its own dead queue, not the
    other's (a shared dead-letter exchange would give each two)."""
    exchange = f"sscale.test.events.{uuid.uuid4().hex[:8]}"
    consumers = [
        StockEventConsumer(stack.amqp_url(), f"{exchange}.{name}", exchange=exchange)
        for name in ("shop", "erp")
    ]
    try:
        for consumer in consumers:
            consumer.connect()
        amqp_channel.channel.basic_publish(exchange, "stock.1.1.sale", b"not an event")
        for consumer in consumers:
            consumer.run(lambda _event: None, max_messages=1, inactivity_timeout=5)
        for consumer in consumers:
            dead = amqp_channel.drain(consumer.dead_letter_queue)
            assert len(dead) == 1, (consumer.dead_letter_queue, dead)
            assert "x-poison-reason" in dead[0][1].headers
            assert dead[0][2] == b"not an event"
    finally:
        channel = amqp_channel.connection.channel()
        for consumer in consumers:
            for name in (consumer.queue, consumer.dead_letter_queue):
                channel.queue_delete(name)
            channel.exchange_delete(consumer.dead_letter_exchange)
            consumer.close()
        channel.exchange_delete(exchange)
