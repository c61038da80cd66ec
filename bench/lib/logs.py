# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Odoo processes a benchmark starts beside odoo-bin, each with its log
file, and what Odoo's and PostgreSQL's logs say of a load: retries,
fallbacks, tracebacks, serialization failures and deadlocks."""

import collections
import os
import re
from pathlib import Path

from tests.harness import processes, stack

from .data import query as sql

# Odoo's RPC layer (odoo/service/model.py, retrying()) logs each retried
# concurrency failure at INFO: "SERIALIZATION_FAILURE, 4 tries left, try
# again in 0.1234 sec..." and gives up with "..., maximum number of tries
# reached!"; odoo/http.py logs a read-only request that wrote (replayed on
# the primary); the command runner logs the commands it gave up on.
LOG_PATTERNS = {
    "retried (serialization failure)": re.compile(r"SERIALIZATION_FAILURE, \d+ tries left"),
    "retried (deadlock)": re.compile(r"DEADLOCK_DETECTED, \d+ tries left"),
    "retried (lock not available)": re.compile(r"LOCK_NOT_AVAILABLE, \d+ tries left"),
    "gave up after 5 tries": re.compile(r"maximum number of tries reached"),
    "read-only request replayed read/write": re.compile(r"retrying with a read/write cursor"),
    "commands answered in_progress after 10 tries": re.compile(r"answered in_progress"),
    "tracebacks": re.compile(r"^Traceback", re.M),
}


class PostgresLog:
    """The concurrency errors PostgreSQL logged for one database while a
    phase ran (its server log, when this machine's Debian cluster writes one
    we can read): every serialization failure and deadlock, including the
    command runner's replays, which it does not log itself."""

    PATTERNS = {
        "serialization failures (PostgreSQL log)": "ERROR:  could not serialize access",
        "deadlocks (PostgreSQL log)": "ERROR:  deadlock detected",
    }

    def __init__(self, dbname):
        self.dbname = dbname
        (major,) = sql(
            "postgres", "SELECT current_setting('server_version_num')::int / 10000", one=True
        )
        self.path = Path(
            os.environ.get("PGLOG", f"/var/log/postgresql/postgresql-{major}-main.log")
        )
        self.offset = self.path.stat().st_size if self.path.is_file() else None

    def counts(self):
        if self.offset is None:
            return {}
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
        mine = [line for line in text.splitlines() if f"@{self.dbname} " in line]
        return {
            label: sum(pattern in line for line in mine)
            for label, pattern in self.PATTERNS.items()
        }


def log_counts(paths):
    counts = collections.Counter()
    for path in paths:
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        for label, pattern in LOG_PATTERNS.items():
            counts[label] += len(pattern.findall(text))
    return dict(counts)


def start_process(cmd, log):
    """Run ``cmd`` (an Odoo command: the dispatcher, the command consumer)
    with its output in the file ``log``; the process knows it as
    ``log_path``."""
    return processes.start(cmd, log, env=stack.odoo_env())
