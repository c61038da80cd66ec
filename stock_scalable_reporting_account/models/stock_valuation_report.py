# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import valuation

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
MONTH_MEASURES = {
    "quantity:sum",
    "value:sum",
    "remaining_qty:sum",
    "remaining_value:sum",
    "layer_count:sum",
    "__count",
}


class StockValuationReportMixin(models.AbstractModel):
    _name = "stock.valuation.report.mixin"
    _inherit = "stock.report.view.mixin"
    _description = "Stock Valuation Facts"
    _auto = False
    _rec_name = "product_id"
    _depends = LAYER_FIELDS

    date = fields.Date(readonly=True, help="The day the layers were created (UTC).")
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    warehouse_id = fields.Many2one(
        "stock.warehouse",
        string="Receipt WH",
        readonly=True,
        help="As on the valuation layers: the warehouse of the move's source "
        "location when it is internal, else of its destination.",
    )
    categ_id = fields.Many2one("product.category", string="Product Category", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_tmpl_id = fields.Many2one("product.template", string="Product Template", readonly=True)
    quantity = fields.Float(readonly=True, digits="Product Unit of Measure")
    value = fields.Monetary(string="Total Value", readonly=True)
    remaining_qty = fields.Float(
        string="Remaining Quantity", readonly=True, digits="Product Unit of Measure"
    )
    remaining_value = fields.Monetary(readonly=True)
    layer_count = fields.Integer(string="# Valuation Layers", readonly=True)

    def init(self):
        # Each valuation report model's view (valuation.REPORT_VIEWS); Odoo
        # calls init() on this abstract model too.
        if self._name in valuation.REPORT_VIEWS:
            self._create_report_view(valuation.report_query(self._name))


class StockValuationMonthReport(models.Model):
    """The valuation facts by month (no menu: stock.valuation.report reads
    it for questions that only need months)."""

    _name = "stock.valuation.month.report"
    _inherit = ["stock.valuation.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Valuation by Month"
    _auto = False
    _order = "date desc, id desc"


class StockValuationCategoryMonthReport(models.Model):
    """The valuation facts by month, warehouse and product category (product
    left empty). No menu: stock.valuation.report reads it for questions by
    category or warehouse."""

    _name = "stock.valuation.category.month.report"
    _inherit = ["stock.valuation.report.mixin", "stock.report.rollup.mixin"]
    _description = "Stock Valuation by Category and Month"
    _auto = False
    _order = "date desc, id desc"


class StockValuationReport(models.Model):
    """Daily valuation facts: day × company × warehouse × product category
    × product, the sums of Odoo's stock valuation layers (quantity, value,
    remaining quantity and value, number of layers). The materialized view
    holds everything up to its last refresh; the journal adds what
    committed since (exact). Questions that only need months are answered
    from the smallest monthly rollup that keeps their fields."""

    _name = "stock.valuation.report"
    _inherit = "stock.valuation.report.mixin"
    _description = "Stock Valuation Analysis"
    _auto = False
    _order = "date desc, id desc"

    _sscale_month_measures = MONTH_MEASURES

    @api.model
    def _sscale_report_views(self):
        return valuation.REPORT_VIEWS


class StockValuationDateReport(models.Model):
    """Quantity and value per company, warehouse and product at the end of a
    past day (UTC): the valuation layers created up to then, as Odoo's
    Valuation at Date sums them. The day comes from the context
    (``valuation_date``), set by the Valuation at Date wizard."""

    _name = "stock.valuation.date.report"
    _inherit = "stock.report.read.group.mixin"
    _description = "Valuation at Date"
    _auto = False
    _order = "warehouse_id, product_id, id"
    _rec_name = "product_id"
    _depends = LAYER_FIELDS

    date = fields.Date(readonly=True)
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

    @property
    def _table_query(self):
        day = self.env.context.get("valuation_date") or fields.Date.context_today(self)
        return valuation.valuation_at_date_query(
            fields.Date.to_date(day),
            by_product=self.env.context.get("sscale_valuation_by_product", True),
        )

    def _fetch_query(self, query, fields):
        """Rows of another day have the same ids: forget the ones cached
        before."""
        self.invalidate_model()
        return super()._fetch_query(query, fields)

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
        used = {spec.split(":")[0] for spec in groupby} | {
            str(leaf[0]).split(".")[0]
            for leaf in domain or []
            if isinstance(leaf, list | tuple) and len(leaf) == 3
        }
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
