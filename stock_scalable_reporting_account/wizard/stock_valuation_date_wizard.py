# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models
from odoo.tools.misc import format_date


class StockValuationDateWizard(models.TransientModel):
    _name = "stock.valuation.date.wizard"
    _description = "Valuation at Date"

    date = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="The layers created up to the end of this day (UTC) are summed.",
    )
    warehouse_ids = fields.Many2many(
        "stock.warehouse",
        string="Warehouses",
        help="Only the layers of these warehouses (a layer's receipt warehouse, as on "
        "Odoo's valuation layers); layers without a warehouse, such as revaluations, "
        "are then left out.",
    )
    categ_ids = fields.Many2many("product.category", string="Product Categories")

    def action_open(self):
        self.ensure_one()
        domain = []
        if self.warehouse_ids:
            domain.append(("warehouse_id", "in", self.warehouse_ids.ids))
        if self.categ_ids:
            domain.append(("categ_id", "child_of", self.categ_ids.ids))
        return self.env["stock.report.refresh"]._action_open_report_at_date(
            "stock_scalable_reporting_account.action_stock_valuation_date_report",
            _("Valuation at %s", format_date(self.env, self.date)),
            domain,
            # Rows that are zero that day are hidden (the filter can be
            # removed).
            {"valuation_date": fields.Date.to_string(self.date), "search_default_nonzero": 1},
        )
