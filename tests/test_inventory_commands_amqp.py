# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over AMQP: the ``stock_command_consume`` process on
real RabbitMQ and committed data: racing publishers, a consumer killed
before its ack, idle connections, malformed messages, broker and database
outages, publishing order."""

import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pika
import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib.command_consumer import declare_topology

from tests.harness import amqp, odoo_conf, processes, stack
from tests.harness.command_bus import COMMAND
from tests.harness.tcp_proxy import TcpProxy
from tests.inventory_commands import (
    command_keys,
    deliver,
    done_ledger,
    new_product,
    on_hand,
    receive,
)

pytestmark = [pytest.mark.committed, pytest.mark.amqp, pytest.mark.slow]


@tagged("-at_install", "post_install", "sscale_committed")
class TestCommandsOverAmqp:
    def test_race_of_eight_publishers_posts_what_is_there(self, committed_db, command_bus):
        """8 publishers deliver 1 unit each, 10 times, of a product with 30
        on hand: exactly 30 posted, 50 dead-lettered as refused, on hand 0,
        one quant row; a malformed message is dead-lettered too."""
        product_id, code, stock_id, stock = new_product(committed_db, qty=30)
        bus = command_bus()
        bus.start()

        def publisher(index):
            connection, channel = amqp.open_channel()
            for n in range(10):
                bus.publish(deliver(code, 1, stock, f"amqp-{index}-{n}"), code, channel=channel)
            connection.close()

        threads = [threading.Thread(target=publisher, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        bus.publish(b"{broken", code, reply=False)
        replies = bus.replies(80)
        assert len(replies) == 80
        done = [r for r in replies.values() if r["status"] == "done"]
        refused = [r for r in replies.values() if r["status"] == "refused"]
        assert (len(done), len(refused)) == (30, 50)
        assert {r["error"]["code"] for r in refused} == {"insufficient_stock"}
        assert on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert done_ledger(committed_db, product_id, stock_id) == 0
        codes = sorted(headers["x-error-code"] for headers, _body in bus.letters(51))
        assert codes == ["insufficient_stock"] * 50 + ["malformed"]

    def test_sigkill_before_ack_redelivers_without_posting_twice(self, committed_db, command_bus):
        """The consumer is killed (SIGKILL) after its commit and before its
        ack; the broker redelivers to the next consumer, which answers from
        the stored outcome: each command posted once."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        # The queues first, then the five commands, then the consumer: its
        # first batch holds all five.
        declare_topology(bus.channel, bus.exchange, bus.queues)
        for n in range(5):
            bus.publish(receive(code, 1, stock, f"kill-{n}"), code)
        first = bus.start(env={"STOCK_COMMAND_CONSUME_PAUSE_BEFORE_ACK": "30"})
        assert processes.wait_for_text(
            first.log_path, "pausing before ack", 60
        ), first.log_path.read_text()
        first.kill()
        first.wait()
        assert on_hand(committed_db, product_id, stock_id)[0] == 5  # committed
        bus.start()
        replies = bus.replies(5)
        assert sorted(replies) == [f"kill-{n}" for n in range(5)]
        assert {r["status"] for r in replies.values()} == {"done"}
        assert on_hand(committed_db, product_id, stock_id) == (5, 1)
        with committed_db.cursor() as cr:
            # One done move per command (the batch posted them as one receipt).
            cr.execute(
                "SELECT COUNT(*), COUNT(DISTINCT picking_id) FROM stock_move"
                " WHERE product_id = %s AND state = 'done'",
                (product_id,),
            )
            assert cr.fetchone() == (5, 1)
            cr.execute(
                "SELECT COUNT(*) FROM stock_inventory_command WHERE idempotency_key LIKE 'kill-%%'"
                " AND state = 'done' AND picking_id IS NOT NULL"
            )
            assert cr.fetchone()[0] == 5

    def test_idle_consumer_keeps_its_connection(self, committed_db, command_bus):
        """With a 2-second heartbeat, 8 quiet seconds do not cost the
        consumer its connection: the next command is posted without a
        reconnection in the log."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        process = bus.start(env={"STOCK_EVENT_BUS_AMQP_URL": stack.amqp_url() + "?heartbeat=2"})
        time.sleep(8)
        bus.publish(receive(code, 3, stock, "after-idle"), code)
        replies = bus.replies(1, timeout=30)
        assert replies["after-idle"]["status"] == "done"
        assert "unavailable" not in process.log_path.read_text()
        assert on_hand(committed_db, product_id, stock_id) == (3, 1)

    def test_ambiguous_and_too_deep_messages_are_dead_lettered(self, committed_db, command_bus):
        """A message that gives a name twice, nests deeper than the JSON
        decoder goes, or carries a NUL in its message_id is dead-lettered as
        malformed and the consumer goes on; a key in message_id (UTF-8:
        clé-Y, also with a combining accent) is the same key as in the
        body: posted once."""
        product_id, code, stock_id, stock = new_product(committed_db, qty=5)
        bus = command_bus()
        process = bus.start()
        twice = json.dumps(deliver(code, 1, stock, "amqp-twice"))[:-1] + ', "quantity": 4}'
        bus.publish(twice.encode(), code, reply=False)
        bus.publish(b"[" * 100000, code, reply=False)
        command = deliver(code, 1, stock, "clé-Y")
        bus.publish(command, code)
        del command["idempotency_key"]
        for correlation_id, message_id in (
            ("by-message-id", "clé-Y"),
            ("decomposed", "cle\u0301-Y"),
            ("nul", "a\x00b"),
        ):
            bus.publish(command, code, correlation_id=correlation_id, message_id=message_id)
        replies = bus.replies(4, timeout=60)
        assert replies["clé-Y"]["status"] == "done", (replies, process.log_path.read_text())
        assert replies["by-message-id"] == replies["clé-Y"], replies
        assert replies["decomposed"] == replies["clé-Y"], replies
        assert replies["nul"]["error"]["code"] == "malformed", replies["nul"]
        letters = bus.letters(3)
        assert [headers["x-error-code"] for headers, _body in letters] == ["malformed"] * 3
        assert process.poll() is None
        assert on_hand(committed_db, product_id, stock_id) == (4, 1)
        assert command_keys(committed_db, product_id) == ["clé-Y"]

    def test_broker_outage_and_database_restart_are_survived(self, committed_db, command_bus):
        """The consumer's broker connection is cut while commands are
        published, then its database sessions are killed: it logs each loss,
        reconnects, and posts every command once; SIGTERM then stops it
        cleanly with its status row saying so."""
        product_id, code, stock_id, stock = new_product(committed_db)
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        proxy = TcpProxy(parsed.hostname, parsed.port or 5672).start()
        url = parsed._replace(netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:{proxy.port}")
        bus = command_bus()
        try:
            process = bus.start(env={"STOCK_EVENT_BUS_AMQP_URL": urllib.parse.urlunsplit(url)})
            bus.publish(receive(code, 1, stock, "before"), code)
            assert bus.replies(1)["before"]["status"] == "done"
            proxy.stop()
            for n in range(3):
                bus.publish(receive(code, 1, stock, f"outage-{n}"), code)
            assert processes.wait_for_text(
                process.log_path, "unavailable", 60, 0.3
            ), process.log_path.read_text()[-3000:]
            proxy.start()
            replies = bus.replies(3, timeout=120)
            assert sorted(replies) == ["outage-0", "outage-1", "outage-2"]
            # The database goes away (a failover, a restart).
            with committed_db.cursor() as cr:
                cr.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = %s",
                    [committed_db.name, f"odoo-{process.pid}"],
                )
                assert cr.rowcount >= 1
            bus.publish(receive(code, 1, stock, "after-db"), code)
            assert bus.replies(1, timeout=120)["after-db"]["status"] == "done"
            assert processes.stop(process, 60) == 0  # SIGTERM: a clean stop
        finally:
            proxy.stop()
        log = process.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert on_hand(committed_db, product_id, stock_id) == (5, 1)
        with committed_db.cursor() as cr:
            cr.execute(
                "SELECT kind, state FROM stock_event_dispatcher WHERE name LIKE %s",
                [f"%:{process.pid} (commands)"],
            )
            assert cr.fetchone() == ("command_consumer", "stopped")

    def test_commands_of_a_product_apply_in_publishing_order(self, committed_db, command_bus):
        """Two consumer processes (one active per queue, one standby), a
        product with nothing on hand, and 40 receive/deliver pairs published
        in turn: every delivery finds its receipt before it, so all 80 are
        posted; the standby takes over when the active one stops."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        first = bus.start()
        bus.start()

        def pair(n):
            return receive(code, 1, stock, f"in-{n}"), deliver(code, 1, stock, f"out-{n}")

        for n in range(20):
            for command in pair(n):
                bus.publish(command, code)
        assert {r["status"] for r in bus.replies(40).values()} == {"done"}
        assert processes.stop(first, 60) == 0  # SIGTERM
        for n in range(20, 40):
            for command in pair(n):
                bus.publish(command, code)
        replies = bus.replies(40, timeout=120)
        assert len(replies) == 40 and {r["status"] for r in replies.values()} == {"done"}
        assert on_hand(committed_db, product_id, stock_id) == (0, 1)
        assert done_ledger(committed_db, product_id, stock_id) == 0

    def test_publishing_before_any_consumer_ran(self, committed_db, command_bus):
        """On a new exchange nothing is routed ("exchange not found") until
        ``stock_command_consume --declare-only`` declares the topology; then
        a command published with ``mandatory`` is routed, waits in its
        queue, and the consumer started later posts it."""
        product_id, code, stock_id, stock = new_product(committed_db)
        bus = command_bus()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
            bus.publish(receive(code, 2, stock, "too-early"), code, mandatory=True)
        assert closed.value.reply_code == 404  # NOT_FOUND: no exchange yet
        bus.reopen_channel()
        # An odoo.conf of 18.0.1.2.0 that still names command_user: said, not used.
        odoo_conf.copy_conf(bus.conf, bus.conf, command_user="admin")
        # As README says: no database needed.
        command = stack.dispatch_command(bus.conf, "-", "--declare-only", command=COMMAND)
        command = command[: command.index("-d")] + command[command.index("-d") + 2 :]
        declared = subprocess.run(
            command, capture_output=True, text=True, env=stack.odoo_env(), timeout=300
        )
        output = declared.stdout + declared.stderr
        assert declared.returncode == 0, output
        assert f"exchange {bus.exchange}, queues" in output
        assert "option command_user of [stock_event_bus] is no longer read" in output
        # Routed: with mandatory, an unroutable message raises UnroutableError.
        bus.publish(receive(code, 2, stock, "early"), code, mandatory=True)
        waiting = [
            bus.channel.queue_declare(name, passive=True).method
            for name in [f"{bus.exchange}.{i}" for i in range(bus.queues)]
        ]
        assert sum(q.message_count for q in waiting) == 1
        assert {q.consumer_count for q in waiting} == {0}
        bus.start()
        replies = bus.replies(1)
        assert replies["early"]["status"] == "done", replies
        assert on_hand(committed_db, product_id, stock_id) == (2, 1)
