# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Keep a projection (lib/projection.py) equal to Odoo's stock levels:
bootstrap from the snapshot, then follow the level events; and reconcile
it with a fresh snapshot. No Odoo import.

:meth:`Sync.run`, in this order:

1. declare the sync's queue and bind it to ``stock_level.#`` (or
   ``stock_level.<company>.*``, ``stock_level.*.<warehouse>``) FIRST: from
   then on every level event of the scope waits in the queue;
2. bootstrap: read one snapshot page after page and apply its rows
   (:meth:`Projection.apply_snapshot`, one commit per page), logging
   pages, keys and rate;
3. follow the queue with :class:`~.consumer.StockEventConsumer` (manual
   acks, dead letters, cluster URLs): the LEVEL events that arrived
   together (up to ``batch_size``, within 50 ms) are applied in ONE local
   transaction, committed, then acked (one commit per event would cap a
   SQLite projection at its disk's fsyncs per second). The events queued
   during the bootstrap come now; those older than the snapshot change
   nothing (their sequence is not higher), the newer ones win.

Bad input never reaches the projection: a message that is not JSON, not a
LEVEL event, of an unknown schema version or outside the schema is dead-
lettered with its reason (``x-poison-reason``, and a warning in the log). A
level whose sequence is more than ``max_gap`` ahead of the stored one (a
queue that dropped messages at its length limit, a restored backup of the
projection, or a forged message) is dead-lettered too, and its warehouse is
resynced from a fresh snapshot: the projection takes Odoo's levels, never
the suspicious message's.
"""

import hashlib
import logging
import socket
import time

from . import snapshot_client
from .consumer import PoisonMessage, StockEventConsumer
from .events import LEVEL
from .projection import QUANTITIES
from .snapshot import MAX_ID

_logger = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "stock.events"
DEFAULT_MAX_GAP = 100_000
DEFAULT_BATCH = 500  # events applied in one local transaction, then acked
PROGRESS_EVERY = 5.0  # seconds between two progress lines while following


def binding_keys(company_id=None, warehouse_id=None):
    """The routing keys of the level events of a scope.

    >>> binding_keys(), binding_keys(company_id=1), binding_keys(warehouse_id=3)
    (['stock_level.#'], ['stock_level.1.*'], ['stock_level.*.3'])
    """
    if warehouse_id is not None:
        return [f"stock_level.*.{warehouse_id}"]
    if company_id is not None:
        return [f"stock_level.{company_id}.*"]
    return ["stock_level.#"]


def default_queue(db_url, company_id=None, warehouse_id=None):
    """The queue of a sync when none is given: the same for the same host,
    projection and scope, so a restarted sync finds the events that waited
    for it.

    >>> default_queue("sqlite:///levels.db").startswith("stock-events.")
    True
    >>> default_queue("sqlite:///a.db") != default_queue("sqlite:///b.db")
    True
    """
    digest = hashlib.sha256(f"{db_url}|{company_id}|{warehouse_id}".encode()).hexdigest()[:10]
    return f"stock-events.{socket.gethostname()}.{digest}"


def key_text(level):
    code = f" [{level['default_code']}]" if level.get("default_code") else ""
    return f"product {level['product_id']}{code} warehouse {level['warehouse_id']}"


def levels_text(level):
    """``seq 17 on_hand 10 reserved 3 available 7`` (None: missing).

    >>> levels_text({"sequence": 17, "on_hand": 10.0, "reserved": 3.0, "available": 7.0})
    'seq 17 on_hand 10 reserved 3 available 7'
    """
    if level is None:
        return "missing"
    return f"seq {level['sequence']} " + " ".join(f"{q} {level[q]:g}" for q in QUANTITIES)


def differs(stored, level):
    """Whether a stored row and a level disagree on sequence or quantities."""
    return stored is None or any(stored[f] != level[f] for f in ("sequence", *QUANTITIES))


class Sync:
    """One projection kept in sync with one Odoo (see the module's doc).

    ``projection``: a :class:`~.projection.Projection`; ``snapshots``: a
    :class:`~.snapshot_client.SnapshotClient`; ``amqp_url`` (one URL or a
    cluster's, comma-separated) and ``queue``: where the events come from;
    ``company_id`` / ``warehouse_id``: the scope (default: every warehouse
    of the API key's user)."""

    def __init__(
        self,
        projection,
        snapshots,
        *,
        amqp_url=None,
        queue=None,
        exchange=DEFAULT_EXCHANGE,
        company_id=None,
        warehouse_id=None,
        max_gap=DEFAULT_MAX_GAP,
        page_size=snapshot_client.DEFAULT_LIMIT,
        batch_size=DEFAULT_BATCH,
        queue_type="quorum",
    ):
        if company_id is not None and warehouse_id is not None:
            raise ValueError("give a company or a warehouse, not both")
        self.projection = projection
        self.snapshots = snapshots
        self.company_id = company_id
        self.warehouse_id = warehouse_id
        self.max_gap = max_gap
        self.page_size = page_size
        self.batch_size = batch_size
        self.consumer = None
        if amqp_url:
            self.consumer = StockEventConsumer(
                amqp_url,
                queue or default_queue(projection.url, company_id, warehouse_id),
                exchange=exchange,
                binding_keys=binding_keys(company_id, warehouse_id),
                prefetch=2 * batch_size,  # the next batch arrives while one is applied
                queue_type=queue_type,
            )
        self.stats = {"applied": 0, "unchanged": 0, "resyncs": 0}
        self._stopping = False
        self._last_progress = time.monotonic()
        self._last_counters = None

    @property
    def scope(self):
        if self.warehouse_id is not None:
            return {"warehouse_id": self.warehouse_id}
        if self.company_id is not None:
            return {"company_id": self.company_id}
        return {}

    def stop(self):
        """Stop between two messages or two pages (a signal handler may
        call it)."""
        self._stopping = True
        if self.consumer is not None:
            self.consumer.stop()

    # 1. bind, 2. bootstrap, 3. follow ------------------------------------

    def run(self, *, bootstrap=True):
        """Bind the queue, bootstrap (unless ``bootstrap=False``), follow
        until :meth:`stop`."""
        self.connect()
        if bootstrap and not self._stopping:
            self.bootstrap()
        if not self._stopping:
            self.follow()

    def connect(self):
        """Declare the queue (and its dead letters' queue) and bind it: the
        events from now on wait there for :meth:`follow`."""
        self.consumer.connect()
        _logger.info(
            "queue %s bound to %s on exchange %s (dead letters: %s)",
            self.consumer.queue,
            ", ".join(self.consumer.binding_keys),
            self.consumer.exchange,
            self.consumer.dead_letter_queue,
        )

    def bootstrap(self, scope=None, what="bootstrap"):
        """Apply one fresh snapshot (of ``scope``, default the sync's), page
        by page, one commit per page; logs a progress line per page. Returns
        ``{"snapshot", "taken_at", "pages", "keys", "changed", "seconds"}``."""
        scope = self.scope if scope is None else scope
        started = time.monotonic()
        result = {"snapshot": None, "taken_at": None, "pages": 0, "keys": 0, "changed": 0}
        for page in self.snapshots.pages(limit=self.page_size, **scope):
            result["snapshot"], result["taken_at"] = page["snapshot"], page.get("taken_at")
            result["changed"] += self.projection.apply_snapshot(page["levels"])
            result["pages"] += 1
            result["keys"] += len(page["levels"])
            elapsed = time.monotonic() - started
            _logger.info(
                "%s: snapshot %s, page %d, %d/%d keys (%d%%), %d changed, %.0f keys/s",
                what,
                page["snapshot"],
                result["pages"],
                result["keys"],
                page["total"],
                100 * result["keys"] // max(page["total"], 1),
                result["changed"],
                result["keys"] / elapsed if elapsed > 0 else 0,
            )
            if self.consumer is not None:
                self.consumer.process_events()  # heartbeats of the bound queue
            if self._stopping:
                _logger.info("%s: stopped after page %d", what, result["pages"])
                break
        result["seconds"] = round(time.monotonic() - started, 3)
        if result["snapshot"] and not self._stopping:
            self.projection.set_state(
                **{f"{what}_snapshot": result["snapshot"], f"{what}_taken_at": result["taken_at"]}
            )
        _logger.info(
            "%s done: %d keys in %d pages, %d changed, %.1f s",
            what,
            result["keys"],
            result["pages"],
            result["changed"],
            result["seconds"],
        )
        return result

    def follow(self, *, max_messages=None, inactivity_timeout=1):
        """Apply the queue's level events until :meth:`stop` (or
        ``max_messages`` handled)."""
        _logger.info("following queue %s", self.consumer.queue)
        handled = 0
        while not self._stopping:
            handled += self.consumer.run_batches(
                self.handle_batch,
                batch_size=self.batch_size,
                max_messages=None if max_messages is None else max_messages - handled,
                inactivity_timeout=inactivity_timeout,
            )
            self._progress()
            if max_messages is not None and handled >= max_messages:
                break
        _logger.info("stopped: %s", self._counters())
        return handled

    def _counters(self):
        counts = dict(self.stats)
        counts["dead_lettered"] = self.consumer.stats["dead_lettered"]
        counts["duplicates"] = self.consumer.stats["duplicates"]
        return ", ".join(f"{k} {v}" for k, v in counts.items())

    def _progress(self):
        """A line every PROGRESS_EVERY seconds while events come (none while idle)."""
        if time.monotonic() - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = time.monotonic()
            counters = self._counters()
            if counters != self._last_counters:
                self._last_counters = counters
                _logger.info("following: %s", counters)

    def handle(self, event):
        """Apply one event (validated against its schema by the consumer)
        in one local transaction; raises :class:`PoisonMessage` for what
        must not be applied (:meth:`handle_batch` of one event)."""
        refused = self.handle_batch([event])
        if refused:
            raise PoisonMessage(refused[event["event_id"]])

    def handle_batch(self, events):
        """Apply events (validated against their schema by the consumer) in
        ONE local transaction, committed before the consumer acks them all.
        Returns ``{event_id: reason}`` of the events refused (dead-lettered
        by the consumer): not a LEVEL event, outside the sync's scope, or a
        sequence more than ``max_gap`` ahead of the stored one (its
        warehouse is then resynced from a fresh snapshot)."""
        refused, levels = {}, []
        for event in events:
            if event.get("event_type") != LEVEL:
                refused[event["event_id"]] = (
                    f"not a LEVEL event ({event.get('event_type')!r}): bind this queue to"
                    " stock_level.# only"
                )
            elif max(event["company_id"], event["warehouse_id"], event["product_id"]) > MAX_ID:
                refused[event["event_id"]] = f"{key_text(event)}: an id beyond Odoo's {MAX_ID}"
            elif (
                self.warehouse_id is not None and event["warehouse_id"] != self.warehouse_id
            ) or (self.company_id is not None and event["company_id"] != self.company_id):
                refused[event["event_id"]] = (
                    f"{key_text(event)}: outside this sync's scope {self.scope}"
                )
            else:
                levels.append(event)
        # This process is the stream's only writer: the sequences read here
        # are still the stored ones when the batch is applied.
        stored = self.projection.sequences(
            (level["product_id"], level["warehouse_id"]) for level in levels
        )
        ahead = [
            level
            for level in levels
            if level["sequence"] - stored.get((level["product_id"], level["warehouse_id"]), 0)
            > self.max_gap
        ]
        ahead_ids = {event["event_id"] for event in ahead}
        levels = [level for level in levels if level["event_id"] not in ahead_ids]
        if levels:
            changed = self.projection.apply_many(levels, batch_size=len(levels))
            self.stats["applied"] += changed
            self.stats["unchanged"] += len(levels) - changed
            for level in levels:
                _logger.debug("%s: %s", key_text(level), levels_text(level))
        for event in ahead:
            stored_sequence = stored.get((event["product_id"], event["warehouse_id"]), 0)
            self.resync(event, stored_sequence)
            refused[event["event_id"]] = (
                f"{key_text(event)}: sequence {event['sequence']} is"
                f" {event['sequence'] - stored_sequence} ahead of the projection's"
                f" {stored_sequence} (more than max_gap {self.max_gap}); warehouse"
                f" {event['warehouse_id']} resynced from a snapshot instead"
            )
        self._progress()
        return refused

    def resync(self, event, stored_sequence):
        """Apply a fresh snapshot of ``event``'s warehouse (the projection
        then holds Odoo's levels, whatever the event said). A failure (Odoo
        unreachable) raises: the consumer requeues the event, after a pause
        so that a down Odoo is not asked in a tight loop."""
        _logger.warning(
            "%s: sequence %d is more than %d ahead of %d; resync of warehouse %d",
            key_text(event),
            event["sequence"],
            self.max_gap,
            stored_sequence,
            event["warehouse_id"],
        )
        try:
            self.bootstrap({"warehouse_id": event["warehouse_id"]}, what="resync")
        except snapshot_client.SnapshotError as exc:
            _logger.error("resync failed: %s; the event is requeued", exc)
            time.sleep(5)
            raise
        self.stats["resyncs"] += 1
        now = self.projection.get(event["product_id"], event["warehouse_id"])
        _logger.warning("%s: after the resync: %s", key_text(event), levels_text(now))


def reconcile(projection, snapshots, *, company_id=None, warehouse_id=None, page_size=None, out):
    """Compare the projection with a fresh snapshot of the scope, repair it,
    and write one line per key that differed to ``out`` (a callable taking a
    line). Returns ``(keys compared, differed, repaired)``.

    Per key, the snapshot (sequence s) and the stored row (sequence p,
    read after the snapshot was taken):

    - p < s, or missing: the projection is behind (lost events): repaired;
    - p == s with other quantities: the row was changed (by hand, a bug):
      repaired;
    - p > s, or a stored key the snapshot lacks: an event newer than the
      snapshot, or a wrong row. A second snapshot of those keys'
      warehouses, taken after the rows were read, decides: a row whose
      sequence is still ahead of Odoo's is wrong (no event can carry a
      sequence Odoo has not reached), and is replaced (or deleted when Odoo
      has no such key); otherwise it is newer and kept.

    Repairs are conditional (a snapshot row wins when its sequence is
    higher or equal; a replacement only if the row still has the sequence
    read): a sync running meanwhile is never overwritten with older levels."""
    scope = {"company_id": company_id} if company_id is not None else {}
    if warehouse_id is not None:
        scope = {"warehouse_id": warehouse_id}
    limit = {"limit": page_size} if page_size else {}
    first = {}
    snapshot_id = None
    for page in snapshots.pages(**limit, **scope):
        snapshot_id = page["snapshot"]
        for level in page["levels"]:
            first[level["product_id"], level["warehouse_id"]] = level
    stored = projection.levels(company_id=company_id, warehouse_id=warehouse_id)
    differed = repaired = 0

    def report(key, row, odoo, outcome):
        out(
            f"{key_text(odoo or row)}: projection {levels_text(row)} | Odoo {levels_text(odoo)}"
            f" -> {outcome}"
        )

    ahead = []
    for key in sorted(set(first) | set(stored)):
        level, row = first.get(key), stored.get(key)
        if level is None or (row is not None and row["sequence"] > level["sequence"]):
            ahead.append(key)
        elif differs(row, level):
            differed += 1
            done = projection.apply_snapshot_row(level)
            repaired += done
            report(key, row, level, "repaired" if done else "changed meanwhile, left as is")
    if ahead:
        second = {}
        for wh in sorted({key[1] for key in ahead}):
            for level in snapshots.levels(**limit, warehouse_id=wh):
                second[level["product_id"], level["warehouse_id"]] = level
        for key in ahead:
            level, row = second.get(key), stored[key]
            if level is not None and row["sequence"] < level["sequence"]:
                continue  # newer than the first snapshot, older than now: the stream's
            if level is not None and not differs(row, level):
                continue
            differed += 1
            if level is None:
                done = projection.delete(*key, row["sequence"])
                outcome = "deleted (Odoo has no such key)"
            else:
                done = projection.replace(level, row["sequence"])
                outcome = "replaced"
            repaired += done
            report(key, row, level, outcome if done else "changed meanwhile, left as is")
    out(
        f"reconcile: snapshot {snapshot_id}: {len(first)} keys in Odoo, {len(stored)} in the"
        f" projection, {differed} differed, {repaired} repaired"
    )
    return len(set(first) | set(stored)), differed, repaired
