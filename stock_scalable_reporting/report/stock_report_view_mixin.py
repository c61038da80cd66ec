# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo import api, fields, models, tools
from odoo.osv import expression
from odoo.tools import SQL

# Fields of the movement reports that stand for another: a view that keeps
# the product keeps its template.
SAME_AS = {"product_tmpl_id": "product_id"}


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


class StockReportViewMixin(models.AbstractModel):
    """A report model whose table is a view over the reporting views."""

    _name = "stock.report.view.mixin"
    _inherit = "stock.report.read.group.mixin"
    _description = "Stock Report on Materialized Views"

    # The planner's routing (_read_group below) and the product × month
    # report's settings have their _sscale_read_group_raw twins.
    _sscale_eager_read_group = True

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
    def _sscale_read_group_raw(self, domain, groupby, aggregates, offset, limit, order):
        rollup = self._sscale_rollup(domain, groupby, aggregates, ())
        if rollup:
            return self.env[rollup]._sscale_read_group_raw(
                domain, groupby, aggregates, offset, limit, order
            )
        return super()._sscale_read_group_raw(domain, groupby, aggregates, offset, limit, order)

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
