# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``odoo-bin --addons-path=<paths> stock_event_dispatch -c <conf> -d <db>``:
the outbox dispatcher as an Odoo command (a separate, long-running process,
like ``odoo-bin`` itself; run one or more per database)."""

import argparse
import logging
import os
import signal
import sys

import psycopg2

import odoo
from odoo.cli import Command
from odoo.tools import config

from ..lib import config as bus_config
from ..lib.dispatcher import Dispatcher

_logger = logging.getLogger("odoo.addons.stock_event_bus.dispatch")


class StockEventDispatch(Command):
    """Publish the stock event outbox to RabbitMQ (stock_event_bus)"""

    name = "stock_event_dispatch"

    @staticmethod
    def setup_odoo(opts, odoo_args, prog, need_database=True):
        """Parse Odoo's options (``-c``, ``-d``, logging) for a bus command and
        resolve its settings. Exits with a message naming what is missing
        (the database only when ``need_database``). Returns ``(settings,
        database)``."""
        odoo_args.append(f"--log-level={opts.log_level}")
        if opts.config:
            odoo_args.append(f"--config={opts.config}")
        if opts.database:
            odoo_args.append(f"--database={opts.database}")
        config.parse_config(odoo_args, setup_logging=True)
        # pika logs every connection step, and each failed attempt five times
        # over; the dispatcher logs one line per attempt itself. Unless the
        # admin asked for pika's logs (--log-handler=pika:DEBUG), mute them.
        if not any(h.startswith("pika") for h in config["log_handler"]):
            logging.getLogger("pika").setLevel(logging.CRITICAL)
        dbname = (opts.database or config["db_name"] or "").split(",")[0].strip()
        if not dbname and need_database:
            sys.exit(f"{prog}: no database: pass -d <database> or set db_name")
        try:
            settings = bus_config.resolve(config.misc.get(bus_config.SECTION, {}), os.environ)
        except ValueError as exc:
            sys.exit(f"{prog}: {exc}")
        if not settings.broker_configured:
            sys.exit(
                f"{prog}: no broker configured: set amqp_url in the"
                f" [{bus_config.SECTION}] section of odoo.conf or the"
                f" {bus_config.ENV_AMQP_URL} environment variable."
                " Postings keep working; their events wait in the outbox."
            )
        return settings, dbname

    @staticmethod
    def argument_parser(command, description):
        """The parser of a bus command, with the options they all take:
        ``-c`` (the odoo.conf) and ``-d`` (the database)."""
        parser = argparse.ArgumentParser(
            prog=f"{os.path.basename(sys.argv[0])} {command}", description=description
        )
        parser.add_argument("-c", "--config", help="the odoo.conf (its [stock_event_bus] section)")
        parser.add_argument(
            "-d", "--database", help="the database (default: db_name of odoo.conf)"
        )
        return parser

    def run(self, cmdargs):
        parser = self.argument_parser(self.name, self.__doc__)
        parser.add_argument(
            "--once", action="store_true", help="publish what is pending, then exit"
        )
        parser.add_argument(
            "--batch-size", type=int, help="events per claim (default: batch_size)"
        )
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=5.0,
            help="seconds between polls when no NOTIFY arrives (default: 5)",
        )
        parser.add_argument("--log-level", default="info", help="Odoo log level (default: info)")
        # Anything else is an Odoo option (the official image's entrypoint
        # appends --db_host, --db_port, --db_user, --db_password).
        opts, odoo_args = parser.parse_known_args(cmdargs)
        settings, dbname = self.setup_odoo(opts, odoo_args, "stock_event_dispatch")

        _db, connection_info = odoo.sql_db.connection_info_for(dbname)
        connection_info = dict(connection_info, application_name="stock_event_dispatch")

        def connect_db():
            return psycopg2.connect(**connection_info)

        dispatcher = Dispatcher(
            connect_db,
            settings,
            batch_size=opts.batch_size,
            poll_interval=opts.poll_interval,
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: dispatcher.stop())
        sys.exit(dispatcher.run(once=opts.once))
