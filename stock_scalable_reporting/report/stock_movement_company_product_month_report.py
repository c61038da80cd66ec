# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib

from odoo import api, models


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
        with self._sscale_grouping_settings(groupby):
            return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

    @api.model
    def _sscale_read_group_raw(self, domain, groupby, aggregates, offset, limit, order):
        with self._sscale_grouping_settings(groupby):
            return super()._sscale_read_group_raw(
                domain, groupby, aggregates, offset, limit, order
            )

    @api.model
    def _sscale_grouping_settings(self, groupby):
        """The planner settings for a question grouped by ``groupby``."""
        if {"product_id", "date:month"} <= set(groupby):
            # About one group per row, which PostgreSQL cannot know (it has
            # no statistics through the journal's UNION and expects a tenth):
            # it would build a hash table as big as the rows, twice as slow
            # as sorting them and summing each group as it comes.
            return self._sscale_settings(enable_hashagg="off")
        return contextlib.nullcontext()
