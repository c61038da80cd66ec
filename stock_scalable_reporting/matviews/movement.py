# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The movement facts: the materialized views of done move lines by day and
their monthly rollups (refreshed under the journal's watermark,
matviews/journal.py), and the report views that add the journal's recent
rows to them, shared by the movement report models (report/)."""

from odoo.tools import SQL

from odoo.addons.stock_scalable.lib import movement_types

from . import matview
from .journal import DONE_LINES, JOURNAL_ID_OFFSET, NOT_IN_VIEWS, RECENT_JOURNAL

MOVEMENT_MV = "sscale_rpt_movement"
MOVEMENT_MONTH_MV = "sscale_rpt_movement_month"
LOCATION_MONTH_MV = "sscale_rpt_location_month"
PRODUCT_MONTH_MV = "sscale_rpt_product_month"
COMPANY_PRODUCT_MONTH_MV = "sscale_rpt_company_product_month"
WAREHOUSE_MONTH_MV = "sscale_rpt_warehouse_month"
CATEGORY_MONTH_MV = "sscale_rpt_category_month"
LAST_MOVE_MV = "sscale_rpt_last_move"

# Whether a product changed category since the last refresh (the category
# rollup is then not read).
CATEGORY_ROLLUP_STALE = SQL(
    """
    SELECT EXISTS (SELECT 1 FROM sscale_rpt_category_change j, sscale_rpt_state s
                    WHERE s.id = 1 AND %s)
    """,
    NOT_IN_VIEWS,
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

# Refreshed in this order (each rollup reads the one before it); the
# In/Out counters' view comes after them (matviews/__init__.py).
MATERIALIZED_VIEWS = {
    # (date, id): the Stock Movements list's order, newest first.
    MOVEMENT_MV: matview.Definition(
        MOVEMENT_MV_QUERY,
        "Daily movements by location",
        [GRAIN, ["product_id", "date"], ["date", "id"]],
    ),
    MOVEMENT_MONTH_MV: matview.Definition(
        MOVEMENT_MONTH_MV_QUERY,
        "Monthly movements by location and type",
        [GRAIN, ["product_id", "date"]],
    ),
    LOCATION_MONTH_MV: matview.Definition(
        LOCATION_MONTH_MV_QUERY,
        "Monthly movements by location and product",
        [LOCATION_MONTH_GRAIN, ["product_id", "date"], ["location_id", "date"]],
    ),
    PRODUCT_MONTH_MV: matview.Definition(
        PRODUCT_MONTH_MV_QUERY,
        "Monthly movements by product and warehouse",
        [PRODUCT_MONTH_GRAIN, ["product_id", "date"]],
    ),
    COMPANY_PRODUCT_MONTH_MV: matview.Definition(
        COMPANY_PRODUCT_MONTH_MV_QUERY,
        "Monthly movements by product",
        [COMPANY_PRODUCT_MONTH_GRAIN],
    ),
    WAREHOUSE_MONTH_MV: matview.Definition(
        WAREHOUSE_MONTH_MV_QUERY,
        "Monthly movements by warehouse and type",
        [WAREHOUSE_MONTH_GRAIN],
    ),
    CATEGORY_MONTH_MV: matview.Definition(
        CATEGORY_MONTH_MV_QUERY, "Monthly movements by product category", [CATEGORY_MONTH_GRAIN]
    ),
    LAST_MOVE_MV: matview.Definition(
        LAST_MOVE_MV_QUERY,
        "Last movement per location, product and lot",
        [],
        unique=["location_id", "product_id", "lot_key"],
    ),
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
