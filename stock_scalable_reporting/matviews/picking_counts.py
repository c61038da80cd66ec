# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The product form's In/Out counters: done move lines by month and the
code of their transfer's operation type, a materialized view under the
journal's watermark (matviews/journal.py), read by product.product."""

from odoo.tools import SQL

from . import matview
from .journal import NOT_IN_VIEWS, next_month

PICKING_COUNT_MV = "sscale_rpt_picking_count_month"

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


MATERIALIZED_VIEWS = {
    PICKING_COUNT_MV: matview.Definition(
        PICKING_COUNT_MV_QUERY,
        "Monthly receipts and deliveries per product",
        [PICKING_COUNT_GRAIN],
    ),
}
