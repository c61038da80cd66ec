# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.stock_scalable_reporting.matviews.journal import NOT_IN_VIEWS, next_month

from ..matviews.valuation import (
    CATEGORY_DAY_MV,
    CATEGORY_MONTH_MV,
    DAY_MV,
    FIRST_DAY_MV,
    LAYER_FIELDS,
    LAYERS,
    MONTH_MV,
    RECENT_FACTS,
    TOTAL_MV,
    layer_rows,
)


def valuation_at_date_query(date, by_product=True):
    """Quantity and value per company, warehouse and product at the end of
    ``date`` (UTC days): the layers created up to then, as Odoo's Valuation
    at Date sums them (``create_date <= date``).

    By product: today's figures (TOTAL_MV plus the whole journal) minus
    what came after the day: the following months from the monthly view,
    the rest of the day's month from the daily view, the journal's rows
    dated after it. The category is the product's. Row id:
    ``product_id * 2**22`` plus the warehouse id (below 2**21), or 2**21 plus
    the company id for layers without a warehouse: one per row, below 2**53
    (the web client's integers).

    A row per key that has layers up to the day (as a group of Odoo's
    grouping of the layers). ``product_rows``: the by-product rows a row
    stands for (1 here), so that a count is the same whichever answers.

    Without ``by_product``: per company, warehouse and category, from the
    category rollup's months before the day's month, its days in the day's
    month up to the day, and the journal up to the day (the product left
    empty), with the by-product rows each stands for
    (``_product_rows_query``); row id as above with the category id."""
    if by_product:
        return SQL(
            """
            SELECT x.product_id::bigint * 4194304
                       + COALESCE(x.warehouse_id, 2097152 + x.company_id) AS id,
                   x.company_id, c.currency_id, x.warehouse_id, t.categ_id, x.product_id,
                   p.product_tmpl_id, %(date)s::date AS date, x.quantity, x.value,
                   1 AS product_rows
              FROM (SELECT company_id, warehouse_id, product_id, SUM(quantity) AS quantity,
                           SUM(value) AS value
                      FROM (SELECT company_id, warehouse_id, product_id, quantity, value,
                                   layer_count
                              FROM %(total)s
                            UNION ALL
                            SELECT company_id, warehouse_id, product_id, -quantity, -value,
                                   -layer_count
                              FROM %(monthly)s WHERE date >= %(next_month)s::date
                            UNION ALL
                            SELECT company_id, warehouse_id, product_id, -quantity, -value,
                                   -layer_count
                              FROM %(daily)s
                             WHERE date > %(date)s::date AND date < %(next_month)s::date
                            UNION ALL
                            SELECT company_id, warehouse_id, product_id, quantity, value,
                                   layer_count
                              FROM (%(recent)s) recent WHERE date <= %(date)s::date) layers
                     GROUP BY company_id, warehouse_id, product_id
                     -- a row per key with layers up to the day, as Odoo's
                     -- grouping of the layers has a group
                    HAVING SUM(layer_count) <> 0) x
              JOIN res_company c ON c.id = x.company_id
              JOIN product_product p ON p.id = x.product_id
              JOIN product_template t ON t.id = p.product_tmpl_id
            """,
            date=date,
            next_month=next_month(date),
            total=SQL.identifier(TOTAL_MV),
            monthly=SQL.identifier(MONTH_MV),
            daily=SQL.identifier(DAY_MV),
            recent=RECENT_FACTS,
        )
    return SQL(
        """
        SELECT COALESCE(x.categ_id, n.categ_id, 0)::bigint * 4194304
                   + COALESCE(x.warehouse_id, n.warehouse_id,
                              2097152 + COALESCE(x.company_id, n.company_id)) AS id,
               c.id AS company_id, c.currency_id,
               COALESCE(x.warehouse_id, n.warehouse_id) AS warehouse_id,
               COALESCE(x.categ_id, n.categ_id) AS categ_id,
               NULL::integer AS product_id, NULL::integer AS product_tmpl_id,
               %(date)s::date AS date, COALESCE(x.quantity, 0) AS quantity,
               COALESCE(x.value, 0) AS value, COALESCE(n.product_rows, 0) AS product_rows
          FROM (SELECT company_id, warehouse_id, categ_id, SUM(quantity) AS quantity,
                       SUM(value) AS value
                  FROM (SELECT company_id, warehouse_id, categ_id, quantity, value
                          FROM %(category)s WHERE date < %(month)s::date
                        UNION ALL
                        SELECT company_id, warehouse_id, categ_id, quantity, value
                          FROM %(category_daily)s
                         WHERE date >= %(month)s::date AND date <= %(date)s::date
                        UNION ALL
                        SELECT company_id, warehouse_id, categ_id, quantity, value
                          FROM (%(recent)s) recent WHERE date <= %(date)s::date) layers
                 GROUP BY company_id, warehouse_id, categ_id) x
          FULL JOIN (%(counts)s) n
            ON n.company_id = x.company_id AND n.categ_id IS NOT DISTINCT FROM x.categ_id
           AND n.warehouse_id IS NOT DISTINCT FROM x.warehouse_id
          JOIN res_company c ON c.id = COALESCE(x.company_id, n.company_id)
        """,
        date=date,
        month=date.replace(day=1),
        category=SQL.identifier(CATEGORY_MONTH_MV),
        category_daily=SQL.identifier(CATEGORY_DAY_MV),
        recent=RECENT_FACTS,
        counts=_product_rows_query(date),
    )


def _product_rows_query(date):
    """Per company, warehouse and category: how many rows the by-product
    valuation at the end of ``date`` has (keys of company, warehouse and
    product with layers up to the day), for the count of a by-category
    answer.

    FIRST_DAY_MV counts the keys by first layer day as of the refresh. The
    products with journal rows since the refresh (new, changed or deleted
    layers, a new category) are taken out of it with their TOTAL_MV rows
    and counted again: a key's first layer day comes from TOTAL_MV, or from
    the journal for layers created since the refresh; the keys of a
    product that lost a layer or whose layer changed day since the refresh
    (a journal row not undone by a newer one of the same layer and day,
    rare) are read from the layers themselves."""
    return SQL(
        """
        WITH journal AS MATERIALIZED (
            SELECT j.company_id, j.product_id, j.stock_move_id, j.layer_id, j.date,
                   SUM(j.sign) AS net
              FROM sscale_rpt_val_journal j, sscale_rpt_state s
             WHERE s.id = 1 AND %(not_in_views)s
             GROUP BY j.company_id, j.product_id, j.stock_move_id, j.layer_id, j.date
        ), touched AS MATERIALIZED (
            SELECT DISTINCT company_id, product_id FROM journal
        ), removed AS MATERIALIZED (
            SELECT DISTINCT company_id, product_id FROM journal WHERE net < 0
        ), touched_totals AS MATERIALIZED (
            SELECT v.company_id, v.warehouse_id, v.product_id, v.categ_id, v.first_date
              FROM %(total)s v
              JOIN touched d ON d.product_id = v.product_id AND d.company_id = v.company_id
        ), keys AS (
            SELECT k.company_id, k.warehouse_id, k.product_id, k.first_date
              FROM (SELECT company_id, warehouse_id, product_id, first_date
                      FROM touched_totals
                    UNION ALL
                    SELECT company_id, warehouse_id, product_id, date
                      FROM (%(new_layers)s) l) k
             WHERE NOT EXISTS (SELECT 1 FROM removed r
                                WHERE r.company_id = k.company_id
                                  AND r.product_id = k.product_id)
            UNION ALL
            SELECT l.company_id, l.warehouse_id, l.product_id, l.date
              FROM (%(removed_layers)s) l
        )
        SELECT company_id, warehouse_id, categ_id, SUM(product_rows) AS product_rows
          FROM (SELECT company_id, warehouse_id, categ_id, product_rows
                  FROM %(first_day)s WHERE first_date <= %(date)s::date
                UNION ALL
                SELECT company_id, warehouse_id, categ_id, -1
                  FROM touched_totals WHERE first_date <= %(date)s::date
                UNION ALL
                SELECT k.company_id, k.warehouse_id, t.categ_id, 1
                  FROM (SELECT company_id, warehouse_id, product_id,
                               MIN(first_date) AS first_date
                          FROM keys GROUP BY company_id, warehouse_id, product_id) k
                  JOIN product_product p ON p.id = k.product_id
                  JOIN product_template t ON t.id = p.product_tmpl_id
                 WHERE k.first_date <= %(date)s::date) counts
         GROUP BY company_id, warehouse_id, categ_id
        HAVING SUM(product_rows) <> 0
        """,
        not_in_views=NOT_IN_VIEWS,
        total=SQL.identifier(TOTAL_MV),
        first_day=SQL.identifier(FIRST_DAY_MV),
        # Layers created since the refresh (their journal rows add up to one).
        new_layers=layer_rows(
            SQL(
                """
                SELECT layer_id AS id, date, company_id, product_id, NULL::integer AS categ_id,
                       stock_move_id, 0 AS quantity, 0 AS value, 0 AS remaining_qty,
                       0 AS remaining_value
                  FROM journal WHERE net > 0
                """
            ),
            signed=False,
        ),
        # The layers of the products that lost one, through Odoo's index,
        # which leads with the product.
        removed_layers=layer_rows(
            SQL(
                """
                %s WHERE product_id = ANY(ARRAY(SELECT product_id FROM removed))
                   AND (company_id, product_id) IN (SELECT company_id, product_id FROM removed)
                """,
                LAYERS,
            ),
            signed=False,
        ),
        date=date,
    )


class StockValuationDateReport(models.Model):
    """Quantity and value per company, warehouse and product at the end of a
    past day (UTC): the valuation layers created up to then, as Odoo's
    Valuation at Date sums them. The day comes from the context
    (``valuation_date``), set by the Valuation at Date wizard."""

    _name = "stock.valuation.date.report"
    _inherit = "stock.report.at.date.mixin"
    _description = "Valuation at Date"
    _auto = False
    _order = "warehouse_id, product_id, id"
    _rec_name = "product_id"
    _depends = LAYER_FIELDS
    _sscale_date_key = "valuation_date"

    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", string="Receipt WH", readonly=True)
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    quantity = fields.Float(
        string="Quantity at Date", readonly=True, digits="Product Unit of Measure"
    )
    value = fields.Monetary(string="Value at Date", readonly=True)

    def _sscale_query_at(self, day):
        return valuation_at_date_query(
            day, by_product=self.env.context.get("sscale_valuation_by_product", True)
        )

    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec == "__count":
            # The by-product rows each row stands for: the count is the same
            # by product or by category.
            return SQL("SUM(%s)::integer", SQL.identifier(self._table, "product_rows"))
        return super()._read_group_select(aggregate_spec, query)

    @api.model
    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        # A question that groups, filters and sorts only by company,
        # warehouse and category, and asks sums and counts, is answered by
        # category, from the category rollup (a filter on the figures
        # applies to each product's row: by product).
        used = self._sscale_fields_used(domain, groupby)
        sums = {"quantity:sum", "value:sum", "__count"}
        report = self
        if (
            used <= {"company_id", "warehouse_id", "categ_id"}
            and set(aggregates) <= sums
            and not having
            and not (order and "product" in order)
        ):
            report = self.with_context(sscale_valuation_by_product=False)
        return super(StockValuationDateReport, report)._read_group(
            domain, groupby, aggregates, having, offset, limit, order
        )
