# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""When the reports are read from a replica, and how far behind it is.

With ``db_replica_host`` set, Odoo 18 runs read-only calls (the reports'
``web_read_group``, ``read_group``, ``web_search_read``...) on the replica,
a PostgreSQL hot standby. A report there is exact as of the last transaction
the standby replayed: the materialized views and the journal of later
postings come through the WAL together, so the view-plus-journal sum is the
primary's ledger at that commit. When the standby lags, the report's title
says as of when (``_action_open_report``); otherwise it is left alone.

How far behind: the primary's WAL position, read when the report is opened
(after everything the user posted), against what the standby replayed. A
standby that replayed up to there holds every posting the user could know
of. One that did not shows the figures as of its last replayed commit
(``pg_last_xact_replay_timestamp()``, the commit's time on the primary,
compared with the primary's clock). A gap of a second or less is not shown:
a standby that keeps up trails by milliseconds. This also catches a standby
that lost its primary: its own received and replayed positions are then
usually equal, so the usual standby-only lag query (``pg_last_wal_receive_lsn()
= pg_last_wal_replay_lsn()``, else the age of the last replayed commit)
reads 0 while it falls behind.
"""

import datetime

# Below this many seconds behind, the title is left alone.
LAG_THRESHOLD = 1.0

# On the primary (the action's own cursor).
PRIMARY_POSITION = "SELECT pg_is_in_recovery(), pg_current_wal_lsn()::text"
# On the read-only cursor, with the primary's position as parameter.
REPLICA_POSITION = (
    "SELECT pg_is_in_recovery(), "
    "COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, FALSE), "
    "pg_last_xact_replay_timestamp()"
)


def stale_as_of(in_recovery, caught_up, replayed_at, now, threshold=LAG_THRESHOLD):
    """The moment a replica's figures are exact as of, or None when they are
    current (or not from a replica).

    :param in_recovery: whether the read-only cursor is on a standby
        (``pg_is_in_recovery()``); False when Odoo fell back to the primary
    :param caught_up: whether the standby replayed the primary's WAL
        position taken when the report was opened
    :param replayed_at: aware datetime of the last transaction the standby
        replayed, or None (none since it started: unknown, not shown)
    :param now: aware datetime, the primary's clock
    :param threshold: seconds behind that are not worth saying
    """
    if not in_recovery or caught_up or replayed_at is None:
        return None
    if (now - replayed_at).total_seconds() <= threshold:
        return None
    return replayed_at


def as_of_label(replayed_at, today, date_format, time_format):
    """How to write ``replayed_at`` (a naive datetime in the reader's time
    zone) with the reader's language's formats: the time alone on ``today``
    (a date in the same zone), with the date on another day."""
    if replayed_at.date() == today:
        return replayed_at.strftime(time_format)
    return replayed_at.strftime(f"{date_format} {time_format}")


def utc(value):
    """``value`` as an aware UTC datetime (psycopg2 gives aware ones for
    timestamptz; naive ones are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)
