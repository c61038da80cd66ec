# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A throwaway PostgreSQL hot standby of the test server, on loopback.

``HotStandby`` copies the primary (``stack.pg_params()``) with
``pg_basebackup -R -X stream`` into its own data directory under
``/tmp/sscale-replica-*``, starts it with ``pg_ctl`` on its own port of
127.0.0.1 (5433-5439 unless told) with ``hot_standby = on``, and streams
from the primary through a physical replication slot named after the port,
so that the primary keeps the WAL the standby still needs while it is
stopped. ``remove()`` stops it, drops the slot and deletes the directory::

    with HotStandby() as standby:
        ...  # odoo --db_replica_host=127.0.0.1 --db_replica_port=standby.port
        standby.wait_for_replay()

It needs the PostgreSQL server binaries of the primary's major version on
this machine, and a primary that accepts replication connections from
loopback (``host replication all 127.0.0.1/32 trust`` in pg_hba.conf, which
``.ci/run`` adds) with ``wal_level = replica`` and ``max_wal_senders > 0``.
PostgreSQL refuses to run as root: as root, the standby's commands run as
the ``postgres`` user (``runuser``), who owns its directory. Standard
library and psycopg2 only.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import processes, stack

PORTS = range(5433, 5440)
DIR_PREFIX = "sscale-replica-"
SLOT_PREFIX = "sscale_replica_"
# Settings a hot standby must have at least as high as its primary's.
PRIMARY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
# Replica lag in seconds: 0 when the standby replayed all it received,
# else the age of the last transaction it replayed (NULL before the first).
LAG_QUERY = """
    SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
           END
"""


def _free_port(ports=PORTS):
    port = processes.free_port(ports)
    if port is None:
        raise stack.StackError(f"no free port for a PostgreSQL standby in {ports}")
    return port


class HotStandby:
    """A hot standby of the primary, on 127.0.0.1:``port``, in its own data
    directory; a context manager that removes it on exit."""

    def __init__(self, port=None, primary=None, base_dir=None, startup_timeout=120):
        self.primary = dict(primary or stack.pg_params())
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self.slot = f"{SLOT_PREFIX}{self.port}"
        self.startup_timeout = startup_timeout
        self._base_dir = base_dir
        self.base = None  # our directory: data/ and standby.log
        self.bindir = None
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self._conninfo = None

    # ------------------------------------------------------------------
    # Connections
    # ------------------------------------------------------------------

    @property
    def params(self):
        """psycopg2 connection keywords of the standby (the primary's role)."""
        return dict(self.primary, host=self.host, port=self.port)

    @property
    def dsn(self):
        return f"host={self.host} port={self.port} user={self.primary['user']} " f"dbname=postgres"

    @property
    def data_dir(self):
        return self.base / "data" if self.base else None

    @property
    def log_path(self):
        return self.base / "standby.log" if self.base else None

    def connect(self, dbname="postgres", **kwargs):
        """An autocommit connection to the standby."""
        import psycopg2  # noqa: PLC0415

        conn = psycopg2.connect(dbname=dbname, **self.params, **kwargs)
        conn.autocommit = True
        return conn

    def connect_primary(self, dbname="postgres"):
        """An autocommit connection to the primary."""
        import psycopg2  # noqa: PLC0415

        conn = psycopg2.connect(dbname=dbname, **self.primary)
        conn.autocommit = True
        return conn

    def _query(self, sql, params=None, primary=False, dbname="postgres"):
        conn = self.connect_primary(dbname) if primary else self.connect(dbname)
        try:
            with conn.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchone()
        finally:
            conn.close()

    # ------------------------------------------------------------------
    # Life cycle
    # ------------------------------------------------------------------

    def __enter__(self):
        self.create()
        return self

    def __exit__(self, *exc):
        self.remove()

    def create(self):
        """Copy the primary, configure and start the standby; wait until it
        accepts connections in recovery."""
        self._check_primary()
        self.base = Path(
            tempfile.mkdtemp(prefix=DIR_PREFIX, dir=self._base_dir or tempfile.gettempdir())
        )
        try:
            self._chown(self.base)
            self._basebackup()
            self._configure()
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def _check_primary(self):
        import psycopg2  # noqa: PLC0415

        where = f"{self.primary['user']}@{self.primary['host']}:{self.primary['port']}"
        try:
            row = self._query(
                "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int,"
                " current_setting('server_version_num')::int / 10000",
                primary=True,
            )
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise stack.StackError(f"PostgreSQL is not reachable as {where}: {reason}") from exc
        wal_level, senders, major = row
        if wal_level not in ("replica", "logical") or senders < 1:
            raise stack.StackError(
                f"PostgreSQL at {where} cannot feed a standby (wal_level = {wal_level}, "
                f"max_wal_senders = {senders}).\nSet wal_level = replica and "
                "max_wal_senders = 10 (ALTER SYSTEM SET ...) and restart it."
            )
        self.bindir = self._find_bindir(major)
        # A replication connection, as pg_basebackup and the standby open it.
        try:
            psycopg2.connect(
                dbname="postgres", replication="true", connect_timeout=5, **self.primary
            ).close()
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise stack.StackError(
                f"PostgreSQL at {where} refuses replication connections: {reason}\n"
                "Allow them from loopback: add 'host replication all 127.0.0.1/32 trust' "
                "to the file named by SHOW hba_file, then SELECT pg_reload_conf() "
                "(.ci/run does it when it runs as root); the role needs REPLICATION "
                "(or superuser)."
            ) from exc
        # A slot left by a standby of this port that was not removed.
        self._drop_slot()

    def _drop_slot(self):
        """Drop this standby's replication slot on the primary, if it is
        there and unused (else the primary keeps its WAL forever)."""
        conn = self.connect_primary()
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                    " WHERE slot_name = %s AND NOT active",
                    [self.slot],
                )
        finally:
            conn.close()

    @staticmethod
    def _find_bindir(major):
        candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
        if shutil.which("pg_config"):
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=False
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
        if shutil.which("pg_ctl"):
            candidates.append(Path(shutil.which("pg_ctl")).parent)
        for bindir in candidates:
            if (bindir / "pg_ctl").exists() and (bindir / "pg_basebackup").exists():
                return bindir
        raise stack.StackError(
            f"no PostgreSQL {major} server binaries (pg_ctl, pg_basebackup) on this "
            f"machine (looked in {', '.join(map(str, candidates))}); install "
            f"postgresql-{major}."
        )

    def _chown(self, path):
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, *cmd, check=True, timeout=600):
        argv = [str(self.bindir / cmd[0]), *map(str, cmd[1:])]
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        env = dict(os.environ)
        if self.primary.get("password"):
            env["PGPASSWORD"] = self.primary["password"]
        result = subprocess.run(
            argv,
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode:
            log = ""
            if self.log_path and self.log_path.exists():
                log = "\n" + "\n".join(self.log_path.read_text().splitlines()[-20:])
            raise stack.StackError(
                f"{' '.join(argv)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )
        return result

    def _basebackup(self):
        self._run(
            "pg_basebackup",
            "-h",
            self.primary["host"],
            "-p",
            self.primary["port"],
            "-U",
            self.primary["user"],
            "-D",
            self.data_dir,
            "-R",  # standby.signal + primary_conninfo
            "-X",
            "stream",
            "-C",  # a permanent slot, named in primary_slot_name by -R
            "-S",
            self.slot,
            "--checkpoint=fast",
            "--no-sync",
        )

    def _configure(self):
        conn = self.connect_primary()
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                    [list(PRIMARY_MINIMUMS)],
                )
                minimums = dict(cr.fetchall())
        finally:
            conn.close()
        # A Debian primary keeps its configuration under /etc: the copy has
        # none. The copied postgresql.auto.conf, read after this file, holds
        # primary_conninfo and primary_slot_name (written by -R).
        lines = [
            f"port = {self.port}",
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.data_dir}'",
            "hot_standby = on",
            f"hba_file = '{self.data_dir / 'pg_hba.conf'}'",
            f"ident_file = '{self.data_dir / 'pg_ident.conf'}'",
            "shared_buffers = 64MB",
            # A throwaway copy: nothing to keep on a crash.
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "logging_collector = off",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            "cluster_name = 'sscale-replica'",
            "timezone = 'UTC'",
            *(f"{name} = {value}" for name, value in sorted(minimums.items())),
        ]
        (self.data_dir / "postgresql.conf").write_text("\n".join(lines) + "\n")
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        (self.data_dir / "pg_ident.conf").write_text("")
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            self._chown(self.data_dir / name)
        log = self.log_path
        log.touch()
        self._chown(log)

    def start(self):
        """Start the standby (again) and wait until it answers in recovery."""
        self._run(
            "pg_ctl",
            "-D",
            self.data_dir,
            "-l",
            self.log_path,
            "-w",
            "-t",
            self.startup_timeout,
            "start",
            timeout=self.startup_timeout + 30,
        )
        import psycopg2  # noqa: PLC0415

        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                if self._query("SELECT pg_is_in_recovery()")[0]:
                    return self
                raise stack.StackError(f"the standby on port {self.port} is not in recovery")
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, mode="fast"):
        """Stop the standby (its connections are cut); a no-op when it is
        not running."""
        if self.data_dir and (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop", check=False)
        return self

    @property
    def running(self):
        if not (self.data_dir and self.data_dir.exists()):
            return False
        return self._run("pg_ctl", "-D", self.data_dir, "status", check=False).returncode == 0

    def remove(self):
        """Stop the standby, drop its slot on the primary, delete its directory."""
        if self.base is None:
            return
        if self.bindir:
            self.stop(mode="immediate")
        try:
            self._drop_slot()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    # ------------------------------------------------------------------
    # Replication
    # ------------------------------------------------------------------

    def primary_lsn(self):
        return self._query("SELECT pg_current_wal_lsn()::text", primary=True)[0]

    def replay_lsn(self):
        return self._query("SELECT pg_last_wal_replay_lsn()::text")[0]

    def wait_for_replay(self, timeout=30, lsn=None):
        """Wait until the standby replayed the primary's current WAL position
        (or ``lsn``); returns the seconds waited. Raises TimeoutError."""
        target = lsn or self.primary_lsn()
        started = time.monotonic()
        while True:
            if self._query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[0]:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"the standby on port {self.port} did not replay {target} within "
                    f"{timeout} s (replayed {self.replay_lsn()})"
                )
            time.sleep(0.05)

    def lag(self):
        """Replay lag in seconds: 0 when the standby replayed all the WAL it
        received; None before it replayed any transaction."""
        value = self._query(LAG_QUERY)[0]
        return None if value is None else float(value)

    def pause_replay(self):
        """Stop applying WAL (it is still received): reads see this moment."""
        self._query("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 30
        while self._query("SELECT pg_get_wal_replay_pause_state()")[0] != "paused":
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not pause its replay")
            time.sleep(0.05)

    def resume_replay(self):
        self._query("SELECT pg_wal_replay_resume()")

    def cut_off(self):
        """Stop streaming from the primary, the standby staying up (as when
        the network between them fails): its received and replayed
        positions stay equal, so ``lag()`` reads 0 while it falls behind."""
        conn = self.connect()
        try:
            with conn.cursor() as cr:
                cr.execute("SHOW primary_conninfo")
                self._conninfo = cr.fetchone()[0]
                cr.execute("ALTER SYSTEM SET primary_conninfo = ''")
                cr.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()
        deadline = time.monotonic() + 30
        while self._query("SELECT COUNT(*) FROM pg_stat_wal_receiver")[0]:
            if time.monotonic() > deadline:
                raise TimeoutError("the standby's WAL receiver did not stop")
            time.sleep(0.1)

    def reconnect(self):
        """Stream from the primary again after ``cut_off()``."""
        conn = self.connect()
        try:
            with conn.cursor() as cr:
                cr.execute("ALTER SYSTEM SET primary_conninfo = %s", [self._conninfo])
                cr.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

    def stats(self, dbname):
        """Statistics of database ``dbname`` on the standby: transactions and
        scans (PostgreSQL counts them on a standby too)."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched"
                    "  FROM pg_stat_database WHERE datname = current_database()"
                )
                xacts, tuples = cr.fetchone()
                cr.execute(
                    "SELECT relname, COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)"
                    "  FROM pg_stat_user_tables WHERE relname LIKE 'sscale_rpt_%%'"
                )
                scans = dict(cr.fetchall())
        finally:
            conn.close()
        return {"xacts": xacts, "tuples": tuples, "scans": scans}
