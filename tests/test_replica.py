# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The stock reports read from a real PostgreSQL hot standby.

A second cluster on loopback streams from the test server
(tests/harness/standby.py); a real odoo-bin runs with ``--db_replica_host`` and
``--db_replica_port`` and is driven over JSON-RPC the way the web client
reads the reports (pivot and graph: ``read_group``; grouped list:
``web_read_group``; list: ``web_search_read``). Postings and refreshes are
made on the primary through the ORM, on committed data.
"""

import datetime
import json
import time

import pytest
import pytz

import odoo

from tests.harness import stock_flows
from tests.harness.jsonrpc import STOCK_LEVELS_LIST, JsonRpc
from tests.harness.odoo_server import OdooServer
from tests.harness.processes import wait_until
from tests.harness.stack import StackError, connect
from tests.harness.standby import HotStandby

pytestmark = [pytest.mark.committed, pytest.mark.http, pytest.mark.slow]

PASSWORD = "sscale-replica"  # noqa: S105 - a throwaway test database
RETRIED = "retrying with a read/write cursor"
FELL_BACK = "Failed to open a readonly cursor, falling back to read-write cursor"
MEASURES = ["qty_in:sum", "qty_out:sum", "qty_net:sum", "move_count:sum"]
CONTEXT = {"lang": "en_US", "tz": "Europe/Brussels"}


@pytest.fixture(scope="module")
def standby():
    """A hot standby of the test server, for the tests of this module."""
    try:
        replica = HotStandby().create()
    except StackError as exc:
        pytest.fail(exc.message)
    yield replica
    replica.remove()


def _reads(product_ids):
    """The reports' reads, as the web client makes them: (model, method,
    kwargs)."""
    products = [("product_id", "in", product_ids)]
    today = datetime.date.today().isoformat()
    return [
        # Stock Movements, pivot (monthly rollup) and graph by month
        (
            "stock.movement.report",
            "read_group",
            {"domain": products, "fields": MEASURES, "groupby": ["product_id"], "lazy": False},
        ),
        (
            "stock.movement.report",
            "read_group",
            {
                "domain": products,
                "fields": MEASURES,
                "groupby": ["product_id", "date:month"],
                "lazy": False,
            },
        ),
        # Stock Movements, list grouped by type, and ungrouped (daily facts)
        (
            "stock.movement.report",
            "web_read_group",
            {"domain": products, "fields": MEASURES, "groupby": ["movement_type"]},
        ),
        (
            "stock.movement.report",
            "web_search_read",
            {
                "domain": products,
                "specification": {
                    "date": {},
                    "product_id": {"fields": {"display_name": {}}},
                    "movement_type": {},
                    "qty_in": {},
                    "qty_out": {},
                    "qty_net": {},
                },
                "order": "date desc, product_id, movement_type, qty_net",
            },
        ),
        # Stock Levels, list and grouped by warehouse
        (
            "stock.level.report",
            "web_search_read",
            {
                "domain": products,
                "specification": STOCK_LEVELS_LIST,
                "order": "product_id, location_id",
            },
        ),
        (
            "stock.level.report",
            "web_read_group",
            {
                "domain": products,
                "fields": ["quantity:sum", "available_quantity:sum"],
                "groupby": ["warehouse_id"],
            },
        ),
        # Inventory at Date, today, by product
        (
            "stock.inventory.date.report",
            "web_read_group",
            {
                "domain": products,
                "fields": ["quantity:sum"],
                "groupby": ["product_id"],
                "context": dict(CONTEXT, inventory_date=today),
            },
        ),
    ]


def _normalize(value):
    """JSON as the web client gets it, without the groups' domains."""
    value = json.loads(json.dumps(value, default=str))
    if isinstance(value, dict) and "groups" in value:
        value = value["groups"]
    if isinstance(value, list):
        for row in value:
            if isinstance(row, dict):
                for key in [k for k in row if k in ("__domain", "__range", "__context")]:
                    del row[key]
    return value


def _over_rpc(client, product_ids):
    return [
        _normalize(client.call(model, method, **kwargs))
        for model, method, kwargs in _reads(product_ids)
    ]


def _on_primary(committed_db, product_ids):
    """The same reads in-process on the primary: the exact figures now."""
    results = []
    with committed_db.env(uid=2, context=CONTEXT) as env:
        for model, method, kwargs in _reads(product_ids):
            kwargs = dict(kwargs)
            context = kwargs.pop("context", CONTEXT)
            results.append(
                _normalize(getattr(env[model].with_context(**context), method)(**kwargs))
            )
    return results


def _net_by_product(results):
    """qty_net per product id from the first read (pivot by product)."""
    return {row["product_id"][0]: row["qty_net"] for row in results[0]}


def _primary_scans(dbname):
    """Scans of the reports' materialized views on the primary: {view: seq
    + index scans} (HotStandby.stats gives the standby's)."""
    conn = connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT relname, COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)"
                "  FROM pg_stat_user_tables WHERE relname LIKE 'sscale_rpt_%%'"
            )
            return dict(cr.fetchall())
    finally:
        conn.close()


def _wait_for_stable(read, quiet=1.5, timeout=15.0):
    """``read()`` once it returned the same value for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    value = read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = read()
        if again == value:
            return value
        value = again
    return value


def _setup(committed_db, standby, tmp_path, harness):
    """Two products with stock on the primary, views refreshed, the copy
    replayed on the standby, and an Odoo reading from it (authenticated)."""

    def create(env):
        env.ref("base.user_admin").password = PASSWORD
        first = stock_flows.create_product(env, "Replica One", qty=20)
        second = stock_flows.create_product(env, "Replica Two", qty=7)
        stock_flows.receive(env, [(first.id, 5)])
        env["stock.report.refresh"]._refresh_reports()
        return [first.id, second.id]

    product_ids, _tries = committed_db.call(create)
    waited = standby.wait_for_replay(timeout=120)
    print(f"\nreplica: database copy and setup replayed in {waited:.2f} s")
    server = OdooServer(
        harness,
        committed_db.name,
        tmp_path,
        extra_args=["--db_replica_host=127.0.0.1", f"--db_replica_port={standby.port}"],
    )
    client = JsonRpc(server.url, committed_db.name, "admin", PASSWORD, timeout=120)
    client.context = CONTEXT  # the reads' context, not admin's
    return server, client, product_ids


@pytest.fixture
def replica_odoo(committed_db, standby, tmp_path, harness):
    server, client, product_ids = _setup(committed_db, standby, tmp_path, harness)
    yield server, client, product_ids
    server.stop()


def _server_log(server):
    return server.log_path.read_text(errors="replace")


def test_reports_are_read_on_the_replica(replica_odoo, committed_db, standby):
    """(a) The web client's report reads run on the standby: its statistics
    count scans of the reports' materialized views and the primary's do not
    move; the Odoo server has connections to the standby; no
    read was retried on the primary (Odoo logs "retrying with a read/write
    cursor" when a read-only transaction writes) and none fell back."""
    server, client, product_ids = replica_odoo
    db = committed_db.name
    # How /web/dataset/call_kw decides (DataSet._call_kw_readonly): the
    # first method along the model's MRO that carries @api.readonly's flag.
    # The addons override none of these (only _read_group and its helpers).
    for model, method, _kwargs in _reads(product_ids):
        flags = [
            getattr(cls, method)._readonly
            for cls in committed_db.registry[model].mro()
            if hasattr(getattr(cls, method, None), "_readonly")
        ]
        assert flags and flags[0] is True, (model, method)
    expected = _on_primary(committed_db, product_ids)
    # A backend sends its statistics when it exits (else up to 10 s after a
    # transaction): close this process's connections before counting.
    odoo.sql_db.close_db(db)
    primary_before = _wait_for_stable(lambda: _primary_scans(db))
    standby_before = standby.stats(db)["scans"]

    started = time.monotonic()
    served = _over_rpc(client, product_ids)
    elapsed = time.monotonic() - started
    assert served == expected
    assert _net_by_product(served) == {product_ids[0]: 25.0, product_ids[1]: 7.0}

    # The Odoo server holds read-only connections to the standby.
    conn = standby.connect(db)
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT COUNT(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [f"odoo-{server.process.pid}"],
            )
            assert cr.fetchone()[0] >= 1
    finally:
        conn.close()

    log = _server_log(server)
    assert RETRIED not in log, log
    assert FELL_BACK not in log, log
    # Stopping Odoo closes its connections, which send their statistics.
    server.stop()
    # Every materialized view the reads need was scanned on the standby,
    # none on the primary.
    views = {
        "sscale_rpt_movement",  # the list (daily facts), Inventory at Date
        "sscale_rpt_movement_month",  # grouped by movement type
        "sscale_rpt_product_month",  # Inventory at Date, months after the day
        "sscale_rpt_company_product_month",  # the pivot by product (and month)
        "sscale_rpt_last_move",  # Stock Levels
    }

    def grown():
        after = standby.stats(db)["scans"]
        return {view for view in views if after.get(view, 0) > standby_before.get(view, 0)}

    assert wait_until(lambda: grown() == views, 15.0), grown()
    standby_after = standby.stats(db)["scans"]
    assert _wait_for_stable(lambda: _primary_scans(db)) == primary_before
    print(
        f"\nreplica: {len(served)} report reads over JSON-RPC in {elapsed:.2f} s; scans of "
        f"the views on the standby {sum(standby_before.values())} -> "
        f"{sum(standby_after.values())}, on the primary {sum(primary_before.values())} "
        "(unchanged)"
    )


def test_postings_and_refreshes_reach_the_replica(replica_odoo, committed_db, standby):
    """(b) A validated receipt and an applied inventory count on the primary,
    then a refresh of the views there: once replayed, the reports served by
    the standby show them, equal to the primary's figures, and the standby
    holds the refreshed views (the postings moved from the journal into
    them)."""
    server, client, product_ids = replica_odoo
    first, second = product_ids

    def post(env):
        stock_flows.receive(env, [(first, 3)])
        stock_flows.set_inventory(env, env["product.product"].browse(second), 4)

    started = time.monotonic()
    committed_db.call(post)
    posted_at = time.monotonic()
    replay = standby.wait_for_replay()
    print(
        f"\nreplica: posting committed in {posted_at - started:.2f} s, replayed "
        f"{replay * 1000:.0f} ms after, lag {standby.lag()}"
    )
    served = _over_rpc(client, product_ids)
    assert _net_by_product(served) == {first: 28.0, second: 4.0}
    assert served == _on_primary(committed_db, product_ids)

    def journal_rows(conn_factory):
        conn = conn_factory(committed_db.name)
        try:
            with conn.cursor() as cr:
                cr.execute(
                    "SELECT COUNT(*) FROM sscale_rpt_journal WHERE product_id = ANY(%s)",
                    [product_ids],
                )
                pending = cr.fetchone()[0]
                cr.execute(
                    "SELECT COALESCE(SUM(qty_in - qty_out), 0)::float FROM sscale_rpt_movement"
                    " WHERE product_id = %s",
                    [first],
                )
                in_view = cr.fetchone()[0]
                cr.execute("SELECT refreshed_at FROM sscale_rpt_state")
                return pending, in_view, cr.fetchone()[0]
        finally:
            conn.close()

    pending, in_view, refreshed = journal_rows(standby.connect)
    assert pending > 0 and in_view == 25.0  # the new postings are in the journal

    committed_db.call(lambda env: env["stock.report.refresh"]._refresh_reports())
    standby.wait_for_replay()
    pending_after, in_view_after, refreshed_after = journal_rows(standby.connect)
    assert (pending_after, in_view_after) == (0, 28.0)
    assert refreshed_after > refreshed
    assert journal_rows(connect)[2] == refreshed_after  # the primary's refresh
    served_after = _over_rpc(client, product_ids)
    # The same quantities; rows (and so counts and ids) now come from the
    # refreshed views instead of the journal.
    assert served_after == _on_primary(committed_db, product_ids)
    assert _net_by_product(served_after) == _net_by_product(served)
    log = _server_log(server)
    assert RETRIED not in log and FELL_BACK not in log, log


def _replay_time(standby):
    conn = standby.connect()
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT pg_last_xact_replay_timestamp()")
            return cr.fetchone()[0]
    finally:
        conn.close()


def test_reports_are_exact_within_the_lag(replica_odoo, committed_db, standby):
    """(c) With the standby's replay paused, a delivery posted on the primary
    is not in the reports yet: they equal the primary's figures of the
    pause, exactly, and their titles say as of when (the standby's last
    replayed commit, in the user's time zone). Replay resumed, the reports
    are the primary's again, and the titles plain."""
    server, client, product_ids = replica_odoo
    first, _second = product_ids
    standby.wait_for_replay()
    standby.pause_replay()
    try:
        before = _on_primary(committed_db, product_ids)
        committed_db.call(lambda env: stock_flows.deliver(env, [(first, 6)]))
        after = _on_primary(committed_db, product_ids)
        assert _net_by_product(after)[first] == _net_by_product(before)[first] - 6
        time.sleep(1.2)  # more than a second behind
        lag = standby.lag()
        assert lag > 1.0
        served = _over_rpc(client, product_ids)
        assert served == before
        replayed_at = _replay_time(standby)
        expected_time = replayed_at.astimezone(pytz.timezone(CONTEXT["tz"])).strftime("%H:%M:%S")
        movements = client.run_action(
            "stock_scalable_reporting.action_server_stock_movement_report"
        )
        levels = client.run_action("stock_scalable_reporting.action_server_stock_level_report")
        assert movements["name"] == f"Stock Movements (as of {expected_time})"
        assert levels["name"] == f"Stock Levels (as of {expected_time})"
        assert movements["res_model"] == "stock.movement.report"
        wizard = client.call(
            "stock.inventory.date.wizard", "create", {"date": datetime.date.today().isoformat()}
        )
        action = client.rpc(
            "/web/dataset/call_button/stock.inventory.date.wizard/action_open",
            {
                "model": "stock.inventory.date.wizard",
                "method": "action_open",
                "args": [[wizard]],
                "kwargs": {"context": CONTEXT},
            },
        )
        assert action["name"].endswith(f" (as of {expected_time})"), action["name"]
        print(f"\nreplica: paused; lag {lag:.2f} s, title {movements['name']!r}")
    finally:
        standby.resume_replay()
    replay = standby.wait_for_replay()
    print(f"replica: resumed, caught up in {replay * 1000:.0f} ms")
    assert _over_rpc(client, product_ids) == after
    movements = client.run_action("stock_scalable_reporting.action_server_stock_movement_report")
    assert movements["name"] == "Stock Movements"
    log = _server_log(server)
    assert RETRIED not in log and FELL_BACK not in log, log


def test_title_shows_a_replica_cut_off_from_its_primary(replica_odoo, committed_db, standby):
    """(c) A standby that stopped receiving WAL (the network to the primary
    is down) mostly reads 0 with the usual standby-only lag query (received
    == replayed): the title compares with the primary's WAL position
    instead, and says as of when. Streaming again, it catches up and the title is
    plain."""
    server, client, product_ids = replica_odoo
    standby.wait_for_replay()
    before = _on_primary(committed_db, product_ids)
    standby.cut_off()
    try:
        committed_db.call(lambda env: stock_flows.receive(env, [(product_ids[0], 1)]))
        time.sleep(1.2)
        # Usually 0 (received == replayed); more when the last WAL received
        # ended within a record, which is never replayed.
        blind_lag = standby.lag()
        assert _over_rpc(client, product_ids) == before
        movements = client.run_action(
            "stock_scalable_reporting.action_server_stock_movement_report"
        )
        expected_time = (
            _replay_time(standby).astimezone(pytz.timezone(CONTEXT["tz"])).strftime("%H:%M:%S")
        )
        assert movements["name"] == f"Stock Movements (as of {expected_time})"
        print(
            f"\nreplica: cut off; standby-only lag query reads {blind_lag}, title "
            f"{movements['name']!r}"
        )
    finally:
        standby.reconnect()
    standby.wait_for_replay()
    assert _over_rpc(client, product_ids) == _on_primary(committed_db, product_ids)
    movements = client.run_action("stock_scalable_reporting.action_server_stock_movement_report")
    assert movements["name"] == "Stock Movements"
    log = _server_log(server)
    assert RETRIED not in log and FELL_BACK not in log, log


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_reports_answer_without_the_replica(replica_odoo, committed_db, standby, mode):
    """(d) The standby stopped (shut down, or crashed: ``mode``), the same
    reads answer, from the primary, exact, the first one included: Odoo's
    pool cannot reset its idle
    connection to the standby, cannot open a new one, logs "Failed to open
    a readonly cursor, falling back to read-write cursor for 20min 0sec"
    once and reads from the primary from then on (Registry.cursor records
    the failure time and tries the replica again only after
    _REPLICA_RETRY_TIME, 20 minutes). The standby started again, this Odoo
    process keeps reading from the primary: the 20 minutes have not passed."""
    server, client, product_ids = replica_odoo
    db = committed_db.name
    assert _over_rpc(client, product_ids) == _on_primary(committed_db, product_ids)
    standby.stop(mode=mode)
    try:
        started = time.monotonic()
        first_read = _over_rpc(client, product_ids)
        elapsed = time.monotonic() - started
        assert first_read == _on_primary(committed_db, product_ids)
        committed_db.call(lambda env: stock_flows.receive(env, [(product_ids[1], 2)]))
        served = _over_rpc(client, product_ids)
        assert served == _on_primary(committed_db, product_ids)
        assert _net_by_product(served)[product_ids[1]] == 9.0
        movements = client.run_action(
            "stock_scalable_reporting.action_server_stock_movement_report"
        )
        assert movements["name"] == "Stock Movements"
        log = _server_log(server)
        assert log.count(FELL_BACK) == 1, log
        assert RETRIED not in log, log
        print(f"\nreplica: stopped ({mode}); first reads from the primary in {elapsed:.2f} s")
    finally:
        standby.start()
    standby.wait_for_replay(timeout=60)
    time.sleep(1.5)
    scans = standby.stats(db)["scans"]
    assert _over_rpc(client, product_ids) == _on_primary(committed_db, product_ids)
    time.sleep(1.5)
    assert standby.stats(db)["scans"] == scans  # still on the primary
