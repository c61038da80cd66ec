# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``odoo-bin stock_level_snapshot -c <conf> -d <db> [--company ID |
--warehouse ID] --queue NAME [--declare]``: take a level snapshot (the one
``GET /api/stock/levels`` takes) and publish it to a queue, for consumers
that only speak AMQP. Run as the superuser: every company's warehouses
unless ``--company`` or ``--warehouse`` narrows it."""

import logging
import sys

import pika.exceptions

import odoo
from odoo.cli import Command

from ..lib import broker
from ..lib import snapshot as snaplib
from ..lib.publisher import Publisher
from .stock_event_dispatch import StockEventDispatch

_logger = logging.getLogger("odoo.addons.stock_event_bus.level_snapshot")
PROG = "stock_level_snapshot"


class StockLevelSnapshot(Command):
    """Publish a snapshot of the stock levels to a queue (stock_event_bus)"""

    name = PROG

    def run(self, cmdargs):
        parser = StockEventDispatch.argument_parser(self.name, self.__doc__)
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--company", type=int, help="the warehouses of this company id")
        scope.add_argument("--warehouse", type=int, help="this warehouse id")
        parser.add_argument("--queue", required=True, help="the queue to publish to")
        parser.add_argument(
            "--declare",
            action="store_true",
            help="declare the queue (durable) when missing; without it, the queue must exist",
        )
        parser.add_argument(
            "--page-size",
            type=int,
            default=snaplib.DEFAULT_LIMIT,
            help=f"levels read and confirmed at a time (default {snaplib.DEFAULT_LIMIT})",
        )
        parser.add_argument("--log-level", default="info", help="Odoo log level (default: info)")
        opts, odoo_args = parser.parse_known_args(cmdargs)
        if not 1 <= opts.page_size <= snaplib.MAX_LIMIT:
            parser.error(f"--page-size must be from 1 to {snaplib.MAX_LIMIT}")
        settings, dbname = StockEventDispatch.setup_odoo(opts, odoo_args, PROG)
        try:
            self._check_queue(settings.amqp_url, opts.queue, opts.declare)
            sys.exit(self._publish(settings, dbname, opts))
        except (snaplib.SnapshotError, snaplib.PublishError) as exc:
            sys.exit(f"{PROG}: {exc}")

    @staticmethod
    def _check_queue(amqp_url, queue, declare):
        """Declare ``queue`` (``declare``) or check that it exists, before
        any snapshot is taken. Raises PublishError."""
        try:
            connection = broker.connect_blocking(amqp_url, name=PROG, timeout=30)
        except (ValueError, pika.exceptions.AMQPError) as exc:
            raise snaplib.PublishError(broker.describe_error(exc)) from None
        try:
            connection.channel().queue_declare(queue, passive=not declare, durable=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                raise snaplib.PublishError(
                    f"no queue {queue!r}: declare it, or pass --declare"
                ) from None
            raise snaplib.PublishError(broker.describe_error(exc)) from None
        finally:
            if connection.is_open:
                connection.close()

    @staticmethod
    def _publish(settings, dbname, opts):
        registry = odoo.modules.registry.Registry(dbname)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            Snapshot = env["stock.level.snapshot"]
            snapshot = Snapshot._sscale_take(
                env["res.company"].search([]), opts.company, opts.warehouse
            )
            # Committed before publishing: the stored copy is what is read,
            # page by page, and it can be read over HTTP while it lasts.
            cr.commit()
            uuid_ = snapshot.uuid
            _logger.info(
                "snapshot %s: %d levels taken at %s; publishing to queue %r",
                snapshot.uuid,
                snapshot.total,
                snapshot.taken_at,
                opts.queue,
            )
            publisher = Publisher(settings.amqp_url, "", name=PROG)
            try:
                count = snaplib.publish(
                    publisher,
                    opts.queue,
                    snapshot._sscale_pages(opts.page_size),
                    snapshot.uuid,
                    snapshot.taken_at,
                    snapshot.total,
                )
            finally:
                publisher.close()
        _logger.info("snapshot %s: %d levels published, then its end", uuid_, count)
        sys.stdout.write(f"snapshot {uuid_}: {count} levels published to {opts.queue}\n")
        return 0
