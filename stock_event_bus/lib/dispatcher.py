# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox dispatcher: claim pending events, publish them with confirms,
mark them sent. No Odoo import (the CLI command gives it a database
connection factory and the settings).

Guarantees:

* a row becomes ``sent`` only in the transaction that follows the broker's
  confirm of its message; a crash in between publishes it again with the
  same ``event_id`` (at-least-once, duplicates are recognisable);
* claims take ``FOR UPDATE SKIP LOCKED`` by state, never by a high-water
  mark: a transaction that commits late is published when it commits;
* per (product, warehouse), events go out in sequence order, also with
  several dispatchers: a batch leaves aside the events of a key that come
  after an event another dispatcher holds (movements and levels are
  numbered and ordered apart);
* before each batch, the markers of committed level changes become LEVEL
  events of the outbox (lib/levels.py), published like the others;
* broker or database down: one log line per retry, exponential backoff,
  reconnect; SIGTERM stops it between batches.
"""

import json
import logging
import os
import select
import socket

import psycopg2
from psycopg2 import sql

from . import events, levels
from .broker import Backoff
from .publisher import NACKED, BrokerError, Publisher

_logger = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        connect_db,
        settings,
        *,
        batch_size=None,
        poll_interval=5.0,
        name=None,
        publisher=None,
    ):
        self.connect_db = connect_db
        self.settings = settings
        self.batch_size = batch_size or settings.batch_size
        self.poll_interval = poll_interval
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.publisher = publisher or Publisher(
            settings.amqp_url, settings.exchange, name=f"stock_event_dispatch {self.name}"
        )
        self.sent_total = 0
        self.nacked = 0  # events of the last batch the broker did not take
        self.last_error = None
        self._db = None
        self._levels = False
        self._listen = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # -- control ------------------------------------------------------------

    def stop(self):
        """Ask the loop to stop after the current batch (signal-safe)."""
        self._stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # -- database -------------------------------------------------------------

    def _ensure_db(self):
        if self._db is None or self._db.closed:
            self._db = self.connect_db()
            with self._db.cursor() as cr:
                cr.execute("SELECT to_regclass('stock_event_outbox')")
                if cr.fetchone()[0] is None:
                    self._db.rollback()
                    raise SystemExit(
                        "stock_event_dispatch: this database has no stock event outbox:"
                        " install the stock_event_bus module first"
                    )
                # Level events need the addon's tables of 18.0.1.4.0 (a
                # database not upgraded yet publishes movements only).
                cr.execute("SELECT to_regclass('stock_level_change') IS NOT NULL")
                self._levels = cr.fetchone()[0]
            self._db.commit()
        if self._listen is None or self._listen.closed:
            self._listen = self.connect_db()
            self._listen.autocommit = True
            with self._listen.cursor() as cr:
                cr.execute(sql.SQL("LISTEN {}").format(sql.Identifier(events.NOTIFY_CHANNEL)))

    def _close_db(self):
        for conn in (self._db, self._listen):
            if conn is not None and not conn.closed:
                try:
                    conn.close()
                except psycopg2.Error:
                    pass
        self._db = self._listen = None

    def _record_status(self, state, error=None, cr=None):
        """Write this dispatcher's state for the admin screen (in the batch's
        transaction when ``cr`` is given, else on its own)."""
        query = """
            INSERT INTO stock_event_dispatcher
                   (name, kind, state, last_error, last_seen, events_sent)
            VALUES (%(name)s, 'dispatcher', %(state)s, %(error)s, NOW() AT TIME ZONE 'UTC',
                    %(sent)s)
            ON CONFLICT (name) DO UPDATE
               SET state = EXCLUDED.state, last_error = EXCLUDED.last_error,
                   last_seen = EXCLUDED.last_seen, events_sent = EXCLUDED.events_sent
        """
        params = {"name": self.name, "state": state, "error": error, "sent": self.sent_total}
        if cr is not None:
            cr.execute(query, params)
            return
        try:
            self._ensure_db()
            with self._db.cursor() as own:
                own.execute(query, params)
            self._db.commit()
        except psycopg2.Error as exc:
            # The session is gone (a failover, a restart): say so once here;
            # the next round reconnects.
            reason = _first_line(exc)
            _logger.error("stock_event_dispatch: database unavailable: %s", reason)
            self._close_db()
        except SystemExit:
            _logger.debug("could not record the dispatcher status", exc_info=True)
            self._close_db()

    # -- level events -------------------------------------------------------------

    def materialize_levels(self):
        """Write the LEVEL events of one batch of level markers into the
        outbox, in a transaction of its own (READ COMMITTED: the levels read
        after the key locks see every commit before them). Returns the
        number of markers claimed."""
        conn = self._db
        if not self._levels:
            return 0
        try:
            with conn.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                claimed, _written = levels.materialize(cr, json.dumps, self.batch_size)
            conn.commit()
            return claimed
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise

    # -- one batch --------------------------------------------------------------

    def dispatch_batch(self):
        """Claim, publish and mark one batch. Returns ``(claimed, published,
        failed, deferred)``. On a broker error nothing of the batch is marked
        (it is published again later) and :class:`BrokerError` is raised."""
        self.nacked = 0
        conn = self._db
        try:
            with conn.cursor() as cr:
                cr.execute(
                    """
                    SELECT id, event_uuid, company_id, warehouse_id, event_type, product_id,
                           sequence, attempts, payload::text, payload->>'occurred_at',
                           payload->>'schema_version'
                      FROM stock_event_outbox
                     WHERE state = 'pending'
                     ORDER BY id
                     LIMIT %s
                       FOR UPDATE SKIP LOCKED
                    """,
                    [self.batch_size],
                )
                rows = cr.fetchall()
                if not rows:
                    conn.commit()
                    return 0, 0, 0, 0
                held_from = self._held_elsewhere(cr, rows)
                messages, failures, deferred = [], {}, 0
                for row in rows:
                    (
                        event_id_,
                        uuid_,
                        company,
                        warehouse,
                        etype,
                        product,
                        seq,
                        attempts,
                        body,
                        occurred_at,
                        version,
                    ) = row
                    if seq >= held_from.get((product, warehouse, etype == events.LEVEL), seq + 1):
                        deferred += 1
                        continue
                    # Events as the posting wrote them are valid by construction
                    # (the addon's tests check them against the schema); an
                    # event published before and queued again (a replay) may
                    # have been edited since: check it against the schema.
                    if attempts:
                        problem = check_row(uuid_, company, warehouse, etype, _loads(body))
                    elif not (occurred_at and version):
                        problem = "malformed payload: no occurred_at or schema_version"
                    else:
                        problem = None
                    if problem:
                        failures[event_id_] = problem
                        continue
                    messages.append(
                        (
                            event_id_,
                            events.routing_key(company, warehouse, etype),
                            body.encode(),
                            events.properties_of(uuid_, etype, occurred_at, version),
                            # Levels are absolute and a consumer starts from
                            # the snapshot: one that no queue is bound to
                            # for is dropped, not failed.
                            etype != events.LEVEL,
                        )
                    )
                results = self.publisher.publish(messages) if messages else {}
                sent = [key for key, reason in results.items() if reason is None]
                nacked = [key for key, reason in results.items() if reason == NACKED]
                failures.update(
                    {
                        key: reason
                        for key, reason in results.items()
                        if reason not in (None, NACKED)
                    }
                )
                if nacked:
                    # Still pending: the next rounds publish them again.
                    cr.execute(
                        """
                        UPDATE stock_event_outbox
                           SET attempts = attempts + 1, last_error = %s
                         WHERE id = ANY(%s)
                        """,
                        [NACKED, nacked],
                    )
                    _logger.warning(
                        "stock_event_dispatch %s: the broker did not take %d event(s)"
                        " (basic.nack); publishing them again",
                        self.name,
                        len(nacked),
                    )
                if sent:
                    cr.execute(
                        """
                        UPDATE stock_event_outbox
                           SET state = 'sent', sent_at = NOW() AT TIME ZONE 'UTC',
                               attempts = attempts + 1, last_error = NULL
                         WHERE id = ANY(%s)
                        """,
                        [sent],
                    )
                if failures:
                    cr.execute(
                        """
                        UPDATE stock_event_outbox o
                           SET state = 'failed', attempts = o.attempts + 1, last_error = f.reason
                          FROM unnest(%s::int[], %s::text[]) AS f(id, reason)
                         WHERE o.id = f.id
                        """,
                        [list(failures), list(failures.values())],
                    )
                    for key, reason in failures.items():
                        _logger.warning("stock event %s failed: %s", key, reason)
                self.sent_total += len(sent)
                if nacked:
                    # The status screen shows it: events wait on the broker.
                    self._record_status("broker_error", NACKED, cr=cr)
                else:
                    self._record_status("running", cr=cr)
            conn.commit()
            self.nacked = len(nacked)
            return len(rows), len(sent), len(failures), deferred
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise

    @staticmethod
    def _held_elsewhere(cr, rows):
        """Per (product, warehouse) key of the batch, the lowest sequence of a
        pending event outside the batch that comes before the batch's last
        event of that key (another dispatcher holds it: SKIP LOCKED claims
        can interleave). The batch publishes a key's events below that number
        only; the others wait for the next round, so every key goes out in
        sequence order. LEVEL events have numbers of their own: a key is
        (product, warehouse, is level). One index probe per key (pending-key
        index)."""
        last = {}
        for row in rows:
            key = (row[5], row[3], row[4] == events.LEVEL)
            last[key] = max(last.get(key, row[6]), row[6])
        cr.execute(
            """
            SELECT k.product, k.warehouse, k.level,
                   (SELECT MIN(o.sequence) FROM stock_event_outbox o
                     WHERE o.state = 'pending' AND o.product_id = k.product
                       AND o.warehouse_id = k.warehouse AND o.sequence < k.last_seq
                       AND (o.event_type = %s) = k.level
                       AND o.id <> ALL(%s))
              FROM unnest(%s::int[], %s::int[], %s::bool[], %s::int[])
                     AS k(product, warehouse, level, last_seq)
            """,
            [
                events.LEVEL,
                [row[0] for row in rows],
                [k[0] for k in last],
                [k[1] for k in last],
                [k[2] for k in last],
                list(last.values()),
            ],
        )
        return {(p, w, lv): first for p, w, lv, first in cr.fetchall() if first is not None}

    # -- the loop ----------------------------------------------------------------

    def _wait(self, timeout, notify=True):
        """Sleep until NOTIFY (when ``notify``), stop() or ``timeout``. While
        the broker connection is open, the wait runs pika's I/O loop, so the
        connection's heartbeats go on while nothing is posted (an idle
        connection would otherwise be closed by the broker)."""
        if self._stopping:
            return
        listen = self._listen if notify and self._listen is not None else None
        watched = [self._wake_r] + ([listen] if listen is not None else [])
        ready = self.publisher.wait(watched, timeout)
        if ready is None:
            ready, _w, _x = select.select(watched, [], [], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        if listen is not None and listen in ready:
            try:
                listen.poll()
                listen.notifies.clear()
            except psycopg2.Error as exc:
                # The session is gone: reconnect (and log it) on the next round.
                _logger.error("stock_event_dispatch: database unavailable: %s", exc)
                self._close_db()

    def run(self, once=False):
        """Dispatch until stopped (or, with ``once``, until nothing is left to
        claim). Returns the process exit code."""
        backoff = Backoff()
        _logger.info(
            "stock_event_dispatch %s: publishing to %s, exchange %r, batches of %s",
            self.name,
            self.settings.safe_amqp_url,
            self.settings.exchange,
            self.batch_size,
        )
        try:
            while not self._stopping:
                try:
                    if not self.publisher.connected:
                        lost = self.publisher.last_error
                        self.publisher.connect()
                        if lost:
                            # The broker closed an idle connection (a restart,
                            # a heartbeat missed while the machine was busy).
                            _logger.warning(
                                "stock_event_dispatch %s: reconnected to the broker at %s (%s)",
                                self.name,
                                self.publisher.endpoint,
                                lost,
                            )
                        else:
                            _logger.info(
                                "stock_event_dispatch %s: connected to the broker at %s",
                                self.name,
                                self.publisher.endpoint,
                            )
                    self._ensure_db()
                    markers = self.materialize_levels()
                    claimed, published, _failed, deferred = self.dispatch_batch()
                    claimed += markers
                    if self.nacked:
                        # The broker cannot take messages now (a quorum queue
                        # between two leaders): wait, then publish them again.
                        self.last_error = NACKED
                        self._wait(backoff.next(), notify=False)
                        continue
                    backoff.reset()
                    self.last_error = None
                except BrokerError as exc:
                    delay = backoff.next()
                    self.last_error = str(exc)
                    self._record_status("broker_error", self.last_error)
                    if once:
                        _logger.error("stock_event_dispatch: %s", exc)
                        return 1
                    _logger.error("stock_event_dispatch: %s; retrying in %.0f s", exc, delay)
                    self._wait(delay, notify=False)
                    continue
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    delay = backoff.next()
                    self._close_db()
                    reason = _first_line(exc)
                    self.last_error = f"database unavailable: {reason}"
                    if once:
                        _logger.error("stock_event_dispatch: database unavailable: %s", reason)
                        return 1
                    _logger.error(
                        "stock_event_dispatch: database unavailable: %s; retrying in %.0f s",
                        reason,
                        delay,
                    )
                    self._wait(delay, notify=False)
                    continue
                if claimed == 0:
                    if once:
                        break
                    # The admin screen shows the dispatcher from its start,
                    # with its last heartbeat, also while nothing is posted.
                    self._record_status("running")
                    self._wait(self.poll_interval)
                elif published == 0 and deferred:
                    # Another dispatcher holds the earlier events of these keys.
                    self._wait(0.05)
        finally:
            self._record_status("stopped", self.last_error)
            self.publisher.close()
            self._close_db()
        _logger.info(
            "stock_event_dispatch %s: stopped, %s events sent", self.name, self.sent_total
        )
        return 0


def _first_line(exc):
    """The first line of a database error's message (or its repr)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


def _loads(body):
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def check_row(event_uuid, company_id, warehouse_id, event_type, payload):
    """Why an outbox row cannot be published as it is (schema and columns
    must agree), or None."""
    if not isinstance(payload, dict):
        return "malformed payload: not a JSON object"
    try:
        events.validate(payload)
    except events.PayloadError as exc:
        return f"malformed payload: {exc}"
    mismatched = [
        name
        for name, column in (
            ("event_id", event_uuid),
            ("company_id", company_id),
            ("warehouse_id", warehouse_id),
            ("event_type", event_type),
        )
        if payload.get(name) != column
    ]
    if mismatched:
        return "malformed payload: " + ", ".join(mismatched) + " differ from the outbox row"
    return None
