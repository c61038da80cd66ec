# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client package's projection (stock_event_bus/lib/projection.py) on a
real SQLite file and a real PostgreSQL database: duplicates, older and newer
levels, skipped sequences, snapshot rows, batches, the commit before the
ack; the sync's gap rule (lib/sync.py: a level far ahead is refused and its
warehouse resynced) and reconcile finding a tampered row.

The snapshot here is a list of pages in memory (``Pages``): these tests are
about the rules on the client's side; tests/test_stock_events_sync.py runs
the same code against Odoo's real snapshot route."""

import datetime
import doctest
import json
import logging
import sqlite3
import time
import uuid

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import (
    cli,
    consumer,
    events,
    projection,
    snapshot_client,
    sync,
)

from tests.harness import amqp, stack


def level(product_id=1, warehouse_id=1, sequence=1, on_hand=10.0, reserved=0.0, **extra):
    return {
        "company_id": 1,
        "warehouse_id": warehouse_id,
        "product_id": product_id,
        "default_code": f"P{product_id}",
        "barcode": None,
        "sequence": sequence,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "uom": "Units",
        **extra,
    }


def event(**kwargs):
    return dict(
        level(**kwargs),
        schema_version="1.0",
        event_id=str(uuid.uuid4()),
        event_type="LEVEL",
        occurred_at="2026-12-07T10:05:31Z",
    )


class Pages:
    """Snapshot pages from a dict of levels (keyed by (product, warehouse)),
    with the interface of snapshot_client.SnapshotClient."""

    def __init__(self, levels, size=2):
        self.current = {(lv["product_id"], lv["warehouse_id"]): lv for lv in levels}
        self.size = size
        self.taken = 0

    def pages(self, company_id=None, warehouse_id=None, limit=None):
        self.taken += 1
        rows = [
            dict(lv)
            for key, lv in sorted(self.current.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            if warehouse_id in (None, key[1]) and company_id in (None, lv["company_id"])
        ]
        size = limit or self.size
        snapshot = str(uuid.uuid4())
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
        for number, chunk in enumerate(chunks):
            yield {
                "schema_version": "1.0",
                "snapshot": snapshot,
                "taken_at": "2026-12-07T10:05:31Z",
                "company_id": company_id,
                "warehouse_id": warehouse_id,
                "total": len(rows),
                "levels": chunk,
                "next": None if number == len(chunks) - 1 else str(number),
            }

    def levels(self, **scope):
        for page in self.pages(**scope):
            yield from page["levels"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The URL of an empty projection database: a SQLite file, or a
    PostgreSQL database of its own (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'levels.db'}"
        return
    request.getfixturevalue("harness")  # skips outside scripts/run-tests
    name = f"{request.getfixturevalue('harness')['prefix']}proj_{uuid.uuid4().hex[:8]}"
    conn = stack.connect()
    with conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    params = stack.pg_params()
    password = f":{params['password']}" if params["password"] else ""
    yield f"postgresql://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    stack.drop_database(name)


@pytest.fixture
def proj(db_url):
    p = projection.Projection(db_url)
    yield p
    p.close()


def quantities(row):
    return row["sequence"], row["on_hand"], row["reserved"], row["available"]


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestProjection:
    def test_duplicates_and_older_levels_change_nothing(self, proj, db_url):
        """A duplicate (same sequence) or an older level changes nothing; a
        newer one wins, also when sequences were skipped; another connection
        sees each change once apply() returned (committed)."""
        assert proj.apply(level(sequence=5, on_hand=10, reserved=2))
        assert not proj.apply(level(sequence=5, on_hand=10, reserved=2))
        assert not proj.apply(level(sequence=5, on_hand=99))  # same sequence, other values
        assert not proj.apply(level(sequence=4, on_hand=1))
        other = projection.Projection(db_url)
        try:
            assert quantities(other.get(1, 1)) == (5, 10, 2, 8)
            assert proj.apply(level(sequence=9, on_hand=7, reserved=3))  # 6..8 skipped
            assert quantities(other.get(1, 1)) == (9, 7, 3, 4)
        finally:
            other.close()
        assert not proj.apply(level(sequence=8, on_hand=1000))
        assert quantities(proj.get(1, 1)) == (9, 7, 3, 4)
        assert proj.get(1, 2) is None
        assert proj.count() == 1

    def test_keys_are_product_and_warehouse(self, proj):
        """The same product in two warehouses is two rows with their own
        sequences."""
        assert proj.apply(level(product_id=3, warehouse_id=1, sequence=10, on_hand=1))
        assert proj.apply(level(product_id=3, warehouse_id=2, sequence=1, on_hand=2))
        assert not proj.apply(level(product_id=3, warehouse_id=1, sequence=2, on_hand=5))
        rows = proj.levels()
        assert {key: quantities(r) for key, r in rows.items()} == {
            (3, 1): (10, 1, 0, 1),
            (3, 2): (1, 2, 0, 2),
        }
        assert set(proj.levels(warehouse_id=2)) == {(3, 2)}
        assert set(proj.levels(company_id=2)) == set()

    def test_snapshot_rows(self, proj):
        """A snapshot row replaces a stored row of a lower or equal sequence
        (equal: when its quantities differ), never a higher one; sequence 0
        (no level event yet) inserts."""
        proj.apply(level(product_id=1, sequence=5, on_hand=10))
        proj.apply(level(product_id=2, sequence=5, on_hand=10))
        proj.apply(level(product_id=3, sequence=5, on_hand=10))
        assert not proj.apply_snapshot_row(level(product_id=1, sequence=4, on_hand=1))
        assert not proj.apply_snapshot_row(level(product_id=1, sequence=5, on_hand=10))
        assert proj.apply_snapshot_row(level(product_id=1, sequence=5, on_hand=10, reserved=4))
        changed = proj.apply_snapshot(
            [
                level(product_id=2, sequence=6, on_hand=20),
                level(product_id=3, sequence=1, on_hand=30),
                level(product_id=4, sequence=0, on_hand=40),
            ]
        )
        assert changed == 2
        rows = {key[0]: quantities(r) for key, r in proj.levels().items()}
        assert rows == {
            1: (5, 10, 4, 6),
            2: (6, 20, 0, 20),
            3: (5, 10, 0, 10),
            4: (0, 40, 0, 40),
        }
        # A level event of sequence 1 beats the snapshot's 0.
        assert proj.apply(level(product_id=4, sequence=1, on_hand=39))

    def test_batches_commit_each_and_keep_the_highest(self, proj, db_url):
        """apply_many commits batch by batch; within a batch a key's highest
        sequence wins whatever the order; a batch that fails is rolled back
        whole while the batches before it stay committed."""
        levels = [level(product_id=p, sequence=s, on_hand=s) for s in (3, 1, 2) for p in (1, 2)]
        assert proj.apply_many(levels, batch_size=4) == 2
        assert {k[0]: r["sequence"] for k, r in proj.levels().items()} == {1: 3, 2: 3}
        broken = [level(product_id=10, sequence=1), level(product_id=11, sequence=1)]
        del broken[1]["uom"]
        with pytest.raises(ValueError, match="uom"):
            proj.apply_many([level(product_id=9, sequence=1), *broken], batch_size=1)
        other = projection.Projection(db_url)
        try:
            assert set(other.levels()) == {(1, 1), (2, 1), (9, 1), (10, 1)}
        finally:
            other.close()

    def test_compare_and_set(self, proj):
        """replace() and delete() act only on the row of the sequence read."""
        proj.apply(level(sequence=7, on_hand=5))
        assert not proj.replace(level(sequence=3, on_hand=1), expected_sequence=6)
        assert proj.replace(level(sequence=3, on_hand=1), expected_sequence=7)
        assert quantities(proj.get(1, 1)) == (3, 1, 0, 1)
        assert not proj.delete(1, 1, 7)
        assert proj.delete(1, 1, 3)
        assert proj.get(1, 1) is None

    def test_bad_urls_say_what_is_wrong(self, tmp_path):
        """An unknown scheme, a missing folder, an unreachable server: one
        clear error each, password masked."""
        cases = [
            ("mysql://shop:secret@db/levels", "unknown projection database"),
            (f"sqlite:///{tmp_path}/missing/levels.db", "no folder"),
            ("sqlite://", "no file"),
            ("postgresql://shop:secret@127.0.0.1:1/levels", "cannot connect"),
        ]
        for url, message in cases:
            with pytest.raises(projection.ProjectionError, match=message) as info:
                projection.Projection(url)
            assert "secret" not in str(info.value)

    def test_sqlite_file_is_readable_by_the_shop(self, tmp_path):
        """The SQLite file is a plain table any program reads (WAL mode)."""
        path = tmp_path / "shop.db"
        with projection.Projection(f"sqlite:///{path}") as proj:
            proj.apply(level(product_id=42, on_hand=3, reserved=1, sequence=2))
            conn = sqlite3.connect(path)
            try:
                assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
                assert conn.execute(
                    "SELECT available FROM stock_levels WHERE product_id = 42 AND warehouse_id = 1"
                ).fetchall() == [(2.0,)]
            finally:
                conn.close()


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.committed
class TestSyncRules:
    def test_bootstrap_then_events(self, proj):
        """Bootstrap applies the snapshot page by page; events queued
        meanwhile apply after it: older ones change nothing, newer ones win."""
        odoo = Pages([level(product_id=p, sequence=4, on_hand=p) for p in range(1, 6)])
        s = sync.Sync(proj, odoo, page_size=2)
        result = s.bootstrap()
        assert (result["pages"], result["keys"], result["changed"]) == (3, 5, 5)
        assert proj.state()["bootstrap_snapshot"] == result["snapshot"]
        s.handle(event(product_id=1, sequence=3, on_hand=100))  # before the snapshot
        s.handle(event(product_id=2, sequence=4, on_hand=100))  # the snapshot's own
        s.handle(event(product_id=3, sequence=5, on_hand=100))  # after it
        assert s.stats == {"applied": 1, "unchanged": 2, "resyncs": 0}
        assert {k[0]: r["on_hand"] for k, r in proj.levels().items()} == {
            1: 1,
            2: 2,
            3: 100,
            4: 4,
            5: 5,
        }

    def test_far_ahead_sequence_is_refused_and_resynced(self, proj):
        """A level more than max_gap ahead of the stored one is refused
        (PoisonMessage: the consumer dead-letters it) and its warehouse is
        resynced from a fresh snapshot: the projection takes Odoo's levels,
        never the message's."""
        odoo = Pages([level(product_id=1, sequence=10, on_hand=5), level(product_id=2)])
        s = sync.Sync(proj, odoo, max_gap=100)
        s.bootstrap()
        assert proj.apply(level(product_id=2, sequence=2, on_hand=7))  # via the stream
        odoo.current[1, 1] = level(product_id=1, sequence=12, on_hand=6)  # Odoo moved on
        with pytest.raises(consumer.PoisonMessage, match="ahead of the projection's 10"):
            s.handle(event(product_id=1, sequence=1_000_000, on_hand=-999))
        assert quantities(proj.get(1, 1)) == (12, 6, 0, 6)
        assert quantities(proj.get(2, 1)) == (2, 7, 0, 7)  # the stream's newer level stays
        assert s.stats["resyncs"] == 1
        s.handle(event(product_id=1, sequence=12 + 100, on_hand=8))  # within the gap
        assert quantities(proj.get(1, 1)) == (112, 8, 0, 8)

    def test_movement_events_and_other_scopes_are_refused(self, proj):
        """A movement event, or a level outside the sync's warehouse, is
        refused and changes nothing."""
        s = sync.Sync(proj, Pages([]), warehouse_id=1)
        with pytest.raises(consumer.PoisonMessage, match="not a LEVEL event"):
            s.handle(dict(event(), event_type="SALE"))
        with pytest.raises(consumer.PoisonMessage, match="outside"):
            s.handle(event(warehouse_id=2))
        assert proj.count() == 0

    def test_reconcile_finds_and_repairs(self, proj):
        """reconcile reports and repairs a tampered row, a missing one, one
        behind Odoo, one whose sequence is ahead of Odoo's and one Odoo does
        not have; a row newer than the first snapshot (the stream was
        faster) is kept; a second run finds nothing."""
        odoo = Pages([level(product_id=p, sequence=5, on_hand=10) for p in range(1, 7)])
        s = sync.Sync(proj, odoo)
        s.bootstrap()
        with proj._transaction() as cr:  # pylint: disable=protected-access
            cr.execute("UPDATE stock_levels SET available = 99 WHERE product_id = 1")
            cr.execute("DELETE FROM stock_levels WHERE product_id = 2")
            cr.execute("UPDATE stock_levels SET sequence = 4, on_hand = 3 WHERE product_id = 3")
            cr.execute("UPDATE stock_levels SET sequence = 900 WHERE product_id = 4")
        proj.apply(level(product_id=77, sequence=3))
        proj.apply(level(product_id=5, sequence=6, on_hand=11))
        odoo_newer = Pages(list(odoo.current.values()))
        # Odoo reached sequence 6 of product 5 after the first snapshot.
        snaps = iter([odoo, odoo_newer])
        odoo_newer.current[5, 1] = level(product_id=5, sequence=6, on_hand=11)

        class TwoSnapshots:
            def pages(self, **kw):
                return next(snaps).pages(**kw)

            def levels(self, **kw):
                return next(snaps).levels(**kw)

        lines = []
        _count, differed, repaired = sync.reconcile(proj, TwoSnapshots(), out=lines.append)
        assert (differed, repaired) == (5, 5), lines
        text = "\n".join(lines)
        assert "product 1 [P1] warehouse 1: projection seq 5 on_hand 10 reserved 0" in text
        assert "available 99 | Odoo seq 5 on_hand 10 reserved 0 available 10" in text
        assert "product 2 [P2] warehouse 1: projection missing | Odoo seq 5" in text
        assert "projection seq 900" in text and "replaced" in text
        assert "product 77 [P77] warehouse 1: projection seq 3" in text
        assert "Odoo missing -> deleted" in text
        assert "product 5 " not in text
        assert lines[-1].endswith("5 differed, 5 repaired")
        assert {k[0]: quantities(r) for k, r in proj.levels().items()} == {
            1: (5, 10, 0, 10),
            2: (5, 10, 0, 10),
            3: (5, 10, 0, 10),
            4: (5, 10, 0, 10),
            5: (6, 11, 0, 11),
            6: (5, 10, 0, 10),
        }
        lines = []
        assert sync.reconcile(proj, odoo_newer, out=lines.append)[1:] == (0, 0)


@pytest.mark.static
@pytest.mark.parametrize("module", [events, projection, sync])
def test_doctests(module):
    """The client modules' doctests (their spec) pass."""
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed, result


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
class LogLines(logging.Handler):
    """The lines a module logs (``text``), whatever pytest does with logging."""

    def __init__(self, name):
        super().__init__(logging.DEBUG)
        self.lines = []
        logging.getLogger(name).addHandler(self)

    def emit(self, record):
        self.lines.append(self.format(record))

    @property
    def text(self):
        return "\n".join(self.lines)


class TestCommandLine:
    def test_bad_settings_are_one_line_and_an_exit_code(self, tmp_path):
        """stock-events refuses, before doing anything, what cannot work: a
        projection to reconcile that does not exist (a mistyped path is not
        made), a stock_levels table of other columns, an AMQP URL that is
        not one, credentials in Odoo's URL (never logged); a broker host that
        does not resolve is a broker failure (exit 3), not a traceback."""
        caplog = LogLines(cli._logger.name)
        odoo = ["--odoo", "http://127.0.0.1:1", "--api-key", "k"]
        missing = tmp_path / "missing.db"
        assert cli.main(["reconcile", *odoo, "--db", f"sqlite:///{missing}"]) == cli.EXIT_USAGE
        assert not missing.exists()
        other = tmp_path / "other.db"
        sqlite3.connect(other).execute("CREATE TABLE stock_levels (x int)").connection.commit()
        for extra in ([], ["sync", "--amqp", stack.amqp_url()]):
            command = extra[:1] or ["reconcile"]
            argv = [*command, *odoo, "--db", f"sqlite:///{other}", *extra[1:]]
            assert cli.main(argv) == cli.EXIT_USAGE
        assert "stock_levels table of other columns (x)" in caplog.text
        db = ["--db", f"sqlite:///{tmp_path / 'levels.db'}"]
        assert cli.main(["sync", *odoo, *db, "--amqp", "http://guest:pw@x/"]) == cli.EXIT_USAGE
        assert "is not an AMQP URL" in caplog.text
        secret = ["--odoo", "http://shop:s3cret@127.0.0.1:1", "--api-key", "k"]
        assert cli.main(["reconcile", *secret, *db]) == cli.EXIT_USAGE
        assert "no user or password" in caplog.text
        unresolvable = ["--amqp", "amqp://guest:guest@nosuchhost.invalid:5672/%2F"]
        assert cli.main(["sync", *odoo, *db, *unresolvable, "--queue", "x"]) == cli.EXIT_FAILED
        assert "nosuchhost.invalid" in caplog.text
        assert "s3cret" not in caplog.text and "Traceback" not in caplog.text
        logging.getLogger(cli._logger.name).removeHandler(caplog)


class TestSnapshotPages:
    def test_pages_are_checked_against_the_schema(self):
        """The client takes a page that follows the snapshot schema and
        refuses, saying why, an unknown version, a bool for a number, a
        level with a field too many or a negative reservation, a page of
        another snapshot."""
        (page,) = Pages([level(sequence=0), level(product_id=2, sequence=3)], size=5).pages()
        check = snapshot_client.SnapshotClient.check_page
        check(page)
        bad = [
            (dict(page, schema_version="2.0"), "unknown snapshot schema_version '2.0'"),
            (dict(page, total=True), "total"),
            (dict(page, levels=[dict(level(), extra=1)]), "levels/0"),
            (dict(page, levels=[level(reserved=-1.0)]), "levels/0/reserved"),
        ]
        for document, message in bad:
            with pytest.raises(snapshot_client.SnapshotError, match=message):
                check(document)
        with pytest.raises(snapshot_client.SnapshotError, match="changed between pages"):
            check(page, snapshot=str(uuid.uuid4()))


def movement_event(**extra):
    line = {
        "date": datetime.datetime(2026, 12, 7, 10, 5, 31),
        "company_id": 1,
        "product_id": 7,
        "default_code": "SKU-7",
        "barcode": None,
        "quantity": 2.0,
        "uom": "Units",
        "location_id": 8,
        "location": "WH/Stock",
        "location_dest_id": 5,
        "location_dest": "Partners/Customers",
        "lot": None,
        "package": None,
        "result_package": None,
        "move_id": 11,
        "move_line_id": 12,
        "picking": "WH/OUT/00001",
        "origin": None,
    }
    payload = events.build_payload(
        line, event_id=str(uuid.uuid4()), warehouse_id=1, event_type="SALE", sign=-1, sequence=3
    )
    return dict(payload, **extra)


def hostile_variants(document):
    """``document`` and variants of it a producer bug or a forger could send:
    each field missing, of another JSON type, a bool, a float, huge, 0,
    negative, non-ASCII, with a newline at the end, one field too many."""
    yield document
    yield dict(document, extra=1)
    for name, value in document.items():
        yield {k: v for k, v in document.items() if k != name}
        for other in (
            None,
            True,
            False,
            0,
            1,
            -1,
            1.0,
            1.5,
            -0.0,
            10**30,
            -(10**30),
            1e308,
            "",
            "x",
            "é€漢字",
            "١٢٣",
            [],
            {},
            [value],
            {"v": value},
        ):
            yield dict(document, **{name: other})
        if isinstance(value, str):
            for text in (value + "\n", value.upper(), " " + value, value + "\u0663"):
                yield dict(document, **{name: text})
    yield [document]
    yield "LEVEL"
    yield None


@tagged("-at_install", "post_install", "sscale_static")
@pytest.mark.static
class TestSchemaCheck:
    def test_fast_path_agrees_with_jsonschema(self):
        """With fastjsonschema installed, events.SchemaCheck passes a document
        only when jsonschema passes it, and refuses with jsonschema's very
        message: on the level, movement and snapshot schemas, for hundreds
        of hostile variants of valid documents."""
        pytest.importorskip("fastjsonschema")
        snapshot_schema = snapshot_client.snaplib.load_schema()
        cases = [
            (events.load_schema(level=True), event()),
            (events.load_schema(level=False), movement_event()),
            (
                {"$defs": snapshot_schema["$defs"], "$ref": "#/$defs/level"},
                level(sequence=0),
            ),
        ]
        compared = refused = 0
        for schema, valid in cases:
            check = events.SchemaCheck(schema)
            assert check.fast is not None, "fastjsonschema did not compile the schema"
            reference = events.SchemaCheck(schema)
            reference.fast = None  # jsonschema alone
            assert check.first_error(valid) is None
            for document in hostile_variants(valid):
                fast, slow = check.first_error(document), reference.first_error(document)
                assert (fast is None) == (slow is None), document
                if slow is not None:
                    assert events.error_text(fast) == events.error_text(slow)
                    refused += 1
                compared += 1
        assert compared > 300 and refused > 200, (compared, refused)


@tagged("-at_install", "post_install", "sscale_committed")
@pytest.mark.amqp
class TestFollowOnRabbitMQ:
    def test_batches_from_a_real_queue(self, amqp_channel, tmp_path):
        """sync's follow on a real queue: the events of a backlog are applied
        in batches (one commit, then one ack each); duplicates and older
        copies change nothing; hostile messages (not UTF-8, a name twice,
        NaN, an id beyond Odoo's, a sequence far ahead) are dead-lettered
        with their reason; non-ASCII text is kept; the last sequence of
        every key wins, and nothing is left in the queue. Prints the
        catch-up rate into SQLite."""
        queue = f"sscale.test.batch.{uuid.uuid4().hex[:10]}"
        exchange = f"{queue}.events"  # declared by the sync, durable
        proj = projection.Projection(f"sqlite:///{tmp_path / 'levels.db'}")
        s = sync.Sync(proj, Pages([]), amqp_url=stack.amqp_url(), queue=queue, exchange=exchange)
        try:
            s.connect()  # declared and bound first: the backlog waits there
            channel = amqp_channel.channel
            sent, last = 0, {}
            for seq in range(1, 11):
                for product_id in range(1, 301):
                    body = event(product_id=product_id, sequence=seq, on_hand=seq * 10.0)
                    amqp.publish(channel, exchange, "stock_level.1.1", body)
                    sent += 1
                    if seq == 5 and product_id % 50 == 0:  # a duplicate, an older copy
                        amqp.publish(channel, exchange, "stock_level.1.1", body)
                        older = event(product_id=product_id, sequence=seq - 1, on_hand=-1.0)
                        amqp.publish(channel, exchange, "stock_level.1.1", older)
                        sent += 2
                    last[product_id, 1] = (seq, seq * 10.0, 0.0, seq * 10.0)
            hostile = [
                b"\xff not json",
                b'{"on_hand": 1.0, "on_hand": 1e9}',  # a name twice
                json.dumps(event(product_id=1, sequence=99)).replace("10.0", "NaN"),
                event(product_id=2**40, sequence=99),  # no Odoo id
                event(product_id=2, sequence=10**6, on_hand=-5.0),  # far ahead
                event(product_id=3, sequence=11, default_code="Żółw 🐢", on_hand=7.0),
                # What a database cannot store, or only as a wrong value.
                json.dumps(event(product_id=4, sequence=99)).replace(": 10.0", ": 1e999"),
                event(product_id=4, sequence=99, on_hand=10**30),
                b"[" * 100000 + b"]" * 100000,
                json.dumps(event(product_id=4, sequence=99, default_code="x\ud800")),
                json.dumps(event(product_id=4, sequence=99, default_code="x\u0000y")),
                json.dumps(event(product_id=4, sequence=99)).encode("utf-16"),
                event(product_id=4, sequence=99, uom="u" * 5000),
            ]
            for body in hostile:
                amqp.publish(channel, exchange, "stock_level.1.1", body)
            last[3, 1] = (11, 7.0, 0.0, 7.0)
            sent += len(hostile)
            started = time.monotonic()
            assert s.follow(max_messages=sent) == sent
            elapsed = time.monotonic() - started
            assert {k: quantities(r) for k, r in proj.levels().items()} == last
            assert s.consumer.stats["duplicates"] == 6
            assert s.consumer.stats["dead_lettered"] == 12
            # Every level handed over (3,000, 6 older copies, 1 non-ASCII) was
            # applied or changed nothing; how many changed a row depends on
            # how the backlog fell into batches (a batch keeps a key's highest
            # sequence only), so it is bounded, not exact.
            assert s.stats["applied"] + s.stats["unchanged"] == 3007, s.stats
            assert 301 <= s.stats["applied"] <= 3001, s.stats
            assert proj.get(3, 1)["default_code"] == "Żółw 🐢"
            reasons = [
                (props.headers or {})["x-poison-reason"]
                for _m, props, _b in amqp_channel.drain(f"{queue}.dead")
            ]
            # Each hostile message once, with its reason (the order of the dead
            # letters is not the queue's: a batch's refusals come after it).
            expected = [
                ("not JSON: 'utf-8' codec can't decode byte 0xff",),
                ("not JSON", "on_hand given twice"),
                ("not JSON", "NaN"),
                ("product_id", "greater than the maximum"),
                # (ahead of the sequence stored when its batch began: 10, or
                # less when the batch also held the key's last events)
                ("sequence 1000000 is", "ahead of the projection's"),
                ("not JSON", "1e999 is beyond a floating-point number"),
                ("on_hand", "greater than the maximum"),
                ("not JSON", "nested too deeply"),
                ("not JSON", "lone surrogate"),
                ("not JSON", "NUL character"),
                ("not JSON: 'utf-8' codec can't decode byte 0xff in position 0",),
                ("uom", "is too long"),
            ]
            unmatched = list(reasons)
            for parts in expected:
                found = [r for r in unmatched if all(part in r for part in parts)]
                assert found, (parts, reasons)
                unmatched.remove(found[0])
            assert not unmatched, unmatched
            assert proj.get(4, 1)["sequence"] == 10  # none of them reached the table
            method = channel.queue_declare(queue, passive=True).method
            assert (method.message_count, method.consumer_count) == (0, 0)
            print(f"catch-up: {sent} messages into SQLite in {elapsed:.2f} s")
        finally:
            s.consumer.close()
            proj.close()
            amqp_channel.channel.queue_delete(queue)
            amqp_channel.channel.queue_delete(f"{queue}.dead")
            amqp_channel.channel.exchange_delete(f"{queue}.dlx")
            amqp_channel.channel.exchange_delete(exchange)

    def test_failing_batch_is_requeued_whole(self, amqp_channel, tmp_path):
        """A batch whose handler raises (the local database failed) is
        requeued whole and handed over again; nothing is acked before the
        handler returned."""
        queue = f"sscale.test.batch.{uuid.uuid4().hex[:10]}"
        exchange = f"{queue}.events"
        consumer_ = consumer.StockEventConsumer(
            stack.amqp_url(), queue, exchange=exchange, binding_keys=["stock_level.#"]
        )
        calls = []

        def handler(batch):
            calls.append([e["sequence"] for e in batch])
            if len(calls) == 1:
                raise OSError("disk full")
            return {}

        try:
            consumer_.connect()
            for seq in (1, 2, 3):
                amqp.publish(
                    amqp_channel.channel, exchange, "stock_level.1.1", event(sequence=seq)
                )
            processed = consumer_.run_batches(handler, inactivity_timeout=2)
            failed = len(calls[0])
            assert processed == 3 + failed, calls
            assert sorted(seq for call in calls[1:] for seq in call) == [1, 2, 3], calls
            assert consumer_.stats["requeued"] == failed and consumer_.stats["handled"] == 3
            method = amqp_channel.channel.queue_declare(queue, passive=True).method
            assert method.message_count == 0
        finally:
            consumer_.close()
            amqp_channel.channel.queue_delete(queue)
            amqp_channel.channel.queue_delete(f"{queue}.dead")
            amqp_channel.channel.exchange_delete(f"{queue}.dlx")
            amqp_channel.channel.exchange_delete(exchange)
