# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models
from odoo.tools import SQL


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
