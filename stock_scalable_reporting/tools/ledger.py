# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The SQL of the reports: the journal of ledger changes, the materialized
views, and the report views that add the journal's recent rows to them.

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

from odoo.addons.stock_scalable.lib import movement_types

JOURNAL = "sscale_rpt_journal"
STATE = "sscale_rpt_state"
JOURNAL_FUNCTION = "sscale_rpt_journal_fn"
MOVEMENT_MV = "sscale_rpt_movement"
MOVEMENT_MONTH_MV = "sscale_rpt_movement_month"
LOCATION_MONTH_MV = "sscale_rpt_location_month"
PRODUCT_MONTH_MV = "sscale_rpt_product_month"
COMPANY_PRODUCT_MONTH_MV = "sscale_rpt_company_product_month"
WAREHOUSE_MONTH_MV = "sscale_rpt_warehouse_month"
CATEGORY_MONTH_MV = "sscale_rpt_category_month"
CATEGORY_CHANGES = "sscale_rpt_category_change"
LAST_MOVE_MV = "sscale_rpt_last_move"
PICKING_COUNT_MV = "sscale_rpt_picking_count_month"
PICKING_TYPE_CHANGES = "sscale_rpt_picking_type_change"
# Ids of report rows that come from the journal: far above the views' row
# numbers, below 2**53 (JavaScript integers in the web client).
JOURNAL_ID_OFFSET = 2**50


def next_month(day):
    """The first day of the month after ``day`` (a date or datetime; a
    datetime keeps its time of day)."""
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


CREATE_JOURNAL = SQL(
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

    CREATE OR REPLACE FUNCTION sscale_rpt_journal_fn() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- A line may be inserted already done before the ORM computes its
        -- quantity_product_uom (stock.move.create with done lines, imports):
        -- it counts as 0 until the UPDATE that sets it, which journals the
        -- difference. DONE_LINES reads the ledger the same way.
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'done' THEN
            INSERT INTO sscale_rpt_journal (line_id, date, company_id, product_id, lot_id,
                                            location_id, location_dest_id, qty, sign,
                                            picking_id)
            VALUES (OLD.id, OLD.date, OLD.company_id, OLD.product_id, OLD.lot_id,
                    OLD.location_id, OLD.location_dest_id,
                    COALESCE(OLD.quantity_product_uom, 0), -1, OLD.picking_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'done' THEN
            INSERT INTO sscale_rpt_journal (line_id, date, company_id, product_id, lot_id,
                                            location_id, location_dest_id, qty, sign,
                                            picking_id)
            VALUES (NEW.id, NEW.date, NEW.company_id, NEW.product_id, NEW.lot_id,
                    NEW.location_id, NEW.location_dest_id,
                    COALESCE(NEW.quantity_product_uom, 0), 1, NEW.picking_id);
        END IF;
        RETURN NULL;
    END
    $$;
    DROP TRIGGER IF EXISTS sscale_rpt_journal_ins ON stock_move_line;
    CREATE TRIGGER sscale_rpt_journal_ins AFTER INSERT ON stock_move_line
        FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION sscale_rpt_journal_fn();
    DROP TRIGGER IF EXISTS sscale_rpt_journal_upd ON stock_move_line;
    CREATE TRIGGER sscale_rpt_journal_upd AFTER UPDATE ON stock_move_line
        FOR EACH ROW WHEN (
            (OLD.state = 'done' OR NEW.state = 'done')
            AND (OLD.state, OLD.date, OLD.quantity_product_uom, OLD.product_id, OLD.lot_id,
                 OLD.location_id, OLD.location_dest_id, OLD.company_id, OLD.picking_id)
                IS DISTINCT FROM
                (NEW.state, NEW.date, NEW.quantity_product_uom, NEW.product_id, NEW.lot_id,
                 NEW.location_id, NEW.location_dest_id, NEW.company_id, NEW.picking_id)
        ) EXECUTE FUNCTION sscale_rpt_journal_fn();
    DROP TRIGGER IF EXISTS sscale_rpt_journal_del ON stock_move_line;
    CREATE TRIGGER sscale_rpt_journal_del AFTER DELETE ON stock_move_line
        FOR EACH ROW WHEN (OLD.state = 'done') EXECUTE FUNCTION sscale_rpt_journal_fn();

    -- Past stock (tools/past_stock.py) reads a product's done lines after a
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
# Whether a product changed category since the last refresh (the category
# rollup is then not read).
CATEGORY_ROLLUP_STALE = SQL(
    """
    SELECT EXISTS (SELECT 1 FROM sscale_rpt_category_change j, sscale_rpt_state s
                    WHERE s.id = 1 AND %s)
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


# The movement type of a side: stock_scalable's one table, which the events
# use too. o is the other end's location, l this end's, s.incoming the
# direction (trusted column names only).
MOVEMENT_TYPE = SQL(
    movement_types.sql_case(
        "o.usage",
        "o.scrap_location",
        "s.incoming",
        "o.warehouse_id IS NOT DISTINCT FROM l.warehouse_id",
    )
)


def movement_sides(lines):
    """One row per internal end of each line of ``lines`` (an SQL query with
    the columns of DONE_LINES), with its movement type and signed in/out."""
    return SQL(
        """
        SELECT s.id AS line_key, s.date::date AS date, s.company_id, l.warehouse_id,
               l.id AS location_id, s.product_id,
               %(movement_type)s AS movement_type,
               CASE WHEN s.incoming THEN s.sign * s.qty ELSE 0 END AS qty_in,
               CASE WHEN s.incoming THEN 0 ELSE s.sign * s.qty END AS qty_out,
               s.sign AS move_count
          FROM (SELECT x.id, x.date, x.company_id, x.product_id, x.qty, x.sign,
                       x.location_dest_id AS here, x.location_id AS there, TRUE AS incoming
                  FROM (%(lines)s) x
                UNION ALL
                SELECT x.id, x.date, x.company_id, x.product_id, x.qty, x.sign,
                       x.location_id AS here, x.location_dest_id AS there, FALSE AS incoming
                  FROM (%(lines)s) x) s
          JOIN stock_location l ON l.id = s.here AND l.usage = 'internal'
          JOIN stock_location o ON o.id = s.there
        """,
        lines=lines,
        movement_type=MOVEMENT_TYPE,
    )


# The movement sides of the recent journal, for the report views. The journal
# rows are read once (a materialized CTE), whatever plan joins them to the
# locations: with a nested loop over the internal locations, PostgreSQL would
# otherwise read the journal again for each location.
RECENT_SIDES = SQL(
    "WITH recent_lines AS MATERIALIZED (%s) %s",
    RECENT_JOURNAL,
    movement_sides(SQL("SELECT * FROM recent_lines")),
)

GRAIN = ["date", "company_id", "warehouse_id", "location_id", "product_id", "movement_type"]


# The recent journal's sides summed by the daily facts' grain: one row per
# key of the postings since the refresh (not one per move line), with the
# first of its lines as ``line_key`` (an id for the row).
RECENT_FACTS = SQL(
    """
    SELECT date, company_id, warehouse_id, location_id, product_id, movement_type,
           SUM(qty_in) AS qty_in, SUM(qty_out) AS qty_out,
           SUM(move_count)::integer AS move_count, MIN(line_key) AS line_key
      FROM (%s) sides
     GROUP BY date, company_id, warehouse_id, location_id, product_id, movement_type
    -- Changes that cancel out (a line deleted and written again) are no row.
    HAVING SUM(move_count) <> 0 OR SUM(qty_in) <> 0 OR SUM(qty_out) <> 0
    """,
    RECENT_SIDES,
)

MOVEMENT_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, location_id,
                                       product_id, movement_type) AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, location_id, product_id, movement_type,
                   SUM(qty_in) AS qty_in, SUM(qty_out) AS qty_out,
                   SUM(move_count)::integer AS move_count
              FROM (%s) sides
             GROUP BY date, company_id, warehouse_id, location_id, product_id, movement_type) f
    """,
    movement_sides(DONE_LINES),
)

LAST_MOVE_MV_QUERY = SQL(
    """
    SELECT location_id, product_id, COALESCE(lot_id, 0) AS lot_key, MAX(date) AS last_date
      FROM (SELECT location_id, product_id, lot_id, date FROM stock_move_line
             WHERE state = 'done'
            UNION ALL
            SELECT location_dest_id, product_id, lot_id, date FROM stock_move_line
             WHERE state = 'done') ends
     GROUP BY location_id, product_id, COALESCE(lot_id, 0)
    """
)

# The same facts by month, read instead of the daily ones when a question
# only needs months (see stock.movement.report._read_group).
MOVEMENT_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, location_id,
                                       product_id, movement_type) AS id, f.*
      FROM (SELECT date_trunc('month', date)::date AS date, company_id, warehouse_id,
                   location_id, product_id, movement_type, SUM(qty_in) AS qty_in,
                   SUM(qty_out) AS qty_out, SUM(move_count)::integer AS move_count,
                   COUNT(*)::integer AS fact_rows
              FROM sscale_rpt_movement
             GROUP BY 1, 2, 3, 4, 5, 6) f
    """
)

# Month × company × warehouse × location × product (no movement type): the
# monthly facts with their types summed, a fraction of their rows. It answers
# questions by location and product, and the months of past stock by
# location (Inventory at Date at a location, qty_available with to_date).
LOCATION_MONTH_GRAIN = ["date", "company_id", "warehouse_id", "location_id", "product_id"]
LOCATION_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, location_id,
                                       product_id) AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, location_id, product_id,
                   SUM(qty_in) AS qty_in, SUM(qty_out) AS qty_out,
                   SUM(move_count)::integer AS move_count, SUM(fact_rows)::integer AS fact_rows
              FROM sscale_rpt_movement_month
             GROUP BY 1, 2, 3, 4, 5) f
    """
)

# Month × company × warehouse × product (no location, no movement type),
# about a quarter of the monthly rows. It answers questions by product and
# warehouse, and the months of Inventory at Date.
PRODUCT_MONTH_GRAIN = ["date", "company_id", "warehouse_id", "product_id"]
PRODUCT_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, product_id) AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, product_id, SUM(qty_in) AS qty_in,
                   SUM(qty_out) AS qty_out, SUM(move_count)::integer AS move_count,
                   SUM(fact_rows)::integer AS fact_rows
              FROM sscale_rpt_movement_month
             GROUP BY 1, 2, 3, 4) f
    """
)

# The narrowest rollup: month × company × product, one row per group of the
# product × month pivot (a third of the rows above with three warehouses).
# Its index leads with the product, for questions on a few products.
COMPANY_PRODUCT_MONTH_GRAIN = ["product_id", "date", "company_id"]
COMPANY_PRODUCT_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY product_id, date, company_id) AS id, f.*
      FROM (SELECT date, company_id, product_id, SUM(qty_in) AS qty_in,
                   SUM(qty_out) AS qty_out, SUM(move_count)::integer AS move_count,
                   SUM(fact_rows)::integer AS fact_rows
              FROM sscale_rpt_product_month
             GROUP BY 1, 2, 3) f
    """
)

# Month × company × warehouse × movement type: a few rows per month, for
# questions by warehouse or movement type (no product, no location).
WAREHOUSE_MONTH_GRAIN = ["date", "company_id", "warehouse_id", "movement_type"]
WAREHOUSE_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, movement_type) AS id,
           f.*
      FROM (SELECT date, company_id, warehouse_id, movement_type, SUM(qty_in) AS qty_in,
                   SUM(qty_out) AS qty_out, SUM(move_count)::integer AS move_count,
                   SUM(fact_rows)::integer AS fact_rows
              FROM sscale_rpt_movement_month
             GROUP BY 1, 2, 3, 4) f
    """
)

# Month × company × warehouse × product category × movement type, with the
# products' categories as of the refresh: not read while a product has
# changed category since (CATEGORY_ROLLUP_STALE).
CATEGORY_MONTH_GRAIN = ["date", "company_id", "warehouse_id", "categ_id", "movement_type"]
CATEGORY_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, categ_id,
                                       movement_type) AS id, f.*
      FROM (SELECT m.date, m.company_id, m.warehouse_id, t.categ_id, m.movement_type,
                   SUM(m.qty_in) AS qty_in, SUM(m.qty_out) AS qty_out,
                   SUM(m.move_count)::integer AS move_count,
                   SUM(m.fact_rows)::integer AS fact_rows
              FROM sscale_rpt_movement_month m
              JOIN product_product p ON p.id = m.product_id
              JOIN product_template t ON t.id = p.product_tmpl_id
             GROUP BY 1, 2, 3, 4, 5) f
    """
)

# Done move lines by month, company, product and the code of their
# transfer's operation type (receipts and deliveries only): the product
# form's In/Out counters (Odoo's ``picking_code`` of the lines).
PICKING_COUNT_GRAIN = ["product_id", "date", "company_id", "picking_code"]
PICKING_COUNT_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY product_id, date, company_id, picking_code) AS id, f.*
      FROM (SELECT date_trunc('month', ml.date)::date AS date, ml.company_id, ml.product_id,
                   pt.code::varchar AS picking_code, COUNT(*)::integer AS line_count
              FROM stock_move_line ml
              JOIN stock_picking p ON p.id = ml.picking_id
              JOIN stock_picking_type pt ON pt.id = p.picking_type_id
             WHERE ml.state = 'done' AND pt.code IN ('incoming', 'outgoing')
             GROUP BY 1, 2, 3, 4) f
    """
)

# Whether the counters view is there and built: not when the code is newer
# than the database (until ``-u stock_scalable_reporting``).
PICKING_COUNTS_READY = SQL(
    """
    SELECT to_regclass('sscale_rpt_picking_type_change') IS NOT NULL
           AND COALESCE((SELECT ispopulated FROM pg_matviews
                          WHERE matviewname = 'sscale_rpt_picking_count_month'), FALSE)
    """
)
# Whether the counters view cannot answer: never refreshed, or an operation
# type changed since the refresh.
PICKING_COUNTS_STALE = SQL(
    """
    SELECT s.snapshot IS NULL
           OR EXISTS (SELECT 1 FROM sscale_rpt_picking_type_change j WHERE %s)
      FROM sscale_rpt_state s WHERE s.id = 1
    """,
    NOT_IN_VIEWS,
)


def picking_counts_query(product_ids, since, company_ids=None):
    """Done move lines dated from ``since`` (a UTC datetime) on, per product
    and code of their transfer's operation type ('incoming', 'outgoing'),
    as Odoo's product form counts them (``picking_code``): the whole months
    after ``since``'s month from PICKING_COUNT_MV plus the journal rows it
    does not hold, and the rest of ``since``'s month from the ledger itself
    (its index of done lines by product and date). Rows: (product_id,
    picking_code, count). ``company_ids``: only those companies' lines (None:
    all). The view is exact only while PICKING_COUNTS_STALE is false."""
    month_after = next_month(since).replace(hour=0, minute=0, second=0, microsecond=0)

    def only_companies(column):
        if company_ids is None:
            return SQL("")
        return SQL("AND %s = ANY(%s)", SQL(column), list(company_ids))

    return SQL(
        """
        SELECT product_id, picking_code, SUM(n)::integer
          FROM (SELECT product_id, picking_code, line_count AS n
                  FROM sscale_rpt_picking_count_month
                 WHERE product_id = ANY(%(products)s) AND date >= %(next_month)s::date
                       %(view_companies)s
                UNION ALL
                SELECT ml.product_id, pt.code::varchar, 1
                  FROM stock_move_line ml
                  JOIN stock_picking p ON p.id = ml.picking_id
                  JOIN stock_picking_type pt ON pt.id = p.picking_type_id
                 WHERE ml.state = 'done' AND ml.product_id = ANY(%(products)s)
                   AND ml.date >= %(since)s AND ml.date < %(next_month)s
                   AND pt.code IN ('incoming', 'outgoing') %(ledger_companies)s
                UNION ALL
                SELECT j.product_id, pt.code::varchar, j.sign
                  FROM sscale_rpt_journal j
                  JOIN sscale_rpt_state s ON s.id = 1
                  JOIN stock_picking p ON p.id = j.picking_id
                  JOIN stock_picking_type pt ON pt.id = p.picking_type_id
                 WHERE %(not_in_views)s AND j.product_id = ANY(%(products)s)
                   AND j.date >= %(next_month)s AND pt.code IN ('incoming', 'outgoing')
                       %(journal_companies)s) counts
         GROUP BY product_id, picking_code
        """,
        products=list(product_ids),
        since=since,
        next_month=month_after,
        view_companies=only_companies("company_id"),
        ledger_companies=only_companies("ml.company_id"),
        journal_companies=only_companies("j.company_id"),
        not_in_views=NOT_IN_VIEWS,
    )


# Refreshed in this order (each rollup reads the one before it).
MATERIALIZED_VIEWS = {
    # (date, id): the Stock Movements list's order, newest first.
    MOVEMENT_MV: (MOVEMENT_MV_QUERY, ["id"], [GRAIN, ["product_id", "date"], ["date", "id"]]),
    MOVEMENT_MONTH_MV: (MOVEMENT_MONTH_MV_QUERY, ["id"], [GRAIN, ["product_id", "date"]]),
    LOCATION_MONTH_MV: (
        LOCATION_MONTH_MV_QUERY,
        ["id"],
        [LOCATION_MONTH_GRAIN, ["product_id", "date"], ["location_id", "date"]],
    ),
    PRODUCT_MONTH_MV: (
        PRODUCT_MONTH_MV_QUERY,
        ["id"],
        [PRODUCT_MONTH_GRAIN, ["product_id", "date"]],
    ),
    COMPANY_PRODUCT_MONTH_MV: (
        COMPANY_PRODUCT_MONTH_MV_QUERY,
        ["id"],
        [COMPANY_PRODUCT_MONTH_GRAIN],
    ),
    WAREHOUSE_MONTH_MV: (WAREHOUSE_MONTH_MV_QUERY, ["id"], [WAREHOUSE_MONTH_GRAIN]),
    CATEGORY_MONTH_MV: (CATEGORY_MONTH_MV_QUERY, ["id"], [CATEGORY_MONTH_GRAIN]),
    LAST_MOVE_MV: (LAST_MOVE_MV_QUERY, ["location_id", "product_id", "lot_key"], []),
    PICKING_COUNT_MV: (PICKING_COUNT_MV_QUERY, ["id"], [PICKING_COUNT_GRAIN]),
}


# The columns of the movement reports a view can keep, beside the date and
# company (product_tmpl_id follows product_id; categ_id is read through the
# product, or kept by the view itself: STORED_CATEGORY).
DIMENSIONS = ("warehouse_id", "location_id", "product_id", "categ_id", "movement_type")
ALL_DIMENSIONS = frozenset(DIMENSIONS)


def movement_report_query(view, month=False, dimensions=ALL_DIMENSIONS, stored_category=False):
    """Rows of materialized view ``view`` plus the recent journal
    (RECENT_FACTS), with the columns of ``DIMENSIONS`` that are not in
    ``dimensions`` left NULL, as the view does not keep them; the journal's
    rows are cut to the same columns. ``categ_id`` comes from the view's own
    column with ``stored_category``, else from the product.

    The journal's rows are summed by daily key (RECENT_FACTS): the postings
    since the refresh show as one row per day, location, product and
    movement type, beside the view's row of that key if it has one; a
    monthly view gets them dated on their month. ``fact_rows``: how many
    rows of the daily report each row stands for (a monthly view counts
    them; a journal row is one), so that a count is the same whichever
    answers."""

    def kept(column, source, sql_type):
        if column in dimensions:
            return SQL("%s AS %s", source, SQL.identifier(column))
        return SQL("NULL::%s AS %s", SQL(sql_type), SQL.identifier(column))

    view_columns = SQL(
        "v.company_id, %s, %s, %s, %s AS categ_key, %s",
        kept("warehouse_id", SQL("v.warehouse_id"), "integer"),
        kept("location_id", SQL("v.location_id"), "integer"),
        kept("product_id", SQL("v.product_id"), "integer"),
        SQL("v.categ_id") if stored_category else SQL("NULL::integer"),
        kept("movement_type", SQL("v.movement_type"), "varchar"),
    )
    # A journal row keeps its product: its category is read through it.
    journal_columns = SQL(
        "r.company_id, %s, %s, r.product_id, NULL::integer AS categ_key, %s",
        kept("warehouse_id", SQL("r.warehouse_id"), "integer"),
        kept("location_id", SQL("r.location_id"), "integer"),
        kept("movement_type", SQL("r.movement_type"), "varchar"),
    )
    # The view's rows and, beside them, the journal's rows (by month in a
    # monthly view). Each branch is a plain scan, so that PostgreSQL can
    # merge them in the list's order (date, id) from the views' indexes.
    rows = SQL(
        """
        SELECT v.id, v.date, %(view_columns)s, v.qty_in, v.qty_out, v.move_count,
               %(fact_rows)s
          FROM %(view)s v
        UNION ALL
        SELECT %(offset)s + r.line_key, %(day)s, %(journal_columns)s, r.qty_in, r.qty_out,
               r.move_count, 1
          FROM (%(recent)s) r
        """,
        view=SQL.identifier(view),
        view_columns=view_columns,
        fact_rows=SQL("v.fact_rows") if month else SQL("1"),
        day=SQL("date_trunc('month', r.date)::date") if month else SQL("r.date"),
        journal_columns=journal_columns,
        offset=JOURNAL_ID_OFFSET,
        recent=RECENT_FACTS,
    )
    if "product_id" in dimensions:
        product = SQL("m.product_id, p.product_tmpl_id")
    else:
        product = SQL("NULL::integer AS product_id, NULL::integer AS product_tmpl_id")
    categ = (
        SQL("COALESCE(m.categ_key, t.categ_id)")
        if "categ_id" in dimensions
        else SQL("NULL::integer")
    )
    return SQL(
        """
        SELECT m.id, m.date, m.company_id, m.warehouse_id, m.location_id, %(product)s,
               %(categ)s AS categ_id, m.movement_type, m.qty_in, m.qty_out,
               m.qty_in - m.qty_out AS qty_net, m.move_count, m.fact_rows
          FROM (%(rows)s) m (id, date, company_id, warehouse_id, location_id, product_id,
                             categ_key, movement_type, qty_in, qty_out, move_count, fact_rows)
          LEFT JOIN product_product p ON p.id = m.product_id
          LEFT JOIN product_template t ON t.id = p.product_tmpl_id
        """,
        product=product,
        categ=categ,
        rows=rows,
    )


# What each movement report view answers: (materialized view, time grain,
# the dimensions it keeps, whether its categories are its own). The planner
# (stock.movement.report._sscale_rollup) reads the smallest view that covers
# a question.
PRODUCT_DIMENSIONS = frozenset({"product_id", "categ_id"})
REPORT_VIEWS = {
    "stock.movement.report": (MOVEMENT_MV, "day", ALL_DIMENSIONS, False),
    "stock.movement.month.report": (MOVEMENT_MONTH_MV, "month", ALL_DIMENSIONS, False),
    "stock.movement.location.month.report": (
        LOCATION_MONTH_MV,
        "month",
        ALL_DIMENSIONS - {"movement_type"},
        False,
    ),
    "stock.movement.product.month.report": (
        PRODUCT_MONTH_MV,
        "month",
        PRODUCT_DIMENSIONS | {"warehouse_id"},
        False,
    ),
    "stock.movement.company.product.month.report": (
        COMPANY_PRODUCT_MONTH_MV,
        "month",
        PRODUCT_DIMENSIONS,
        False,
    ),
    "stock.movement.warehouse.month.report": (
        WAREHOUSE_MONTH_MV,
        "month",
        frozenset({"warehouse_id", "movement_type"}),
        False,
    ),
    "stock.movement.category.month.report": (
        CATEGORY_MONTH_MV,
        "month",
        frozenset({"warehouse_id", "categ_id", "movement_type"}),
        True,
    ),
}


def report_query(model):
    """The SQL of the report view of ``model`` (a key of REPORT_VIEWS)."""
    view, grain, dimensions, stored_category = REPORT_VIEWS[model]
    return movement_report_query(view, grain == "month", dimensions, stored_category)


# One row per quant of an internal location (stock_scalable keeps one quant
# per key). The product and last-movement joins are LEFT JOINs on unique
# keys, so PostgreSQL drops them when a query does not ask for their columns
# (join removal): totals by warehouse read the quants alone.
#
# Last movement: the view's date, or a newer one from the recent journal.
# When the journal also removed a contribution of the key since the refresh
# (a done line's date, location or quantity edited, a done line deleted), the
# view's date may be gone: those keys (rare) read the ledger itself.
LAST_MOVEMENT = SQL(
    """
    CASE WHEN recent.removed
         THEN (SELECT MAX(ml.date) FROM stock_move_line ml
                WHERE ml.state = 'done' AND ml.product_id = q.product_id
                  AND q.location_id IN (ml.location_id, ml.location_dest_id)
                  AND COALESCE(ml.lot_id, 0) = COALESCE(q.lot_id, 0))
         ELSE GREATEST(lm.last_date, recent.last_date)
    END
    """
)

LEVEL_REPORT_QUERY = SQL(
    """
    SELECT q.id, q.company_id, l.warehouse_id, q.location_id, q.product_id,
           p.product_tmpl_id, t.categ_id, q.lot_id,
           q.quantity, q.reserved_quantity, q.quantity - q.reserved_quantity AS available_quantity,
           %(last)s AS last_movement_date,
           (NOW() AT TIME ZONE 'UTC')::date - (%(last)s)::date AS days_since_last_movement
      FROM stock_quant q
      JOIN stock_location l ON l.id = q.location_id AND l.usage = 'internal'
      LEFT JOIN product_product p ON p.id = q.product_id
      LEFT JOIN product_template t ON t.id = p.product_tmpl_id
      LEFT JOIN sscale_rpt_last_move lm
        ON lm.location_id = q.location_id AND lm.product_id = q.product_id
       AND lm.lot_key = COALESCE(q.lot_id, 0)
      LEFT JOIN (SELECT location_id, product_id, lot_key,
                        MAX(date) FILTER (WHERE sign > 0) AS last_date,
                        bool_or(sign < 0) AS removed
                   FROM (SELECT r.location_id, r.product_id, COALESCE(r.lot_id, 0) AS lot_key,
                                r.date, r.sign
                           FROM (%(recent)s) r
                         UNION ALL
                         SELECT r.location_dest_id, r.product_id, COALESCE(r.lot_id, 0), r.date,
                                r.sign
                           FROM (%(recent)s) r) ends
                  GROUP BY location_id, product_id, lot_key) recent
        ON recent.location_id = q.location_id AND recent.product_id = q.product_id
       AND recent.lot_key = COALESCE(q.lot_id, 0)
    """,
    recent=RECENT_JOURNAL,
    last=LAST_MOVEMENT,
)


def inventory_at_date_query(date, by_location=True, locations=None):
    """On-hand per internal location (of a warehouse) and product at the end
    of ``date`` (UTC days): today's quants minus the net movements dated
    after it: the rest of the day's month from the daily facts, the
    following months from the monthly facts by location, and the journal
    rows the views do not hold yet. A location's sub-locations have rows of
    their own (filter with ``child_of`` to sum them).

    Row id: ``location_id * 2**31 + product_id``, one per (location,
    product) whatever the ids (a product id is an SQL integer, below 2**31),
    and below 2**53 (the web client's integers) for location ids below
    2**22. The day is not in the id: the report model clears its cache
    before each read, so two days' figures never mix. No window function,
    so that a filter on products reaches the inner queries.

    Without ``by_location``: one row per warehouse and product (location
    left empty), read from the smaller product × warehouse rollup, for the
    questions that neither group nor filter by location. With
    ``locations`` (ids), only the rows of those locations, cut before the
    facts are summed."""
    if not by_location:
        return _inventory_by_warehouse_query(date)
    only = SQL("AND location_id = ANY(%s)", list(locations)) if locations is not None else SQL("")
    return SQL(
        """
        SELECT x.location_id::bigint * 2147483648 + x.product_id AS id,
               l.company_id, l.warehouse_id, x.location_id, x.product_id, p.product_tmpl_id,
               t.categ_id, %(date)s::date AS date, x.quantity
          FROM (SELECT location_id, product_id, SUM(qty) AS quantity
                  FROM (SELECT q.location_id, q.product_id, q.quantity AS qty
                          FROM stock_quant q
                         WHERE TRUE %(only)s
                        UNION ALL
                        -- the rest of the day's month, day by day
                        SELECT location_id, product_id, -(qty_in - qty_out)
                          FROM %(daily)s
                         WHERE date > %(date)s::date AND date < %(next_month)s::date %(only)s
                        UNION ALL
                        -- the following months, month by month
                        SELECT location_id, product_id, -(qty_in - qty_out)
                          FROM %(monthly)s
                         WHERE date >= %(next_month)s::date %(only)s
                        UNION ALL
                        -- what the views do not hold yet
                        SELECT location_id, product_id, -(qty_in - qty_out)
                          FROM (%(recent)s) recent
                         WHERE date > %(date)s::date %(only)s) moves
                 GROUP BY location_id, product_id) x
          JOIN stock_location l
            ON l.id = x.location_id AND l.usage = 'internal' AND l.warehouse_id IS NOT NULL
          LEFT JOIN product_product p ON p.id = x.product_id
          LEFT JOIN product_template t ON t.id = p.product_tmpl_id
        """,
        date=date,
        next_month=next_month(date),
        daily=SQL.identifier(MOVEMENT_MV),
        monthly=SQL.identifier(LOCATION_MONTH_MV),
        recent=RECENT_SIDES,
        only=only,
    )


def _inventory_by_warehouse_query(date):
    """``inventory_at_date_query`` by warehouse (no location), from the
    smaller monthly rollup by product and warehouse.

    On-hand per warehouse and product at the end of ``date`` (UTC days):
    today's quants minus the net movements dated after it: the rest of the
    day's month from the daily facts, the following months from the narrowest
    monthly rollup, and the journal rows the views do not hold yet.

    Row id: ``warehouse_id * 2**31 + product_id``, one per (warehouse,
    product) whatever the ids (a product id is an SQL integer, below 2**31),
    and below 2**53 (the web client's integers) for warehouse ids below
    2**22. The day is not in the id: the report model clears its cache
    before each read, so two days' figures never mix. No window function,
    so that a filter on products reaches the inner queries."""
    return SQL(
        """
        SELECT x.warehouse_id::bigint * 2147483648 + x.product_id AS id,
               w.company_id, x.warehouse_id, NULL::integer AS location_id, x.product_id,
               p.product_tmpl_id, t.categ_id,
               %(date)s::date AS date, x.quantity
          FROM (SELECT warehouse_id, product_id, SUM(qty) AS quantity
                  FROM (SELECT l.warehouse_id, q.product_id, q.quantity AS qty
                          FROM stock_quant q
                          JOIN stock_location l ON l.id = q.location_id AND l.usage = 'internal'
                         WHERE l.warehouse_id IS NOT NULL
                        UNION ALL
                        -- the rest of the day's month, day by day
                        SELECT warehouse_id, product_id, -(qty_in - qty_out)
                          FROM %(daily)s
                         WHERE date > %(date)s::date AND date < %(next_month)s::date
                           AND warehouse_id IS NOT NULL
                        UNION ALL
                        -- the following months, month by month
                        SELECT warehouse_id, product_id, -(qty_in - qty_out)
                          FROM %(monthly)s
                         WHERE date >= %(next_month)s::date AND warehouse_id IS NOT NULL
                        UNION ALL
                        -- what the views do not hold yet
                        SELECT warehouse_id, product_id, -(qty_in - qty_out)
                          FROM (%(recent)s) recent
                         WHERE date > %(date)s::date AND warehouse_id IS NOT NULL) moves
                 GROUP BY warehouse_id, product_id) x
          JOIN stock_warehouse w ON w.id = x.warehouse_id
          LEFT JOIN product_product p ON p.id = x.product_id
          LEFT JOIN product_template t ON t.id = p.product_tmpl_id
        """,
        date=date,
        next_month=next_month(date),
        daily=SQL.identifier(MOVEMENT_MV),
        monthly=SQL.identifier(PRODUCT_MONTH_MV),
        recent=RECENT_SIDES,
    )
