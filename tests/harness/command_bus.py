# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands over AMQP for a test: a command exchange of its own,
the ``stock_command_consume`` processes, a reply queue, the dead letters;
and RabbitMQ users of its own (``rabbitmqctl``), mapped to Odoo users."""

import json
import re
import subprocess
import time
import urllib.parse
import uuid

import pika

from . import amqp, odoo_conf, processes, stack

COMMAND = "stock_command_consume"


def map_broker_user(committed_db, broker_user, login):
    """Map RabbitMQ user ``broker_user`` to the Odoo user ``login`` (as an
    administrator does on the user's form)."""
    with committed_db.env() as env:
        users = env["res.users"].with_context(active_test=False)
        users.search([("amqp_user", "=", broker_user)]).amqp_user = False
        users.search([("login", "=", login)]).amqp_user = broker_user


class BrokerUser:
    """A RabbitMQ user of its own (``rabbitmqctl add_user``) with the
    permissions the README gives an integration: publish to the command
    exchange, declare and read its own reply queue (``amq.gen-*``)."""

    def __init__(self, exchange):
        self.name = f"sscale_test_{uuid.uuid4().hex[:8]}"
        self.password = uuid.uuid4().hex
        parsed = urllib.parse.urlsplit(stack.amqp_url())
        self.vhost = urllib.parse.unquote(parsed.path[1:] or "/")
        self.url = urllib.parse.urlunsplit(
            parsed._replace(netloc=f"{self.name}:{self.password}@{parsed.hostname}:{parsed.port}")
        )
        self._ctl("add_user", self.name, self.password)
        self._ctl(
            "set_permissions",
            "-p",
            self.vhost,
            self.name,
            r"^amq\.gen-.*",
            f"^{re.escape(exchange)}$",
            r"^amq\.gen-.*",
        )

    @staticmethod
    def _ctl(*args):
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    def channel(self):
        """A channel with publisher confirms, logged in as this user."""
        return amqp.open_channel(self.url)[1]

    def delete(self):
        self._ctl("delete_user", self.name)


class CommandBus:
    """A test's own command exchange (unique name) and consumer processes.
    Its publishing connection's RabbitMQ user (guest) is mapped to admin
    when ``committed_db`` is given."""

    def __init__(self, harness, db_name, tmp_path, queues=4, committed_db=None):
        self.exchange = f"sscale.test.commands.{uuid.uuid4().hex[:8]}"
        self.broker_user = urllib.parse.urlsplit(stack.amqp_url()).username
        if committed_db is not None:
            map_broker_user(committed_db, self.broker_user, "admin")
        self.queues = queues
        self.conf = odoo_conf.copy_conf(
            harness["conf"],
            tmp_path / f"commands-{uuid.uuid4().hex[:6]}.conf",
            command_exchange=self.exchange,
            command_queues=queues,
        )
        self.db_name = db_name
        self.processes = []
        self.connection, self.channel = amqp.open_channel()
        self.reply_queue = self.channel.queue_declare("", exclusive=True).method.queue

    def start(self, *args, env=None):
        """A consumer process (log in ``log_path``), once it consumes."""
        log = self.conf.with_suffix(f".{len(self.processes)}.log")
        process = processes.start(
            stack.dispatch_command(self.conf, self.db_name, *args, command=COMMAND),
            log,
            env=dict(stack.odoo_env(), **(env or {})),
        )
        self.processes.append(process)
        self.wait_for_consumers(1 if "--queues" in args else self.queues)
        return process

    def reopen_channel(self):
        """A new channel (with confirms) after the broker closed this one."""
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        return self.channel

    def wait_for_consumers(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                declared = self.channel.queue_declare(f"{self.exchange}.0", passive=True)
                if declared.method.consumer_count >= 1:
                    return
            except pika.exceptions.ChannelClosedByBroker:
                self.reopen_channel()
            time.sleep(0.3)
        logs = "\n".join(p.log_path.read_text() for p in self.processes)
        raise AssertionError(f"no consumer on {self.exchange}: {logs}")

    def publish(self, command, routing_key, channel=None, reply=True, user_id=True, **kwargs):
        """Publish ``command`` (a dict, or bytes as they are) with ``user_id``
        the bus's RabbitMQ user (``user_id``: another name, or None for
        none), a reply queue unless not ``reply``, and the command's
        idempotency key as correlation id (``"raw"`` for bytes). ``kwargs``:
        ``mandatory``, or properties (``message_id``, ``correlation_id``)."""
        fields = {
            "user_id": self.broker_user if user_id is True else user_id,
            "reply_to": self.reply_queue if reply else None,
            "correlation_id": command.get("idempotency_key")
            if isinstance(command, dict)
            else "raw",
            **kwargs,
        }
        body = command if isinstance(command, bytes) else json.dumps(command)
        amqp.publish(channel or self.channel, self.exchange, routing_key, body, **fields)

    def replies(self, expected, timeout=120):
        """``{correlation_id: reply}`` of the replies come within ``timeout``."""
        got = {}
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.reply_queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.1)
                continue
            got[properties.correlation_id] = json.loads(body)
        return got

    def dead_letters(self):
        """``(headers, body)`` of each dead letter waiting now."""
        letters = []
        while True:
            method, properties, body = self.channel.basic_get(
                f"{self.exchange}.dead", auto_ack=True
            )
            if method is None:
                return letters
            letters.append((properties.headers or {}, body))

    def letters(self, count, timeout=30):
        """Dead letters until ``count`` came or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        letters = []
        while len(letters) < count and time.monotonic() < deadline:
            letters += self.dead_letters()
            time.sleep(0.2)
        return letters

    def close(self):
        for process in self.processes:
            processes.stop(process, 30)
        channel = self.connection.channel()
        for index in range(self.queues):
            channel.queue_delete(f"{self.exchange}.{index}")
        channel.queue_delete(f"{self.exchange}.dead")
        channel.exchange_delete(f"{self.exchange}.dlx")
        channel.exchange_delete(self.exchange)
        self.connection.close()
