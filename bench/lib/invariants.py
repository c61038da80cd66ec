# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What must hold after a load, whatever the figures: on hand equals the
ledger, no negative quant, one event per posting, one posting per key and
per validated picking, the Stock Levels report equal to the ledger."""

import time

from tests.harness.jsonrpc import JsonRpc, RpcError

from .data import query as sql


def ledger_check(dbname, location_id, product_ids):
    """On hand against the ledger of done move lines, per product, in the
    stock location: ``{"mismatches", "max_quant_rows", "on_hand", "ledger"}``."""
    mismatches, max_rows, on_hand, ledger = sql(
        dbname,
        """
        WITH q AS (SELECT product_id, SUM(quantity) AS qty, COUNT(*) AS n
                     FROM stock_quant
                    WHERE location_id = %(l)s AND product_id = ANY(%(p)s)
                 GROUP BY product_id),
             m AS (SELECT product_id,
                          SUM(CASE WHEN location_dest_id = %(l)s
                                   THEN quantity_product_uom
                                   ELSE -quantity_product_uom END) AS qty
                     FROM stock_move_line
                    WHERE state = 'done' AND product_id = ANY(%(p)s)
                      AND (location_id = %(l)s OR location_dest_id = %(l)s)
                      AND location_id != location_dest_id
                 GROUP BY product_id)
        SELECT COUNT(*) FILTER (WHERE ABS(COALESCE(q.qty, 0) - COALESCE(m.qty, 0))
                                       > 0.0001),
               COALESCE(MAX(q.n), 0), COALESCE(SUM(q.qty), 0), COALESCE(SUM(m.qty), 0)
          FROM q FULL JOIN m USING (product_id)
        """,
        {"l": location_id, "p": list(product_ids)},
        one=True,
    )
    return {
        "mismatches": int(mismatches),
        "max_quant_rows": int(max_rows),
        "on_hand": float(on_hand),
        "ledger": float(ledger),
    }


def check(checks, name, ok, detail):
    checks.append({"name": name, "ok": bool(ok), "detail": detail})
    print(f"    {'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)


def invariants(phase, dbname, seed, workload, counter, standby, start, url):
    """Check each invariant after the load test's ``phase`` on ``dbname``
    (``start``: the highest ids before it), print PASS or FAIL per
    invariant and return them [{name, ok, detail}]."""
    from tests.harness.odoo_db import CommittedDatabase  # noqa: PLC0415

    checks = []
    product_ids = [p[0] for p in seed["products"]]
    # 1. on hand = ledger, every quant key (the product's check) and, from
    # independent SQL, per product in WH/Stock.
    db = CommittedDatabase(dbname)
    try:
        with db.env() as env:
            drift = env["stock.quant"]._sscale_ledger_drift()
    finally:
        db.close()
    ledger = ledger_check(dbname, seed["stock_id"], product_ids)
    check(
        checks,
        "on hand = ledger of done move lines",
        not drift and not ledger["mismatches"] and ledger["max_quant_rows"] <= 1,
        f"{len(drift)} drifting quant keys (every key); WH/Stock: {ledger['mismatches']} "
        f"products differ, on hand {ledger['on_hand']:,.0f} = ledger {ledger['ledger']:,.0f}, "
        f"max {ledger['max_quant_rows']} quant row per product",
    )
    # 2. no negative quant where it is forbidden (every internal location
    # here: the company forbids it, no exception is set).
    (negative,) = sql(
        dbname,
        "SELECT COUNT(*) FROM stock_quant q JOIN stock_location l ON l.id = q.location_id"
        " WHERE l.usage = 'internal' AND q.quantity < 0",
        one=True,
    )
    check(checks, "no negative quant in internal locations", not negative, f"{negative} rows")
    # 3. one event per posting: every done move line of the phase has its
    # outbox row, and (full) every row reached RabbitMQ, each event_id once.
    lines, missing_rows, extra_rows, outbox_rows, states = sql(
        dbname,
        """
        WITH l AS (SELECT id FROM stock_move_line WHERE state = 'done' AND id > %(l)s),
             o AS (SELECT (payload->>'move_line_id')::int AS line, state FROM stock_event_outbox
                    WHERE id > %(o)s AND event_type <> 'LEVEL'),
             n AS (SELECT line, COUNT(*) AS c FROM o GROUP BY line)
        SELECT (SELECT COUNT(*) FROM l),
               (SELECT COUNT(*) FROM l LEFT JOIN n ON n.line = l.id WHERE n.c IS NULL),
               (SELECT COUNT(*) FROM n WHERE c > 1),
               (SELECT COUNT(*) FROM o),
               (SELECT json_object_agg(state, c) FROM (SELECT state, COUNT(*) c FROM o
                                                          GROUP BY state) s)
        """,
        {"l": start["move_line"], "o": start["outbox"]},
        one=True,
    )
    check(
        checks,
        "one outbox event per posted move line",
        not missing_rows and not extra_rows and outbox_rows == lines,
        f"{lines:,} done move lines, {outbox_rows:,} events ({states}), "
        f"{missing_rows} lines without, {extra_rows} with several",
    )
    if counter is not None:
        expected = {
            row[0]
            for row in sql(
                dbname,
                "SELECT event_uuid FROM stock_event_outbox"
                " WHERE id > %s AND event_type <> 'LEVEL'",
                [start["outbox"]],
            )
        }
        received = set(counter.counts)
        duplicates = sum(c - 1 for c in counter.counts.values())
        check(
            checks,
            "every event in RabbitMQ, once per event_id",
            expected == received,
            f"{len(expected):,} in the outbox, {len(received):,} distinct event_ids received, "
            f"{len(expected - received)} missing, {len(received - expected)} unknown, "
            f"{duplicates} redeliveries (same event_id)",
        )
    else:
        check(checks, "events wait in the outbox (no dispatcher)", True, f"{states}")
    # 4. one posting per idempotency key and per validated picking.
    rows, keys, done_cmds, refused, cmd_moves = sql(
        dbname,
        """
        SELECT COUNT(*), COUNT(DISTINCT idempotency_key),
               COUNT(*) FILTER (WHERE state = 'done'),
               COUNT(*) FILTER (WHERE state = 'refused'),
               (SELECT COUNT(*) FROM stock_move m
                 WHERE m.state = 'done' AND m.picking_id IN (
                       SELECT picking_id FROM stock_inventory_command
                        WHERE idempotency_key LIKE %(k)s AND picking_id IS NOT NULL))
          FROM stock_inventory_command WHERE idempotency_key LIKE %(k)s
        """,
        {"k": f"lt-{phase}-%"},
        one=True,
    )
    answered = {k for k, (status, *_r) in workload.first_answers.items() if status == 200}
    answered |= {
        k
        for k, (_w, answer) in (workload.collector.replies if workload.collector else {}).items()
        if answer.get("status") == "done"
    }
    check(
        checks,
        "one posting per idempotency key",
        rows == keys
        and done_cmds == cmd_moves
        and len(answered) == done_cmds
        and not workload.replay_mismatches,
        f"{rows:,} command rows for {keys:,} keys, {done_cmds:,} done → {cmd_moves:,} done "
        f"moves, {refused} refused; {len(answered):,} keys answered done to the clients; "
        f"{len(workload.replay_mismatches)} replays answered differently",
    )
    ok_pickings = sum(1 for r in workload.records if r["op"] == "picking" and r["outcome"] == "ok")
    pickings, picking_moves = sql(
        dbname,
        "SELECT COUNT(DISTINCT p.id), COUNT(m.id) FROM stock_picking p"
        " JOIN stock_move m ON m.picking_id = p.id AND m.state = 'done'"
        " WHERE p.origin LIKE %s AND p.state = 'done'",
        [f"lt-{phase}-p-%"],
        one=True,
    )
    check(
        checks,
        "one posting per validated JSON-RPC picking",
        pickings == picking_moves == ok_pickings,
        f"{ok_pickings:,} validations answered, {pickings:,} done pickings, "
        f"{picking_moves:,} done moves",
    )
    # 5. Stock Levels read as the web client does (through the replica when
    # there is one) = SQL ground truth over done move lines; then after a
    # refresh of the materialized views.
    truth = {
        (p, loc): float(q)
        for p, loc, q in sql(
            dbname,
            """
            SELECT product_id, loc, SUM(qty) FROM (
                SELECT product_id, location_dest_id AS loc, quantity_product_uom AS qty
                  FROM stock_move_line WHERE state = 'done'
                UNION ALL
                SELECT product_id, location_id, -quantity_product_uom
                  FROM stock_move_line WHERE state = 'done') m
              JOIN stock_location l ON l.id = m.loc AND l.usage = 'internal'
             GROUP BY 1, 2 HAVING ABS(SUM(qty)) > 1e-9
            """,
        )
    }
    rpc = JsonRpc(url, dbname, "loadtest", "loadtest")
    admin = JsonRpc(url, dbname, "admin", "admin")
    for when in ("before a refresh", "after a refresh"):
        if when == "after a refresh":
            # Run Manually; while the cron worker runs it, Odoo refuses: wait.
            deadline = time.monotonic() + 180
            while True:
                try:
                    admin.call("ir.cron", "method_direct_trigger", [seed["cron_id"]], button=True)
                    break
                except RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
        waited = standby.wait_for_replay(timeout=60) if standby is not None else 0.0
        groups = rpc.call(
            "stock.level.report",
            "web_read_group",
            [],
            ["quantity:sum"],
            ["product_id", "location_id"],
            lazy=False,
        )["groups"]
        report = {
            (g["product_id"][0], g["location_id"][0]): g["quantity"]
            for g in groups
            if abs(g["quantity"] or 0.0) > 1e-9
        }
        differ = [
            k
            for k in set(truth) | set(report)
            if abs(truth.get(k, 0.0) - report.get(k, 0.0)) > 1e-6
        ]
        check(
            checks,
            f"Stock Levels report = SQL ground truth, {when}",
            not differ,
            f"{len(truth)} product/location pairs, {len(differ)} differ"
            + (f" (e.g. {differ[:3]})" if differ else "")
            + (f"; read from the replica after {waited:.2f} s of replay wait" if standby else ""),
        )
    return checks
