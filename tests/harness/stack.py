# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The stack the tests, benchmarks and scripts run on.

They find the services (PostgreSQL, RabbitMQ) through the usual environment
variables, check that Odoo is importable, run Odoo's command line, and copy or
drop databases. Only the standard library plus psycopg2 and pika (both
installed with Odoo and this project) are used, and nothing here imports Odoo
at import time.
"""

import getpass
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDONS = ("stock_scalable", "stock_event_bus", "stock_scalable_reporting")
# Bridge addons: Odoo installs each by itself when the addons it depends on
# are there (stock_scalable_reporting_account: with stock_account).
BRIDGES = ("stock_scalable_reporting_account",)
# The Odoo apps the addons are almost always installed beside: the test
# template has them too (stock_account comes with purchase_stock).
BUSINESS_MODULES = ("mrp", "purchase_stock", "sale_stock")
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class StackError(SystemExit):
    """A missing prerequisite: printed as one clear message, exit code 1."""

    def __init__(self, message):
        super().__init__(f"\nERROR: {message}\n")
        self.message = message


def argument_parser(doc):
    """An ArgumentParser whose description is the first paragraph of
    ``doc`` (a script's docstring), whole, and whose --help shows each
    option's default."""
    import argparse  # noqa: PLC0415

    paragraph = doc.strip().split("\n\n", 1)[0]
    return argparse.ArgumentParser(
        description=" ".join(paragraph.split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def pg_params():
    """PostgreSQL connection settings from PGHOST, PGPORT, PGUSER, PGPASSWORD."""
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "user": os.environ.get("PGUSER") or getpass.getuser(),
        "password": os.environ.get("PGPASSWORD", ""),
    }


def amqp_url():
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


def require_odoo():
    """Stop with a message naming what to install when Odoo 18 is missing."""
    try:
        import odoo.release  # noqa: PLC0415
    except ImportError as exc:
        raise StackError(
            f"cannot import odoo with {sys.executable} ({exc}).\n"
            "Install Odoo 18 into this Python first, in one of the usual ways:\n"
            "  - Odoo's Debian/Ubuntu package (odoo_18.0), or\n"
            "  - an Odoo 18.0 source checkout: pip install -r requirements.txt && pip install .\n"
            "    (it builds with Debian's libpq-dev, libldap2-dev and libsasl2-dev), or\n"
            "  - Docker: docker compose up (see README.md), which needs no local Odoo."
        ) from exc
    if odoo.release.version_info[0] != 18:
        raise StackError(
            f"these addons need Odoo 18; {sys.executable} imports Odoo {odoo.release.version}."
        )
    require_gevent()
    return odoo.release.version


def require_gevent():
    """Stop, naming the fix, when Odoo's websocket process could not start.

    With ``--workers`` Odoo runs a gevent process for the websocket; Odoo 18's
    pinned gevent imports ``pkg_resources`` (gone from setuptools 81) and loads
    its plugins through it (they must be zope.interface < 8 and zope.event < 6
    to be found). Without them that process dies at each start, over and over,
    while the HTTP workers go on: checked here in a child Python, as Odoo
    starts it."""
    probe = subprocess.run(
        [sys.executable, "-c", "import gevent.monkey; gevent.monkey.patch_all()"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or ["(no error output)"]
        raise StackError(
            f"Odoo's websocket process cannot start with {sys.executable}: gevent fails at "
            f"start ({lines[-1]}).\n"
            "Odoo 18's gevent needs pkg_resources, which setuptools 81 and newer no longer "
            "ship. Fix:\n"
            f"  {sys.executable} -m pip install -r {ROOT / 'requirements.txt'}\n"
            "(it pins setuptools<81; requirements-test.txt also pins zope.interface<8 and "
            "zope.event<6)."
        )


def require_postgres():
    """Connect to the maintenance database, or stop saying what is wrong."""
    import psycopg2  # noqa: PLC0415

    params = pg_params()
    where = f"{params['user']}@{params['host']}:{params['port']}"
    try:
        psycopg2.connect(dbname="postgres", connect_timeout=5, **params).close()
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise StackError(
            f"PostgreSQL is not reachable as {where}: {reason}\n"
            "Start PostgreSQL, or point PGHOST/PGPORT/PGUSER/PGPASSWORD at a server where "
            "that role may create databases."
        ) from exc
    return where


def safe_url(url):
    """``url`` with its password, if any, shown as ``***``."""
    parsed = urllib.parse.urlsplit(url)
    return url.replace(f":{parsed.password}@", ":***@") if parsed.password else url


def require_rabbitmq(url=None):
    """Open and close an AMQP connection to ``url`` (default: ``amqp_url()``),
    or stop saying what is wrong."""
    import pika  # noqa: PLC0415

    from . import amqp  # noqa: PLC0415 - amqp imports this module

    url = url or amqp_url()
    safe = safe_url(url)
    try:
        connection = amqp.connect(
            url, socket_timeout=5, blocked_connection_timeout=5, connection_attempts=1
        )
    except pika.exceptions.ProbableAuthenticationError as exc:
        raise StackError(f"RabbitMQ at {safe} refused the credentials: {exc!r}") from exc
    except pika.exceptions.AMQPError as exc:
        raise StackError(
            f"RabbitMQ is not reachable at {safe} ({exc!r}).\n"
            "Start RabbitMQ (rabbitmq-server -detached, or docker compose up rabbitmq), "
            "or set AMQP_URL."
        ) from exc
    # Inventory commands over AMQP need the consistent-hash exchange type.
    probe = f"stock.scalable.probe.{os.getpid()}"
    try:
        channel = connection.channel()
        channel.exchange_declare(probe, exchange_type="x-consistent-hash", auto_delete=True)
        channel.exchange_delete(probe)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise StackError(
            f"RabbitMQ at {safe} has no consistent-hash exchange ({exc.reply_text}).\n"
            "Enable its plugin: rabbitmq-plugins enable rabbitmq_consistent_hash_exchange"
        ) from exc
    finally:
        if connection.is_open:
            connection.close()
    return safe


def odoo_command():
    """The command that runs Odoo: $ODOO_BIN if set, else this Python's odoo
    through scripts/odoo-run (not ``-m odoo``: with ``--workers`` Odoo starts
    its websocket process from ``sys.argv[0]``, which must be a script)."""
    if os.environ.get("ODOO_BIN"):
        return [os.environ["ODOO_BIN"]]
    return [sys.executable, str(ROOT / "scripts" / "odoo-run")]


def dispatch_command(conf, database, *args, command="stock_event_dispatch"):
    """A stock_event_bus process (the dispatcher, or with ``command=
    "stock_command_consume"`` the command consumer), run as the Odoo command
    it is. The addons path comes first: that is how Odoo finds an addon's
    command."""
    import odoo.addons  # noqa: PLC0415 - only when Odoo is there

    odoo_addons = Path(odoo.addons.__file__).resolve().parent
    return odoo_command() + [
        f"--addons-path={ROOT},{odoo_addons}",
        command,
        "-c",
        str(conf),
        "-d",
        database,
        *args,
    ]


def odoo_env():
    """Environment for Odoo subprocesses: the server runs in UTC, as odoo-bin sets it."""
    return dict(os.environ, TZ="UTC")


def proc_status_kb(pid, key):
    """A kB figure of /proc/<pid>/status (``VmHWM``, ``RssAnon``, ...), or
    None when the process is not on this machine (or gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def connect(dbname="postgres"):
    import psycopg2  # noqa: PLC0415

    conn = psycopg2.connect(dbname=dbname, **pg_params())
    conn.autocommit = True
    return conn


def database_exists(name):
    conn = connect()
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return bool(cr.fetchone())
    finally:
        conn.close()


def copy_database(template, name, data_dir):
    """createdb -T: copy ``template`` (which must have no open connection)
    into ``name``, with its filestore."""
    from psycopg2 import sql  # noqa: PLC0415

    conn = connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
    finally:
        conn.close()
    src = Path(data_dir, "filestore", template)
    if src.is_dir():
        shutil.copytree(src, Path(data_dir, "filestore", name))


def drop_database(name, data_dir=None):
    """Drop ``name`` even if connections remain, and its filestore."""
    from psycopg2 import sql  # noqa: PLC0415

    conn = connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()
    if data_dir:
        shutil.rmtree(Path(data_dir, "filestore", name), ignore_errors=True)


def databases_with_prefix(prefix):
    conn = connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname",
                [prefix.replace("_", r"\_") + "%"],
            )
            return [row[0] for row in cr.fetchall()]
    finally:
        conn.close()


def drop_databases_with_prefix(prefix, data_dir=None):
    """Drop every database whose name starts with ``prefix`` (and its
    filestore under ``data_dir``), after closing this process's Odoo
    connection pools to it."""
    import odoo  # noqa: PLC0415

    for name in databases_with_prefix(prefix):
        odoo.sql_db.close_db(name)
        drop_database(name, data_dir)


def junit_outcomes(path):
    """``{"classname.name": "passed" | "failed" | "skipped"}`` from pytest's
    JUnit XML, one entry per test (subtests of a test report under its name:
    one failure makes the test failed)."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    outcome = {}
    if not Path(path).exists():
        return outcome
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome[name] = "failed"
        elif case.find("skipped") is not None:
            outcome.setdefault(name, "skipped")
        else:
            outcome.setdefault(name, "passed")
    return outcome


def run(cmd, log_path=None, **kwargs):
    """Run ``cmd``; with ``log_path``, send its output there. Returns the exit code."""
    if log_path is None:
        return subprocess.run(cmd, check=False, **kwargs).returncode
    with open(log_path, "w") as log:
        return subprocess.run(
            cmd, stdout=log, stderr=subprocess.STDOUT, check=False, **kwargs
        ).returncode
