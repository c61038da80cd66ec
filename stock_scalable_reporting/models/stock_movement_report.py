# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo import api, fields, models, tools
from odoo.osv import expression
from odoo.tools import SQL

from ..tools import ledger

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
QUANT_FIELDS = {
    "stock.quant": ["quantity", "reserved_quantity", "location_id", "product_id", "lot_id"]
}

# Fields of the movement reports that stand for another: a view that keeps
# the product keeps its template.
SAME_AS = {"product_tmpl_id": "product_id"}
MONTH_MEASURES = {"qty_in:sum", "qty_out:sum", "qty_net:sum", "move_count:sum", "__count"}


def _month_bound(operator, value):
    """Whether a date condition falls on month boundaries."""
    try:
        day = fields.Date.to_date(value)
    except (TypeError, ValueError):
        return False
    if not isinstance(day, datetime.date):
        return False
    if operator in (">=", "<"):
        return day.day == 1
    if operator in (">", "<="):
        return (day + datetime.timedelta(days=1)).day == 1
    return False


def monthly_fields(domain, groupby, aggregates, having, measures, dimensions):
    """The fields (of ``dimensions``, company aside) a report question
    groups or filters by, when it only needs whole months and the
    aggregates of ``measures`` (sums, so that a monthly rollup gives the
    same answer); None otherwise. The question is ``_read_group``'s
    arguments."""
    if not set(aggregates) <= measures or having:
        return None
    used = set()
    for spec in groupby:
        name, _sep, granularity = spec.partition(":")
        if name == "date":
            if granularity not in ("month", "quarter", "year"):
                return None
        else:
            used.add(name)
    for leaf in domain or []:
        if not isinstance(leaf, list | tuple) or len(leaf) != 3:
            if leaf in expression.DOMAIN_OPERATORS:
                continue
            return None
        name, operator, value = leaf
        field = str(name).split(".", 1)[0]
        if field == "date":
            if not _month_bound(operator, value):
                return None
        else:
            used.add(field)
    used = {SAME_AS.get(name, name) for name in used} - {"company_id"}
    return used if used <= dimensions else None


MOVEMENT_TYPES = [
    ("receipt", "Receipt"),
    ("sale", "Sale"),
    ("return", "Return"),
    ("transfer_in", "Transfer In"),
    ("transfer_out", "Transfer Out"),
    ("adjustment", "Adjustment"),
    ("scrap", "Scrap"),
    ("production", "Production"),
    ("internal", "Internal"),
]


class StockReportViewMixin(models.AbstractModel):
    """A report model whose table is a view over the reporting views."""

    _name = "stock.report.view.mixin"
    _inherit = "stock.report.read.group.mixin"
    _description = "Stock Report on Materialized Views"

    def _create_report_view(self, query):
        # stock.report.refresh's init() made the views this one reads.
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS %s", SQL.identifier(self._table), query)
        )

    def action_refresh_now(self):
        return self.env["stock.report.refresh"].action_refresh_now()

    # The planner, for daily report models: the aggregates a monthly rollup
    # answers alike (sums, and __count as the daily rows it stands for).
    _sscale_month_measures = frozenset()

    @api.model
    def _sscale_report_views(self):
        """{report model: (materialized view, "day" or "month", the fields
        it keeps)}: the views the planner may send this model's questions
        to (none here)."""
        return {}

    @api.model
    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        rollup = self._sscale_rollup(domain, groupby, aggregates, having)
        if rollup:
            return self.env[rollup]._read_group(
                domain, groupby, aggregates, having, offset, limit, order
            )
        return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

    @api.model
    def _sscale_rollup(self, domain, groupby, aggregates, having):
        """The planner: for a daily report model, the smallest monthly view
        that gives the same answer, or None (this model's view answers). A
        view can answer when the question only needs whole months and
        ``_sscale_month_measures``, and the view keeps every field the
        question groups or filters by (``_sscale_report_views``); among
        those, the one with the fewest rows (``_sscale_smallest_view``)."""
        views = self._sscale_report_views()
        if self._name not in views or views[self._name][1] != "day":
            return None
        used = monthly_fields(
            domain, groupby, aggregates, having, self._sscale_month_measures, views[self._name][2]
        )
        if used is None:
            return None
        candidates = {
            model: view
            for model, (view, grain, dimensions) in views.items()
            if grain == "month" and used <= dimensions and self._sscale_rollup_usable(model)
        }
        return self._sscale_smallest_view(
            candidates, {model: spec[2] for model, spec in views.items()}
        )

    @api.model
    def _sscale_rollup_usable(self, model):
        """Whether the planner may read ``model``'s view now."""
        return True

    @api.model
    def _sscale_smallest_view(self, candidates, dimensions):
        """Of ``candidates`` ({report model: materialized view}), the model
        whose view has the fewest rows by PostgreSQL's statistics
        (``reltuples``, taken by each refresh's ANALYZE); at equal rows, the
        one that keeps fewer fields (``dimensions``: {model: fields}). None
        without candidates."""
        if not candidates:
            return None
        self.env.cr.execute(
            SQL(
                "SELECT relname, reltuples FROM pg_class WHERE relkind = 'm' AND relname IN %s",
                tuple(candidates.values()),
            )
        )
        rows = dict(self.env.cr.fetchall())

        def size(model):
            # Never analyzed (-1) or missing: after the others.
            tuples = rows.get(candidates[model], -1)
            return (tuples < 0, tuples, len(dimensions[model]))

        return min(candidates, key=size)


class StockMovementReportMixin(models.AbstractModel):
    _name = "stock.movement.report.mixin"
    _inherit = "stock.report.view.mixin"
    _description = "Stock Movement Facts"
    _auto = False
    _rec_name = "product_id"
    _depends = LEDGER_FIELDS

    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    location_id = fields.Many2one("stock.location", string="Location", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    movement_type = fields.Selection(MOVEMENT_TYPES, readonly=True)
    qty_in = fields.Float(string="Quantity In", readonly=True, digits="Product Unit of Measure")
    qty_out = fields.Float(string="Quantity Out", readonly=True, digits="Product Unit of Measure")
    qty_net = fields.Float(string="Net Quantity", readonly=True, digits="Product Unit of Measure")
    move_count = fields.Integer(string="# Move Lines", readonly=True)

    def init(self):
        # Each movement report model's view (ledger.REPORT_VIEWS); Odoo
        # calls init() on this abstract model too.
        if self._name in ledger.REPORT_VIEWS:
            self._create_report_view(ledger.report_query(self._name))


class StockReportRollupMixin(models.AbstractModel):
    """A report view rolled up by month: every row is dated on the first
    day of its month and carries ``fact_rows``, the daily rows it stands for."""

    _name = "stock.report.rollup.mixin"
    _inherit = "stock.report.view.mixin"
    _description = "Stock Report Facts by Month"

    def _read_group_groupby(self, groupby_spec, query):
        if groupby_spec == "date:month":
            # Already the first of the month: the column itself.
            return self._field_to_sql(self._table, "date", query)
        return super()._read_group_groupby(groupby_spec, query)

    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec == "__count":
            # The daily report's rows that the monthly ones stand for: the
            # count its list shows, whichever view answers.
            return SQL("SUM(%s)::integer", SQL.identifier(self._table, "fact_rows"))
        return super()._read_group_select(aggregate_spec, query)


class StockMovementRollupMixin(models.AbstractModel):
    """Movement facts rolled up by month."""

    _name = "stock.movement.rollup.mixin"
    _inherit = ["stock.movement.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Movement Facts by Month"


class StockMovementMonthReport(models.Model):
    """The movement facts by month (no menu: stock.movement.report reads it
    for questions that only need months)."""

    _name = "stock.movement.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Month"
    _auto = False
    _order = "date desc, id desc"


class StockMovementLocationMonthReport(models.Model):
    """The movement facts by month, location and product, without movement
    type (left empty). No menu: stock.movement.report reads it for the
    questions it can answer, such as months by location or product;
    Inventory at Date and past stock read its view for the months after
    the day."""

    _name = "stock.movement.location.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Location and Month"
    _auto = False
    _order = "date desc, id desc"


class StockMovementProductMonthReport(models.Model):
    """The movement facts by month, warehouse and product, without location
    and movement type (left empty). No menu: stock.movement.report reads it
    for the questions it can answer, such as months by warehouse; Inventory
    at Date reads its view for the months after the day."""

    _name = "stock.movement.product.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Product and Month"
    _auto = False
    _order = "date desc, id desc"


class StockMovementCompanyProductMonthReport(models.Model):
    """The movement facts by month, company and product: warehouse, location
    and movement type left empty. No menu: stock.movement.report reads it
    for the questions it can answer, such as the product × month pivot."""

    _name = "stock.movement.company.product.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Company, Product and Month"
    _auto = False
    _order = "date desc, id desc"

    @api.model
    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        if {"product_id", "date:month"} <= set(groupby):
            # About one group per row, which PostgreSQL cannot know (it has
            # no statistics through the journal's UNION and expects a tenth):
            # it would build a hash table as big as the rows, twice as slow
            # as sorting them and summing each group as it comes.
            with self._sscale_settings(enable_hashagg="off"):
                return super()._read_group(
                    domain, groupby, aggregates, having, offset, limit, order
                )
        return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)


class StockMovementWarehouseMonthReport(models.Model):
    """The movement facts by month, warehouse and movement type: location,
    product and category left empty. No menu: stock.movement.report reads it
    for the questions it can answer, such as movements by warehouse."""

    _name = "stock.movement.warehouse.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Warehouse and Month"
    _auto = False
    _order = "date desc, id desc"


class StockMovementCategoryMonthReport(models.Model):
    """The movement facts by month, warehouse, product category and movement
    type, with the categories of the last refresh: location and product left
    empty. No menu: stock.movement.report reads it for questions by
    category, except while a product has changed category since the refresh."""

    _name = "stock.movement.category.month.report"
    _inherit = "stock.movement.rollup.mixin"
    _description = "Stock Movements by Category and Month"
    _auto = False
    _order = "date desc, id desc"


class StockMovementReport(models.Model):
    """Daily movement facts: day × company × warehouse × internal location ×
    product × movement type. The materialized view holds everything up to
    its last refresh; the journal adds what committed since (exact).
    Questions that only need months (groupings by month, quarter or year,
    date filters on month boundaries, sums) are answered from the monthly
    facts, a fraction of the rows."""

    _name = "stock.movement.report"
    _inherit = "stock.movement.report.mixin"
    _description = "Stock Movements Analysis"
    _auto = False
    _order = "date desc, id desc"

    _sscale_month_measures = MONTH_MEASURES

    @api.model
    def _sscale_report_views(self):
        return {
            model: (view, grain, dimensions)
            for model, (view, grain, dimensions, _stored) in ledger.REPORT_VIEWS.items()
        }

    @api.model
    def _sscale_rollup_usable(self, model):
        # The category rollup keeps the categories of its refresh.
        if model == "stock.movement.category.month.report":
            self.env.cr.execute(ledger.CATEGORY_ROLLUP_STALE)
            return not self.env.cr.fetchone()[0]
        return True


class StockLevelReport(models.Model):
    """Current levels per company, warehouse, location, product and lot (one
    row per quant; group them), with the date of the last movement
    (materialized view + journal)."""

    _name = "stock.level.report"
    _inherit = "stock.report.view.mixin"
    _description = "Stock Levels Analysis"
    _auto = False
    _order = "warehouse_id, product_id"
    _rec_name = "product_id"
    _depends = {**LEDGER_FIELDS, **QUANT_FIELDS}

    company_id = fields.Many2one("res.company", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    location_id = fields.Many2one("stock.location", string="Location", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial Number", readonly=True)
    quantity = fields.Float(string="On Hand", readonly=True, digits="Product Unit of Measure")
    reserved_quantity = fields.Float(
        string="Reserved", readonly=True, digits="Product Unit of Measure"
    )
    available_quantity = fields.Float(
        string="Available", readonly=True, digits="Product Unit of Measure"
    )
    last_movement_date = fields.Datetime(readonly=True)
    days_since_last_movement = fields.Integer(readonly=True, aggregator="max")

    def init(self):
        self._create_report_view(ledger.LEVEL_REPORT_QUERY)


class StockInventoryDateReport(models.Model):
    """On-hand per internal location and product at the end of a past day
    (UTC): today's quants minus the net movements dated after it, read from
    the movement facts. The day comes from the context (``inventory_date``),
    set by the Inventory at Date wizard. Lots and packages at a date:
    Odoo's own Inventory at Date (``qty_available`` with ``to_date``,
    models/product_product.py)."""

    _name = "stock.inventory.date.report"
    _inherit = "stock.report.read.group.mixin"
    _description = "Inventory at Date"
    _auto = False
    _order = "warehouse_id, location_id, product_id"
    _rec_name = "product_id"
    _depends = {**LEDGER_FIELDS, **QUANT_FIELDS}

    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    location_id = fields.Many2one("stock.location", string="Location", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    quantity = fields.Float(
        string="On Hand at Date", readonly=True, digits="Product Unit of Measure"
    )

    @property
    def _table_query(self):
        day = self.env.context.get("inventory_date") or fields.Date.context_today(self)
        return ledger.inventory_at_date_query(
            fields.Date.to_date(day),
            by_location=self.env.context.get("sscale_inventory_by_location", True),
            locations=self.env.context.get("sscale_inventory_locations"),
        )

    def _fetch_query(self, query, fields):
        """Rows of another day have the same ids (see
        ledger.inventory_at_date_query): forget the ones cached before."""
        self.invalidate_model()
        return super()._fetch_query(query, fields)

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
        fields_used = {spec.split(":")[0] for spec in groupby} | {
            str(leaf[0]).split(".")[0]
            for leaf in domain or []
            if isinstance(leaf, list | tuple) and len(leaf) == 3
        }
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
