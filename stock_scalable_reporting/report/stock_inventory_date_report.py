# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from ..matviews.journal import LEDGER_FIELDS, next_month
from ..matviews.movement import LOCATION_MONTH_MV, MOVEMENT_MV, PRODUCT_MONTH_MV, RECENT_SIDES
from .stock_level_report import QUANT_FIELDS


def _at_date(query, date, monthly, **params):
    """``query`` (text) with the day (``date``), the first of the next month
    (``next_month``), the daily facts (``daily``), the monthly facts of view
    ``monthly`` (``monthly``) and the journal's recent sides (``recent``)."""
    return SQL(
        query,
        date=date,
        next_month=next_month(date),
        daily=SQL.identifier(MOVEMENT_MV),
        monthly=SQL.identifier(monthly),
        recent=RECENT_SIDES,
        **params,
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
    return _at_date(
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
        date,
        LOCATION_MONTH_MV,
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
    return _at_date(
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
        date,
        PRODUCT_MONTH_MV,
    )


class StockInventoryDateReport(models.Model):
    """On-hand per internal location and product at the end of a past day
    (UTC): today's quants minus the net movements dated after it, read from
    the movement facts. The day comes from the context (``inventory_date``),
    set by the Inventory at Date wizard. Lots and packages at a date:
    Odoo's own Inventory at Date (``qty_available`` with ``to_date``,
    models/product_product.py)."""

    _name = "stock.inventory.date.report"
    _inherit = ["stock.report.at.date.mixin", "stock.report.location.mixin"]
    _description = "Inventory at Date"
    _auto = False
    _order = "warehouse_id, location_id, product_id"
    _rec_name = "product_id"
    _depends = {**LEDGER_FIELDS, **QUANT_FIELDS}
    _sscale_date_key = "inventory_date"

    quantity = fields.Float(
        string="On Hand at Date", readonly=True, digits="Product Unit of Measure"
    )

    def _sscale_query_at(self, day):
        return inventory_at_date_query(
            day,
            by_location=self.env.context.get("sscale_inventory_by_location", True),
            locations=self.env.context.get("sscale_inventory_locations"),
        )

    @api.model
    def _sscale_domain_locations(self, domain):
        """The ids of the locations a domain keeps, from its first top-level
        condition on the location (``=``, ``in``, ``child_of``), when the
        domain is a plain AND of conditions; None otherwise. A superset of
        the rows the whole domain keeps, so that the facts can be cut to them
        before they are summed (the domain still applies after)."""
        leaves = list(domain or [])
        if any(leaf in ("|", "!") for leaf in leaves):
            return None
        for leaf in leaves:
            if (
                isinstance(leaf, list | tuple)
                and len(leaf) == 3
                and leaf[0] == "location_id"
                and leaf[1] in ("=", "in", "child_of")
            ):
                Location = self.env["stock.location"].with_context(active_test=False)
                return Location.search([("id", leaf[1], leaf[2])]).ids
        return None

    @api.model
    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        # A question that neither groups nor filters by location is answered
        # by warehouse, from the smaller rollup.
        fields_used = self._sscale_fields_used(domain, groupby)
        report = self
        if "location_id" not in fields_used and not (order and "location_id" in order):
            report = self.with_context(sscale_inventory_by_location=False)
        else:
            locations = self._sscale_domain_locations(domain)
            if locations is not None:
                report = self.with_context(sscale_inventory_locations=tuple(locations))
        # A few thousand index rows: parallel workers would take longer to
        # start than the query takes.
        with self._sscale_settings(max_parallel_workers_per_gather=0):
            return super(StockInventoryDateReport, report)._read_group(
                domain, groupby, aggregates, having, offset, limit, order
            )
