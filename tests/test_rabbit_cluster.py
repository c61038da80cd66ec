# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A three-node RabbitMQ cluster loses the node the dispatcher and the
command consumer are connected to, in the middle of a run, and gets it back.

Real nodes on loopback (tests/harness/rabbit_cluster.py), the real
``stock_event_dispatch`` and ``stock_command_consume`` processes given the
three nodes' URLs in ``amqp_url``, quorum queues, committed postings through
the ORM and commands published with publisher confirms (a publish the broker
did not confirm is sent again: a copy with the same idempotency key). Then:
every committed posting's event reached the downstream consumer (copies keep
their ``event_id``), every command was posted exactly once, and on-hand
equals the ledger of done move lines.
"""

import json
import random
import re
import threading
import time
import uuid

import pika
import pika.exceptions
import pytest

from odoo.addons.stock_event_bus.lib.consumer import StockEventConsumer

from tests.harness import amqp, odoo_conf, processes, stack
from tests.harness.processes import wait_for
from tests.harness.rabbit_cluster import RabbitCluster, first_free_port
from tests.harness.stock_flows import create_product, main_warehouse, receive

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.slow]

PRODUCTS = 4
POSTINGS = 40  # receipts through the ORM
COMMANDS = 60  # receive/deliver commands over AMQP, every 5th sent twice


@pytest.fixture
def cluster():
    first = first_free_port(3)
    made = RabbitCluster(f"/tmp/sscale-rmq-{uuid.uuid4().hex[:8]}", size=3, first_port=first)
    try:
        yield made.start()
    finally:
        made.close()


class Seen:
    """Dedup store that keeps every delivery: ``StockEventConsumer`` then
    hands copies to the handler too, so the test sees them."""

    def __contains__(self, event_id):
        return False

    def add(self, event_id):
        pass


class EventReceiver(threading.Thread):
    """The downstream consumer of the docs (quorum queue, failover over the
    cluster's URLs), recording each delivery's event_id."""

    def __init__(self, urls, exchange, queue):
        super().__init__(daemon=True)
        self.consumer = StockEventConsumer(urls, queue, exchange=exchange, seen=Seen())
        self.consumer.connect()
        self.event_ids = []
        self.stopping = False

    def run(self):
        while not self.stopping:
            self.consumer.run(
                lambda event: self.event_ids.append(event["event_id"]),
                inactivity_timeout=0.5,
                reconnect_delay=1.0,
            )

    def stop(self):
        self.stopping = True
        self.join(30)
        self.consumer.close()


class ConfirmingPublisher:
    """Publishes with confirms over the cluster's URLs; a message the broker
    did not confirm (its node went away) is published again."""

    def __init__(self, urls, exchange):
        self.urls = urls
        # RabbitMQ checks it; the consumer posts as its Odoo user.
        self.user_id = amqp.parameters(urls.split(",")[0]).credentials.username
        self.exchange = exchange
        self.channel = None
        self.resent = 0

    def publish(self, body, routing_key, deadline=120):
        end = time.monotonic() + deadline
        attempt = 0
        while True:
            try:
                if self.channel is None or not self.channel.is_open:
                    _connection, self.channel = amqp.open_channel(self.urls)
                amqp.publish(
                    self.channel,
                    self.exchange,
                    routing_key,
                    body,
                    mandatory=True,
                    user_id=self.user_id,
                )
                return
            except (pika.exceptions.AMQPError, OSError):
                attempt += 1
                self.resent += 1
                self.channel = None
                if time.monotonic() > end:
                    raise
                time.sleep(min(0.5 * attempt, 2))


def _scalar(committed_db, query, params=()):
    with committed_db.cursor() as cr:
        cr.execute(query, params)
        return cr.fetchone()[0]


def _start(conf, db_name, command, log_path):
    return processes.start(
        stack.dispatch_command(conf, db_name, "--poll-interval=1", command=command)
        if command == "stock_event_dispatch"
        else stack.dispatch_command(conf, db_name, command=command),
        log_path,
        env=stack.odoo_env(),
    )


def _load_threads(committed_db, publisher, product_ids, codes, stock_name, keys, errors):
    """Two threads: receipts through the ORM (each its own committed
    transaction) and commands published to the cluster (every 5th twice)."""
    rng = random.Random(7)

    def post_receipts():
        try:
            for _ in range(POSTINGS):
                committed_db.call(lambda env: receive(env, [(rng.choice(product_ids), 1)]))
                time.sleep(0.25)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def send_commands():
        try:
            for n, key in enumerate(keys):
                index = n % len(codes)
                body = json.dumps(
                    {
                        "idempotency_key": key,
                        "type": "receive" if n % 2 == 0 else "deliver",
                        "product": codes[index],
                        "quantity": 1,
                        "location_dest" if n % 2 == 0 else "location": stock_name,
                    }
                )
                for _copy in range(2 if n % 5 == 0 else 1):
                    publisher.publish(body, codes[index])
                time.sleep(0.15)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    return [threading.Thread(target=post_receipts), threading.Thread(target=send_commands)]


def _assert_ledger(committed_db, product_ids, location_id):
    """On-hand equals the ledger of done move lines, for each product."""
    with committed_db.cursor() as cr:
        for product_id in product_ids:
            cr.execute(
                """SELECT
                     (SELECT COALESCE(SUM(quantity), 0) FROM stock_quant
                       WHERE product_id = %(p)s AND location_id = %(l)s),
                     (SELECT COALESCE(SUM(CASE WHEN location_dest_id = %(l)s
                                               THEN quantity ELSE -quantity END), 0)
                        FROM stock_move_line
                       WHERE product_id = %(p)s AND state = 'done'
                         AND %(l)s IN (location_id, location_dest_id))""",
                {"p": product_id, "l": location_id},
            )
            on_hand, ledger = cr.fetchone()
            assert on_hand == ledger, (product_id, on_hand, ledger)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_node_lost_mid_run_loses_nothing_and_posts_nothing_twice(
    harness, committed_db, tmp_path, cluster, how
):
    """``stop``: ``rabbitmqctl stop`` (an orderly shutdown: the node closes
    its connections); ``kill``: SIGKILL of the node's Erlang VM (a crash:
    the clients find out from a reset socket or a missed heartbeat). Right
    after a crash the quorum queues refuse publishes (basic.nack) until they
    elect new leaders: the dispatcher keeps those events pending and
    publishes them again, none is marked failed."""
    tag = uuid.uuid4().hex[:8]
    exchange, command_exchange = f"sscale.test.events.{tag}", f"sscale.test.commands.{tag}"
    urls = cluster.urls()
    conf = odoo_conf.copy_conf(
        harness["conf"],
        tmp_path / "cluster.conf",
        amqp_url=urls,
        exchange=exchange,
        command_exchange=command_exchange,
        command_queues=4,
    )

    with committed_db.env() as env:
        first_user = amqp.parameters(urls.split(",")[0]).credentials.username
        env.ref("base.user_admin").amqp_user = first_user
        stock = main_warehouse(env).lot_stock_id
        products = [
            create_product(env, f"Clustered {tag} {i}", qty=100, default_code=f"{tag}-{i}")
            for i in range(PRODUCTS)
        ]
        product_ids = [p.id for p in products]
        codes = [p.default_code for p in products]
        stock_id, stock_name = stock.id, stock.complete_name
    with committed_db.cursor() as cr:
        # Only this test's postings count (the template's demo ones are not).
        cr.execute("DELETE FROM stock_event_outbox")

    receiver = EventReceiver(urls, exchange, f"{exchange}.q")
    receiver.start()
    dispatcher = _start(conf, committed_db.name, "stock_event_dispatch", tmp_path / "d.log")
    consumer = _start(conf, committed_db.name, "stock_command_consume", tmp_path / "c.log")
    publisher = ConfirmingPublisher(urls, command_exchange)
    try:
        # Both connected (named connections), on the same node: the first URL.
        node = cluster.node_of("stock_event_dispatch")
        assert cluster.node_of("stock_command_consume") == node
        probe = amqp.connect(cluster.url((node + 1) % 3))

        def consuming():
            queue = probe.channel().queue_declare(f"{command_exchange}.0", passive=True)
            return queue.method.consumer_count

        wait_for(consuming, 90, "the command consumer")
        probe.close()

        keys = [f"cluster-{tag}-{n}" for n in range(COMMANDS)]
        errors = []
        threads = _load_threads(
            committed_db, publisher, product_ids, codes, stock_name, keys, errors
        )
        for thread in threads:
            thread.start()
        time.sleep(3)  # a third of the run
        (cluster.stop_node if how == "stop" else cluster.kill_node)(node)
        stopped_at = time.monotonic()
        time.sleep(5)
        cluster.start_node(node)
        restarted_after = time.monotonic() - stopped_at
        for thread in threads:
            thread.join(300)
        assert not errors, errors

        # Everything drains: the outbox is sent, every command answered.
        wait_for(
            lambda: _scalar(
                committed_db, "SELECT COUNT(*) FROM stock_event_outbox WHERE state != 'sent'"
            )
            == 0,
            180,
            "the outbox to drain",
        )
        wait_for(
            lambda: _scalar(
                committed_db,
                "SELECT COUNT(*) FROM stock_inventory_command"
                " WHERE idempotency_key LIKE %s AND state = 'done'",
                (f"cluster-{tag}-%",),
            )
            == COMMANDS,
            180,
            "every command to be posted",
        )
        with committed_db.cursor() as cr:
            # Movements: the receiver binds stock.# (level events have a
            # routing key of their own, tests/test_level_events.py).
            cr.execute("SELECT event_uuid FROM stock_event_outbox WHERE event_type != 'LEVEL'")
            outbox = {row[0] for row in cr.fetchall()}
        wait_for(lambda: set(receiver.event_ids) >= outbox, 180, "every event downstream")
        time.sleep(2)  # late copies, if any, arrive too

        assert dispatcher.poll() is None, dispatcher.log_path.read_text()
        assert consumer.poll() is None, consumer.log_path.read_text()
        # Nothing lost, nothing invented; copies keep their event_id.
        assert set(receiver.event_ids) == outbox
        assert len(outbox) >= POSTINGS + COMMANDS
        # The failover happened, to another node, and both went on there.
        lost = f"127.0.0.1:{cluster.ports[node]}/%2F"
        moved = re.findall(r"reconnected to the broker at (\S+)", dispatcher.log_path.read_text())
        assert moved and moved[0] != lost, dispatcher.log_path.read_text()
        consuming = re.findall(
            r"consuming \d+ queue\(s\) of \S+ at (\S+)", consumer.log_path.read_text()
        )
        assert consuming[0] == lost and consuming[1] != lost, consumer.log_path.read_text()
        # One posting per idempotency key: one command row, one done move.
        with committed_db.cursor() as cr:
            cr.execute(
                """SELECT COUNT(*), COUNT(DISTINCT idempotency_key)
                     FROM stock_inventory_command WHERE idempotency_key LIKE %s""",
                (f"cluster-{tag}-%",),
            )
            assert cr.fetchone() == (COMMANDS, COMMANDS)
            cr.execute(
                """SELECT COUNT(*) FROM stock_move m
                     JOIN stock_inventory_command c ON c.picking_id = m.picking_id
                      AND c.product_id = m.product_id
                    WHERE c.idempotency_key LIKE %s AND m.state = 'done'""",
                (f"cluster-{tag}-%",),
            )
            moves_of_commands = cr.fetchone()[0]
            cr.execute(
                """SELECT COUNT(*) FROM stock_move
                    WHERE product_id = ANY(%s) AND state = 'done'
                      AND picking_id IS NOT NULL""",
                (product_ids,),
            )
            done_picking_moves = cr.fetchone()[0]
            # POSTINGS receipts + one move per command, no second posting.
            assert done_picking_moves == POSTINGS + COMMANDS
            assert moves_of_commands >= COMMANDS  # batches share a transfer
        _assert_ledger(committed_db, product_ids, stock_id)
        stats = receiver.consumer.stats
        nacked = dispatcher.log_path.read_text().count("did not take")
        print(  # noqa: T201 - the figures of the run, for the docs
            f"{how}: node {cluster.names[node]} down for {restarted_after:.1f} s;"
            f" {nacked} batch(es) not taken (basic.nack) and published again;"
            f" {len(outbox)} events, {len(receiver.event_ids)} deliveries"
            f" ({len(receiver.event_ids) - len(outbox)} copies, same event_id);"
            f" {publisher.resent} command publishes retried; stats {dict(stats)}"
        )
    finally:
        for process in (dispatcher, consumer):
            processes.stop(process, 30)
        receiver.stop()
        # The cluster (and its queues) is removed with its directory.
