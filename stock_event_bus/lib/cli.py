# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``stock-events``: keep a local table of Odoo's stock levels in sync.

    stock-events sync --amqp URL --odoo URL --db sqlite:///levels.db
    stock-events reconcile --odoo URL --db sqlite:///levels.db

The API key comes from $STOCK_EVENTS_API_KEY (or --api-key, which other
users of the machine can read in ``ps``); every option has an environment
variable (see --help). No Odoo import: this is the console script of the
``stock-events-client`` package (README, "A client for downstream
services").

Exit codes: ``sync``: 0 stopped by SIGTERM/SIGINT, 2 bad arguments or
configuration, 3 Odoo, the broker or the database failed. ``reconcile``: 0
the projection equals Odoo's snapshot, 1 it differed and was repaired (the
differences are printed on stdout), 2 bad arguments, 3 a failure.
"""

import argparse
import logging
import os
import signal
import sys
import urllib.parse

from . import snapshot_client
from .config import mask_url, mask_urls, split_urls
from .projection import Projection, ProjectionError
from .sync import DEFAULT_BATCH, DEFAULT_EXCHANGE, DEFAULT_MAX_GAP, Sync, reconcile

_logger = logging.getLogger("stock_events")

EXIT_OK, EXIT_DIFFERED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

ENV = {
    "odoo": "STOCK_EVENTS_ODOO_URL",
    "api_key": "STOCK_EVENTS_API_KEY",
    "db": "STOCK_EVENTS_DB",
    "amqp": "STOCK_EVENTS_AMQP_URL",
    "queue": "STOCK_EVENTS_QUEUE",
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _positive(text, maximum=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise argparse.ArgumentTypeError(f"must be 1..{maximum or 'any'}, not {value}")
    return value


def _page_size(text):
    return _positive(text, snapshot_client.MAX_LIMIT)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="stock-events", description=__doc__, formatter_class=_Formatter
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub):
        sub.add_argument(
            "--odoo",
            default=os.environ.get(ENV["odoo"]),
            help=f"Odoo's URL, e.g. http://localhost:8069 (${ENV['odoo']})",
        )
        sub.add_argument(
            "--api-key",
            default=os.environ.get(ENV["api_key"]),
            help=f"an Odoo API key; better: ${ENV['api_key']}, not shown by ps",
        )
        sub.add_argument(
            "--db",
            default=os.environ.get(ENV["db"]),
            help="the projection: sqlite:///levels.db or postgresql://user@host/dbname"
            f" (${ENV['db']})",
        )
        scope = sub.add_mutually_exclusive_group()
        scope.add_argument("--company", type=_positive, help="one company's warehouses only")
        scope.add_argument("--warehouse", type=_positive, help="one warehouse only")
        sub.add_argument(
            "--page-size",
            type=_page_size,
            default=snapshot_client.DEFAULT_LIMIT,
            help=f"levels per snapshot page (1..{snapshot_client.MAX_LIMIT})",
        )

    sync = commands.add_parser(
        "sync",
        help="bootstrap from the snapshot, then follow the level events",
        description="Bind the queue to the level events, bootstrap the projection from a"
        " snapshot (progress on stderr), then apply each level event in one local"
        " transaction before acking it, until SIGTERM or SIGINT (it stops between"
        " messages). Restarting it is always safe.",
        formatter_class=_Formatter,
    )
    common(sync)
    sync.add_argument(
        "--amqp",
        default=os.environ.get(ENV["amqp"]),
        help="RabbitMQ URL, or a cluster's URLs separated by commas"
        f" (${ENV['amqp']}), e.g. amqp://user:password@host:5672/%%2F",
    )
    sync.add_argument(
        "--queue",
        default=os.environ.get(ENV["queue"]),
        help="the sync's queue (default: stock-events.<host>.<hash of --db and scope>, the"
        f" same at each restart) (${ENV['queue']})",
    )
    sync.add_argument("--exchange", default=DEFAULT_EXCHANGE, help="Odoo's event exchange")
    sync.add_argument(
        "--max-gap",
        type=_positive,
        default=DEFAULT_MAX_GAP,
        help="a level more than this many sequences ahead of the stored one is dead-lettered"
        " and its warehouse resynced from a snapshot",
    )
    sync.add_argument(
        "--batch-size",
        type=_page_size,
        default=DEFAULT_BATCH,
        help="level events applied in one local transaction (then acked together)",
    )
    sync.add_argument(
        "--no-bootstrap",
        action="store_true",
        help="follow the queue without a snapshot first (the projection is already there and"
        " its queue kept every event meanwhile)",
    )
    sync.add_argument(
        "--queue-type", default="quorum", choices=["quorum", "classic"], help="of a new queue"
    )
    rec = commands.add_parser(
        "reconcile",
        help="compare with a fresh snapshot, repair, print what differed",
        description="Take a snapshot, compare every key with the projection, repair what"
        " differs and print one line per key that differed (projection's value, Odoo's"
        " value). Exit code 0: equal; 1: differed and repaired; 2: bad arguments;"
        " 3: failed.",
        formatter_class=_Formatter,
    )
    common(rec)
    return parser


def _require(parser, args, *names):
    for name in names:
        if not getattr(args, name):
            env = ENV.get(name)
            option = "--" + name.replace("_", "-")
            parser.error(f"{option} is required" + (f" (or ${env})" if env else ""))


def main(argv=None):
    """The console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _require(parser, args, "odoo", "api_key", "db")
    if args.command == "sync":
        _require(parser, args, "amqp")
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pika logs each failed connection attempt with its stack; this command
    # says it in one line (broker.describe_error). --log-level DEBUG: all.
    logging.getLogger("pika").setLevel(
        logging.DEBUG if args.log_level == "DEBUG" else logging.CRITICAL
    )
    try:
        snapshots = snapshot_client.SnapshotClient(args.odoo, args.api_key)
        projection = Projection(args.db, must_exist=args.command == "reconcile")
        if args.command == "sync":
            _check_amqp_urls(args.amqp)
    except (snapshot_client.SnapshotError, ProjectionError, ValueError) as exc:
        _logger.error("%s", exc)
        return EXIT_USAGE
    try:
        if args.command == "sync":
            return _sync(args, projection, snapshots)
        return _reconcile(args, projection, snapshots)
    except snapshot_client.SnapshotError as exc:
        _logger.error("snapshot: %s", exc)
        return EXIT_FAILED
    except ValueError as exc:  # a bad AMQP URL (lib/broker.py)
        _logger.error("%s", exc)
        return EXIT_USAGE
    finally:
        projection.close()


def _sync(args, projection, snapshots):
    sync = Sync(
        projection,
        snapshots,
        amqp_url=args.amqp,
        queue=args.queue,
        exchange=args.exchange,
        company_id=args.company,
        warehouse_id=args.warehouse,
        max_gap=args.max_gap,
        page_size=args.page_size,
        batch_size=args.batch_size,
        queue_type=args.queue_type,
    )

    def stop(signum, _frame):
        _logger.info("%s: stopping after the current message", signal.Signals(signum).name)
        sync.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _logger.info(
        "sync of %s from %s and %s into %s",
        sync.scope or "every warehouse of the key's user",
        args.odoo,
        mask_urls(args.amqp),
        projection.url if projection.dialect == "sqlite" else "PostgreSQL",
    )
    import pika.exceptions  # noqa: PLC0415 - pika only for sync

    try:
        sync.run(bootstrap=not args.no_bootstrap)
    except (pika.exceptions.AMQPError, OSError) as exc:  # OSError: a host that does not resolve
        from .broker import describe_error  # noqa: PLC0415

        _logger.error("broker %s: %s", mask_urls(args.amqp), describe_error(exc))
        return EXIT_FAILED
    finally:
        if sync.consumer is not None:
            sync.consumer.close()
    return EXIT_OK


def _check_amqp_urls(urls):
    """Refuse what is not an AMQP URL (``http://...``) before connecting.

    >>> _check_amqp_urls("amqp://guest:guest@rabbit1/%2F, amqps://rabbit2/%2F")
    >>> _check_amqp_urls("http://guest:secret@rabbit/")
    Traceback (most recent call last):
    ...
    ValueError: --amqp: http://guest:***@rabbit/ is not an AMQP URL (amqp:// or amqps://)
    """
    for url in split_urls(urls):
        if urllib.parse.urlsplit(url).scheme.lower() not in ("amqp", "amqps"):
            raise ValueError(f"--amqp: {mask_url(url)} is not an AMQP URL (amqp:// or amqps://)")


def _print(line):
    """A line of the command's output (stdout; the log goes to stderr)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _reconcile(args, projection, snapshots):
    _count, differed, _repaired = reconcile(
        projection,
        snapshots,
        company_id=args.company,
        warehouse_id=args.warehouse,
        page_size=args.page_size,
        out=_print,
    )
    return EXIT_DIFFERED if differed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
