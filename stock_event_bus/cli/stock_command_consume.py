# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``odoo-bin --addons-path=<paths> stock_command_consume -c <conf> -d <db>``:
post the inventory commands of RabbitMQ's ``stock.commands`` exchange (a
separate, long-running process beside the dispatcher; run one or more per
database: each queue has one active consumer at a time). Each command is
posted as the Odoo user mapped to its message's ``user_id`` (the RabbitMQ
user that published it, checked by RabbitMQ).

``stock_command_consume -c <conf> --declare-only`` declares the exchange and
queues and exits (as installing or upgrading stock_event_bus does when the
broker answers), so that publishers can send before any consumer ran."""

import logging
import os
import signal
import sys

import pika.exceptions

import odoo
from odoo.cli import Command

from ..lib import config as bus_config
from ..lib.broker import describe_error
from ..lib.command_consumer import CommandConsumer, TopologyError, declare, unknown_broker_user
from .stock_event_dispatch import StockEventDispatch

_logger = logging.getLogger("odoo.addons.stock_event_bus.commands")


def _queue_list(text):
    """``0-3,6`` -> [0, 1, 2, 3, 6]."""
    numbers = []
    for part in text.split(","):
        first, _sep, last = part.partition("-")
        numbers.extend(range(int(first), int(last or first) + 1))
    return numbers


class StockCommandConsume(Command):
    """Post inventory commands from RabbitMQ (stock_event_bus)"""

    name = "stock_command_consume"

    def run(self, cmdargs):
        parser = StockEventDispatch.argument_parser(self.name, self.__doc__)
        parser.add_argument(
            "--queues",
            type=_queue_list,
            help="consume only these queues, e.g. 0-3 (default: all; a process on the same"
            " queue as another waits as its standby)",
        )
        parser.add_argument(
            "--batch-size", type=int, help="commands per transaction (default: command_batch_size)"
        )
        parser.add_argument(
            "--max-idle",
            type=float,
            help="exit after this many seconds without a command (default: run until stopped)",
        )
        parser.add_argument(
            "--declare-only",
            action="store_true",
            help="declare the command exchange, its queues and the dead letters on the broker,"
            " then exit (no database needed)",
        )
        parser.add_argument("--log-level", default="info", help="Odoo log level (default: info)")
        opts, odoo_args = parser.parse_known_args(cmdargs)
        settings, dbname = StockEventDispatch.setup_odoo(
            opts, odoo_args, "stock_command_consume", need_database=not opts.declare_only
        )
        for option, instead in bus_config.REMOVED_OPTIONS.items():
            if option in odoo.tools.config.misc.get(bus_config.SECTION, {}):
                _logger.warning(
                    "stock_command_consume: option %s of [%s] is no longer read: %s (README:"
                    " Upgrading from stock_event_bus 18.0.1.2.0)",
                    option,
                    bus_config.SECTION,
                    instead,
                )
        if opts.declare_only:
            sys.exit(self._declare(settings))
        outside = sorted(set(opts.queues or ()) - set(range(settings.command_queues)))
        if outside:
            sys.exit(
                f"stock_command_consume: --queues names {outside}, but there are"
                f" {settings.command_queues} queues (0-{settings.command_queues - 1}):"
                f" command_queues in the [{bus_config.SECTION}] section of odoo.conf"
            )
        registry = odoo.modules.registry.Registry(dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            if "stock.event.dispatcher" not in env:
                sys.exit("stock_command_consume: install stock_event_bus in this database first")
            if not odoo.tools.sql.column_exists(cr, "res_users", "amqp_user"):
                sys.exit(
                    "stock_command_consume: upgrade stock_event_bus in this database first"
                    " (odoo -u stock_event_bus): commands are posted as the Odoo user mapped to"
                    " their RabbitMQ user"
                )
        from odoo.addons.stock_scalable.inventory_command import runner  # noqa: PLC0415
        from odoo.addons.stock_scalable.lib import commands as cmdlib  # noqa: PLC0415

        def decode(body):
            # A message body is read as an HTTP request's: one definition.
            try:
                return cmdlib.loads(body)
            except cmdlib.CommandError as error:
                raise ValueError(error.message) from None

        def apply_batch(broker_user, payloads, keys):
            # As Odoo's workers do before each request: see the caches other
            # processes invalidated (a user's companies, groups, language)
            # and a registry reloaded by an upgrade.
            nonlocal registry
            registry = registry.check_signaling()
            with registry.cursor() as cr:
                # The mapping is read for each run of commands: a user
                # unmapped or archived in Odoo posts nothing from then on.
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                uid = env["res.users"]._stock_event_bus_user_of(broker_user).id
                if not uid:
                    return [
                        unknown_broker_user(key or payload.get("idempotency_key"), broker_user)
                        for payload, key in zip(payloads, keys, strict=True)
                    ]
                return runner.execute(registry, uid, payloads, "amqp", keys=keys, cr=cr)

        def record_status(state, error=None):
            try:
                with registry.cursor() as cr:
                    cr.execute(
                        """INSERT INTO stock_event_dispatcher
                                  (name, kind, state, last_error, last_seen, events_sent)
                           VALUES (%s, 'command_consumer', %s, %s, NOW() AT TIME ZONE 'UTC', %s)
                           ON CONFLICT (name) DO UPDATE
                              SET state = EXCLUDED.state, last_error = EXCLUDED.last_error,
                                  last_seen = EXCLUDED.last_seen,
                                  events_sent = EXCLUDED.events_sent""",
                        (consumer.name, state, error, consumer.handled),
                    )
            except Exception:  # noqa: BLE001 - a status row must never stop the consumer
                _logger.debug("could not record the consumer status", exc_info=True)

        consumer = CommandConsumer(
            settings.amqp_url,
            apply_batch,
            decode=decode,
            exchange=settings.command_exchange,
            queues=settings.command_queues,
            queue_type=settings.command_queue_type,
            only_queues=opts.queues,
            batch_size=opts.batch_size or settings.command_batch_size,
            record_status=record_status,
            # Test hook: seconds between commit and ack (tests/test_inventory_commands_amqp.py).
            pause_before_ack=float(os.environ.get("STOCK_COMMAND_CONSUME_PAUSE_BEFORE_ACK", 0)),
        )
        consumer.name = f"{consumer.name} (commands)"
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: consumer.stop())
        sys.exit(consumer.run(max_idle=opts.max_idle))

    @staticmethod
    def _declare(settings):
        """``--declare-only``: declare the topology; 0, or 1 with the reason."""
        try:
            node = declare(
                settings.amqp_url,
                settings.command_exchange,
                settings.command_queues,
                settings.command_queue_type,
            )
        except TopologyError as exc:
            _logger.error("stock_command_consume: %s", exc)
            return 1
        except (pika.exceptions.AMQPError, OSError) as exc:
            _logger.error(
                "stock_command_consume: broker %s unavailable (%s)",
                settings.safe_amqp_url,
                describe_error(exc),
            )
            return 1
        _logger.info(
            "stock_command_consume: exchange %s, queues %s.0 to .%d and %s.dead declared at %s",
            settings.command_exchange,
            settings.command_exchange,
            settings.command_queues - 1,
            settings.command_exchange,
            node,
        )
        return 0
