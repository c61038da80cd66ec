# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The journal of ledger changes and the watermark that keeps the reports
exact at read time: the materialized views (matviews/movement.py,
picking_counts.py) hold the ledger up to their last refresh, the journal
what changed since.

How the reports stay exact (the watermark)
-------------------------------------------
* A trigger on ``stock_move_line`` writes a journal row for every change of
  a done line's contribution (+1 for the new values, -1 for the old ones),
  stamped with the writing transaction's id (``xid8``).
* A refresh runs in one REPEATABLE READ transaction: it stores the
  transaction's snapshot (``pg_current_snapshot()``) and refreshes the
  materialized views, which read the ledger under that very snapshot.
* A report reads the views plus the journal rows that the stored snapshot
  does not see (``NOT pg_visible_in_snapshot``): exactly the changes that
  committed after, or were in flight during, the refresh, whatever their
  line ids or dates. Back-dated lines land on their own day.
* The refresh's own transaction sees its own writes: its id is stored too
  and counts as seen.
* After a refresh, journal rows older than the snapshot's xmin are in the
  views already, and are deleted.
"""

import datetime

from odoo.tools import SQL

JOURNAL = "sscale_rpt_journal"
STATE = "sscale_rpt_state"
JOURNAL_FUNCTION = "sscale_rpt_journal_fn"
CATEGORY_CHANGES = "sscale_rpt_category_change"
PICKING_TYPE_CHANGES = "sscale_rpt_picking_type_change"
# Ids of report rows that come from the journal: far above the views' row
# numbers, below 2**53 (JavaScript integers in the web client).
JOURNAL_ID_OFFSET = 2**50

# Pending ORM writes of these fields are flushed before a report is read (the
# journal trigger sees them then).
LEDGER_FIELDS = {
    "stock.move.line": [
        "state",
        "date",
        "quantity_product_uom",
        "product_id",
        "lot_id",
        "location_id",
        "location_dest_id",
        "company_id",
    ],
}


def next_month(day):
    """The first day of the month after ``day`` (a date or datetime; a
    datetime keeps its time of day)."""
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


JOURNAL_TABLES = SQL(
    """
    CREATE TABLE IF NOT EXISTS sscale_rpt_journal (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        line_id integer NOT NULL,
        date timestamp NOT NULL,
        company_id integer,
        product_id integer NOT NULL,
        lot_id integer,
        location_id integer NOT NULL,
        location_dest_id integer NOT NULL,
        qty numeric NOT NULL,
        sign smallint NOT NULL
    );
    -- The line's transfer, for the product form's In/Out counters (18.0.1.5.0).
    ALTER TABLE sscale_rpt_journal ADD COLUMN IF NOT EXISTS picking_id integer;
    CREATE INDEX IF NOT EXISTS sscale_rpt_journal_xid_idx ON sscale_rpt_journal (xid);
    CREATE TABLE IF NOT EXISTS sscale_rpt_state (
        id integer PRIMARY KEY CHECK (id = 1),
        snapshot pg_snapshot,
        refresh_xid xid8,
        refreshed_at timestamp,
        duration double precision
    );
    INSERT INTO sscale_rpt_state (id) VALUES (1) ON CONFLICT DO NOTHING;
    """
)


def journal_triggers(table, journal, columns, watched, only=None):
    """SQL that (re)creates the trigger function ``<journal>_fn`` and the
    triggers ``<journal>_ins``, ``_upd`` and ``_del`` on ``table``, which
    write a row of ``journal`` for every change of a row's contribution: the
    old values with sign -1, the new ones with +1, stamped with the writing
    transaction's id (the journal's ``xid`` default). Used by every journal
    of the reports (the ledger's here, the valuation layers' in
    stock_scalable_reporting_account).

    ``columns``: (journal column, SQL expression over the row) pairs, in the
    journal's order, the row written ``{row}`` and the sign ``{sign}``;
    ``watched``: the row's columns whose change is journalled on UPDATE;
    ``only``: the condition (over ``{row}``) for a row to count, or None.
    All are trusted SQL text, never user input."""

    def values(row, sign):
        return ", ".join(expr.format(row=row, sign=sign) for _column, expr in columns)

    def when(row):
        return f" WHEN ({only.format(row=row)})" if only else ""

    def changed(row):
        return ", ".join(f"{row}.{column}" for column in watched)

    names = ", ".join(column for column, _expr in columns)
    both = f"({only.format(row='OLD')} OR {only.format(row='NEW')}) AND " if only else ""
    and_old = f" AND {only.format(row='OLD')}" if only else ""
    and_new = f" AND {only.format(row='NEW')}" if only else ""
    return SQL(
        f"""
    CREATE OR REPLACE FUNCTION {journal}_fn() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE'){and_old} THEN
            INSERT INTO {journal} ({names})
            VALUES ({values("OLD", "-1")});
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE'){and_new} THEN
            INSERT INTO {journal} ({names})
            VALUES ({values("NEW", "1")});
        END IF;
        RETURN NULL;
    END
    $$;
    DROP TRIGGER IF EXISTS {journal}_ins ON {table};
    CREATE TRIGGER {journal}_ins AFTER INSERT ON {table}
        FOR EACH ROW{when("NEW")} EXECUTE FUNCTION {journal}_fn();
    DROP TRIGGER IF EXISTS {journal}_upd ON {table};
    CREATE TRIGGER {journal}_upd AFTER UPDATE ON {table}
        FOR EACH ROW WHEN ({both}({changed("OLD")}) IS DISTINCT FROM ({changed("NEW")}))
        EXECUTE FUNCTION {journal}_fn();
    DROP TRIGGER IF EXISTS {journal}_del ON {table};
    CREATE TRIGGER {journal}_del AFTER DELETE ON {table}
        FOR EACH ROW{when("OLD")} EXECUTE FUNCTION {journal}_fn();
    """  # noqa: S608 (the addons' own names and expressions, never user input)
    )


# A line may be inserted already done before the ORM computes its
# quantity_product_uom (stock.move.create with done lines, imports): it
# counts as 0 until the UPDATE that sets it, which journals the difference.
# DONE_LINES reads the ledger the same way.
LEDGER_TRIGGERS = journal_triggers(
    "stock_move_line",
    JOURNAL,
    [
        ("line_id", "{row}.id"),
        ("date", "{row}.date"),
        ("company_id", "{row}.company_id"),
        ("product_id", "{row}.product_id"),
        ("lot_id", "{row}.lot_id"),
        ("location_id", "{row}.location_id"),
        ("location_dest_id", "{row}.location_dest_id"),
        ("qty", "COALESCE({row}.quantity_product_uom, 0)"),
        ("sign", "{sign}"),
        ("picking_id", "{row}.picking_id"),
    ],
    [*LEDGER_FIELDS["stock.move.line"], "picking_id"],
    only="{row}.state = 'done'",
)

CHANGE_JOURNALS = SQL(
    """
    -- Past stock (matviews/past_stock.py) reads a product's done lines after a
    -- moment: Odoo indexes neither their date nor their state.
    CREATE INDEX IF NOT EXISTS sscale_rpt_sml_done_product_date
        ON stock_move_line (product_id, date) WHERE state = 'done';

    -- Products moved to another category since the last refresh: the
    -- category rollup, which keeps the categories of its refresh, is then
    -- not read until the next refresh (see category_rollup_stale).
    CREATE TABLE IF NOT EXISTS sscale_rpt_category_change (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        product_tmpl_id integer NOT NULL
    );
    CREATE OR REPLACE FUNCTION sscale_rpt_category_change_fn() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sscale_rpt_category_change (product_tmpl_id) VALUES (NEW.id);
        RETURN NULL;
    END
    $$;
    DROP TRIGGER IF EXISTS sscale_rpt_category_change_upd ON product_template;
    CREATE TRIGGER sscale_rpt_category_change_upd AFTER UPDATE OF categ_id ON product_template
        FOR EACH ROW WHEN (OLD.categ_id IS DISTINCT FROM NEW.categ_id)
        EXECUTE FUNCTION sscale_rpt_category_change_fn();

    -- A done transfer given another operation type, or an operation type
    -- given another code, since the last refresh: the In/Out counters view,
    -- which keeps the codes of its refresh, is then not read until the next
    -- refresh (see PICKING_COUNTS_STALE).
    CREATE TABLE IF NOT EXISTS sscale_rpt_picking_type_change (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id()
    );
    CREATE OR REPLACE FUNCTION sscale_rpt_picking_type_change_fn() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sscale_rpt_picking_type_change DEFAULT VALUES;
        RETURN NULL;
    END
    $$;
    DROP TRIGGER IF EXISTS sscale_rpt_picking_type_change_upd ON stock_picking;
    CREATE TRIGGER sscale_rpt_picking_type_change_upd
        AFTER UPDATE OF picking_type_id ON stock_picking
        FOR EACH ROW WHEN (OLD.picking_type_id IS DISTINCT FROM NEW.picking_type_id
                           AND 'done' IN (OLD.state, NEW.state))
        EXECUTE FUNCTION sscale_rpt_picking_type_change_fn();
    DROP TRIGGER IF EXISTS sscale_rpt_picking_type_code_upd ON stock_picking_type;
    CREATE TRIGGER sscale_rpt_picking_type_code_upd AFTER UPDATE OF code ON stock_picking_type
        FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
        EXECUTE FUNCTION sscale_rpt_picking_type_change_fn();
    """
)

CREATE_JOURNAL = SQL("%s%s%s", JOURNAL_TABLES, LEDGER_TRIGGERS, CHANGE_JOURNALS)

# Rows of a journal (alias j) that the last refresh's snapshot does not see
# (alias s: sscale_rpt_state).
NOT_IN_VIEWS = SQL(
    """
    (s.snapshot IS NULL
     OR (j.xid >= pg_snapshot_xmin(s.snapshot)
         AND NOT pg_visible_in_snapshot(j.xid, s.snapshot)
         AND j.xid IS DISTINCT FROM s.refresh_xid))
    """
)
RECENT_JOURNAL = SQL(
    """
    SELECT j.id, j.date, j.company_id, j.product_id, j.lot_id, j.location_id,
           j.location_dest_id, j.qty, j.sign
      FROM sscale_rpt_journal j, sscale_rpt_state s
     WHERE s.id = 1 AND %s
    """,
    NOT_IN_VIEWS,
)

DONE_LINES = SQL(
    """
    SELECT ml.id, ml.date, ml.company_id, ml.product_id, ml.lot_id, ml.location_id,
           ml.location_dest_id, COALESCE(ml.quantity_product_uom, 0) AS qty, 1 AS sign
      FROM stock_move_line ml
     WHERE ml.state = 'done'
    """
)
