# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockReportAtDateMixin(models.AbstractModel):
    """A report of one past day (Inventory at Date, Valuation at Date): its
    rows are the query of the day that the context gives (``_sscale_date_key``,
    set by the report's wizard; today without it)."""

    _name = "stock.report.at.date.mixin"
    _inherit = "stock.report.read.group.mixin"
    _description = "Stock Report at a Date"

    # The context key of the day.
    _sscale_date_key = None

    date = fields.Date(readonly=True)

    def _sscale_query_at(self, day):
        """The report's rows at the end of ``day`` (a date), as SQL."""
        raise NotImplementedError

    @property
    def _table_query(self):
        day = self.env.context.get(self._sscale_date_key) or fields.Date.context_today(self)
        return self._sscale_query_at(fields.Date.to_date(day))

    def _fetch_query(self, query, fields):
        """Rows of another day have the same ids (the day is not in them):
        forget the ones cached before."""
        self.invalidate_model()
        return super()._fetch_query(query, fields)
