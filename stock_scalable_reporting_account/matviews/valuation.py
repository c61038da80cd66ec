# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The SQL of the valuation reports: a journal of stock valuation layer
changes, the materialized views over ``stock_valuation_layer``, and the
report views that add the journal's recent rows to them.

Exact at read time the same way as the movement reports
(stock_scalable_reporting/matviews/journal.py): a trigger journals every change
of a layer's figures (+1 for the new values, -1 for the old ones, so that
FIFO's updates of ``remaining_qty`` and Odoo's recomputation of the stored
category count too), and a report reads the views plus the journal rows
that the last refresh's snapshot does not see (``journal.NOT_IN_VIEWS``).
The refresh is stock_scalable_reporting's (one snapshot for every view).

A layer's warehouse is Odoo's ``stock.valuation.layer.warehouse_id``: its
move's source location's warehouse when that location is internal, else its
destination's; none without a move (a revaluation).

Valuation at a date reads these views with SQL of its own, beside its
report (report/stock_valuation_date_report.py)."""

from odoo.tools import SQL

from odoo.addons.stock_scalable_reporting.matviews import journal, matview

PREFIX = "sscale_rpt_val_"
JOURNAL = "sscale_rpt_val_journal"
DAY_MV = "sscale_rpt_val_day"
MONTH_MV = "sscale_rpt_val_month"
CATEGORY_MONTH_MV = "sscale_rpt_val_category_month"
TOTAL_MV = "sscale_rpt_val_total"
CATEGORY_DAY_MV = "sscale_rpt_val_category_day"
FIRST_DAY_MV = "sscale_rpt_val_first_day"

# Pending ORM writes of these fields are flushed before a report is read (the
# journal trigger sees them then).
LAYER_FIELDS = {
    "stock.valuation.layer": [
        "create_date",
        "company_id",
        "product_id",
        "categ_id",
        "stock_move_id",
        "quantity",
        "value",
        "remaining_qty",
        "remaining_value",
    ],
}

JOURNAL_TABLE = SQL(
    """
    CREATE TABLE IF NOT EXISTS sscale_rpt_val_journal (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        layer_id integer NOT NULL,
        -- a layer's create_date (empty on layers some migrations make)
        date timestamp,
        company_id integer NOT NULL,
        product_id integer NOT NULL,
        categ_id integer,
        stock_move_id integer,
        quantity numeric NOT NULL,
        value numeric NOT NULL,
        remaining_qty numeric NOT NULL,
        remaining_value numeric NOT NULL,
        sign smallint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sscale_rpt_val_journal_xid_idx ON sscale_rpt_val_journal (xid);
    """
)
CREATE_JOURNAL = SQL(
    "%s%s",
    JOURNAL_TABLE,
    journal.journal_triggers(
        "stock_valuation_layer",
        JOURNAL,
        [
            ("layer_id", "{row}.id"),
            ("date", "{row}.create_date"),
            ("company_id", "{row}.company_id"),
            ("product_id", "{row}.product_id"),
            ("categ_id", "{row}.categ_id"),
            ("stock_move_id", "{row}.stock_move_id"),
            ("quantity", "COALESCE({row}.quantity, 0)"),
            ("value", "COALESCE({row}.value, 0)"),
            ("remaining_qty", "COALESCE({row}.remaining_qty, 0)"),
            ("remaining_value", "COALESCE({row}.remaining_value, 0)"),
            ("sign", "{sign}"),
        ],
        LAYER_FIELDS["stock.valuation.layer"],
    ),
)

# The columns a layer contributes (alias x: a layer or a journal row with
# their columns; its move's locations give the warehouse).
FIGURES = ["quantity", "value", "remaining_qty", "remaining_value", "layer_count"]


def layer_rows(source, signed):
    """One row per layer of ``source`` (SQL with the journal's columns, or
    the layers themselves) with its day, warehouse and figures (times the
    journal's sign with ``signed``)."""
    sign = SQL("x.sign *") if signed else SQL("")
    return SQL(
        """
        SELECT x.id AS line_key, x.date::date AS date, x.company_id,
               CASE WHEN ls.usage = 'internal' THEN ls.warehouse_id ELSE ld.warehouse_id END
                   AS warehouse_id,
               x.categ_id, x.product_id,
               %(sign)s x.quantity AS quantity, %(sign)s x.value AS value,
               %(sign)s x.remaining_qty AS remaining_qty,
               %(sign)s x.remaining_value AS remaining_value,
               %(count)s AS layer_count
          FROM (%(source)s) x
          LEFT JOIN stock_move m ON m.id = x.stock_move_id
          LEFT JOIN stock_location ls ON ls.id = m.location_id
          LEFT JOIN stock_location ld ON ld.id = m.location_dest_id
        """,
        sign=sign,
        count=SQL("x.sign") if signed else SQL("1"),
        source=source,
    )


LAYERS = SQL(
    """
    SELECT id, create_date AS date, company_id, product_id, categ_id, stock_move_id,
           COALESCE(quantity, 0) AS quantity, COALESCE(value, 0) AS value,
           COALESCE(remaining_qty, 0) AS remaining_qty,
           COALESCE(remaining_value, 0) AS remaining_value
      FROM stock_valuation_layer
    """
)

# The journal rows the views do not hold, summed by daily key (one row per
# day, company, warehouse, category and product, unless they sum to
# nothing), with the first journal row's id as ``line_key`` (an id for the
# row). The journal is read once (a
# materialized CTE), whatever plan joins it to the moves.
RECENT_FACTS = SQL(
    """
    WITH recent AS MATERIALIZED (
        SELECT j.* FROM sscale_rpt_val_journal j, sscale_rpt_state s WHERE s.id = 1 AND %s
    )
    SELECT date, company_id, warehouse_id, categ_id, product_id,
           SUM(quantity) AS quantity, SUM(value) AS value, SUM(remaining_qty) AS remaining_qty,
           SUM(remaining_value) AS remaining_value, SUM(layer_count)::integer AS layer_count,
           MIN(line_key) AS line_key
      FROM (%s) sides
     GROUP BY date, company_id, warehouse_id, categ_id, product_id
    -- Changes that cancel out (a layer inserted, then given its category by
    -- Odoo in the same transaction) are no row.
    HAVING SUM(layer_count) <> 0 OR SUM(quantity) <> 0 OR SUM(value) <> 0
        OR SUM(remaining_qty) <> 0 OR SUM(remaining_value) <> 0
    """,
    journal.NOT_IN_VIEWS,
    layer_rows(SQL("SELECT * FROM recent"), signed=True),
)

SUMS = SQL(
    """
    SUM(quantity) AS quantity, SUM(value) AS value, SUM(remaining_qty) AS remaining_qty,
    SUM(remaining_value) AS remaining_value, SUM(layer_count)::integer AS layer_count
    """
)
GRAIN = ["date", "company_id", "warehouse_id", "categ_id", "product_id"]

# Day × company × warehouse × category × product.
DAY_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, categ_id, product_id)
               AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, categ_id, product_id, %s
              FROM (%s) layers
             GROUP BY date, company_id, warehouse_id, categ_id, product_id) f
    """,
    SUMS,
    layer_rows(LAYERS, signed=False),
)

# The same by month; ``fact_rows``: the daily rows each stands for.
MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, categ_id, product_id)
               AS id, f.*
      FROM (SELECT date_trunc('month', date)::date AS date, company_id, warehouse_id,
                   categ_id, product_id, %s, COUNT(*)::integer AS fact_rows
              FROM sscale_rpt_val_day
             GROUP BY 1, 2, 3, 4, 5) f
    """,
    SUMS,
)

# Month × company × warehouse × category (no product): a few rows a month.
CATEGORY_MONTH_GRAIN = ["date", "company_id", "warehouse_id", "categ_id"]
CATEGORY_MONTH_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, categ_id) AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, categ_id, %s,
                   SUM(fact_rows)::integer AS fact_rows
              FROM sscale_rpt_val_month
             GROUP BY 1, 2, 3, 4) f
    """,
    SUMS,
)

# Day × company × warehouse × category (no product): for valuation at a
# date by category, the days of the day's month up to it.
CATEGORY_DAY_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY date, company_id, warehouse_id, categ_id) AS id, f.*
      FROM (SELECT date, company_id, warehouse_id, categ_id, %s
              FROM sscale_rpt_val_day
             GROUP BY 1, 2, 3, 4) f
    """,
    SUMS,
)

# Company × warehouse × product, all dates (layers without a create_date
# left out, as Odoo's Valuation at Date leaves them): today's figures as of
# the refresh, for valuation at a date (today's minus what came after), the
# day of the key's first layer (whether it has layers at a date), and the
# product's category at the refresh (``categ_id``: the category of the
# key's row in the by-product valuation at a date).
TOTAL_GRAIN = ["product_id", "company_id", "warehouse_id"]
TOTAL_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY f.product_id, f.company_id, f.warehouse_id) AS id, f.*,
           t.categ_id
      FROM (SELECT product_id, company_id, warehouse_id, %s, MIN(date) AS first_date
              FROM sscale_rpt_val_day
             -- a layer without create_date is at no date
             WHERE date IS NOT NULL
             GROUP BY 1, 2, 3) f
      LEFT JOIN product_product p ON p.id = f.product_id
      LEFT JOIN product_template t ON t.id = p.product_tmpl_id
    """,
    SUMS,
)

# Company × warehouse × the products' category × first layer day: how many
# keys of TOTAL_MV first have layers that day (``product_rows``), for the
# count of a by-category valuation at a date.
FIRST_DAY_GRAIN = ["company_id", "warehouse_id", "categ_id", "first_date"]
FIRST_DAY_MV_QUERY = SQL(
    """
    SELECT row_number() OVER (ORDER BY first_date, company_id, warehouse_id, categ_id) AS id,
           f.*
      FROM (SELECT company_id, warehouse_id, categ_id, first_date,
                   COUNT(*)::integer AS product_rows
              FROM sscale_rpt_val_total
             GROUP BY 1, 2, 3, 4) f
    """
)

# Refreshed after stock_scalable_reporting's, in this order.
MATERIALIZED_VIEWS = {
    DAY_MV: matview.Definition(
        DAY_MV_QUERY, "Daily valuation by product", [GRAIN, ["product_id", "date"], ["date", "id"]]
    ),
    MONTH_MV: matview.Definition(
        MONTH_MV_QUERY, "Monthly valuation by product", [GRAIN, ["product_id", "date"]]
    ),
    CATEGORY_MONTH_MV: matview.Definition(
        CATEGORY_MONTH_MV_QUERY, "Monthly valuation by product category", [CATEGORY_MONTH_GRAIN]
    ),
    CATEGORY_DAY_MV: matview.Definition(
        CATEGORY_DAY_MV_QUERY, "Daily valuation by product category", [CATEGORY_MONTH_GRAIN]
    ),
    TOTAL_MV: matview.Definition(
        TOTAL_MV_QUERY, "Valuation by product and warehouse", [TOTAL_GRAIN]
    ),
    FIRST_DAY_MV: matview.Definition(
        FIRST_DAY_MV_QUERY, "Products by first valuation day", [FIRST_DAY_GRAIN]
    ),
}

DIMENSIONS = ("warehouse_id", "categ_id", "product_id")
ALL_DIMENSIONS = frozenset(DIMENSIONS)
# What each valuation report view answers: (materialized view, time grain,
# the dimensions it keeps). The planner reads the smallest that covers a
# question.
REPORT_VIEWS = {
    "stock.valuation.report": (DAY_MV, "day", ALL_DIMENSIONS),
    "stock.valuation.month.report": (MONTH_MV, "month", ALL_DIMENSIONS),
    "stock.valuation.category.month.report": (
        CATEGORY_MONTH_MV,
        "month",
        frozenset({"warehouse_id", "categ_id"}),
    ),
}


def report_query(model):
    """Rows of the materialized view of ``model`` (a key of REPORT_VIEWS)
    plus the recent journal (RECENT_FACTS), by day (by month in a monthly
    view), with the dimensions the view does not keep left NULL. Each
    branch is a plain scan, so that PostgreSQL merges them in the list's
    order (date, id) from the views' indexes. ``fact_rows``: the daily rows
    each row stands for, so that a count is the same whichever answers."""
    view, grain, dimensions = REPORT_VIEWS[model]
    month = grain == "month"
    product = SQL("v.product_id") if "product_id" in dimensions else SQL("NULL::integer")
    rows = SQL(
        """
        SELECT v.id, v.date, v.company_id, v.warehouse_id, v.categ_id, %(product)s,
               v.quantity, v.value, v.remaining_qty, v.remaining_value, v.layer_count,
               %(fact_rows)s
          FROM %(view)s v
        UNION ALL
        SELECT %(offset)s + r.line_key, %(day)s, r.company_id, r.warehouse_id, r.categ_id,
               %(journal_product)s, r.quantity, r.value, r.remaining_qty, r.remaining_value,
               r.layer_count, 1
          FROM (%(recent)s) r
        """,
        view=SQL.identifier(view),
        product=product,
        fact_rows=SQL("v.fact_rows") if month else SQL("1"),
        offset=journal.JOURNAL_ID_OFFSET,
        day=SQL("date_trunc('month', r.date)::date") if month else SQL("r.date"),
        journal_product=(
            SQL("r.product_id") if "product_id" in dimensions else SQL("NULL::integer")
        ),
        recent=RECENT_FACTS,
    )
    return SQL(
        """
        SELECT m.id, m.date, m.company_id, c.currency_id, m.warehouse_id, m.categ_id,
               m.product_id, p.product_tmpl_id, m.quantity, m.value, m.remaining_qty,
               m.remaining_value, m.layer_count, m.fact_rows
          FROM (%s) m (id, date, company_id, warehouse_id, categ_id, product_id, quantity,
                       value, remaining_qty, remaining_value, layer_count, fact_rows)
          JOIN res_company c ON c.id = m.company_id
          LEFT JOIN product_product p ON p.id = m.product_id
        """,
        rows,
    )
