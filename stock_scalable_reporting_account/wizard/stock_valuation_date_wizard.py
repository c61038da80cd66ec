# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models
from odoo.tools.misc import format_date


class StockValuationDateWizard(models.TransientModel):
    _name = "stock.valuation.date.wizard"
    _inherit = "stock.report.date.wizard.mixin"
    _description = "Valuation at Date"
    _report_action = "stock_scalable_reporting_account.action_stock_valuation_date_report"
    _report_date_key = "valuation_date"

    date = fields.Date(help="The layers created up to the end of this day (UTC) are summed.")
    # Both many2many fields are (re)defined here, so that their relation
    # tables are this addon's: its uninstall drops them.
    warehouse_ids = fields.Many2many(
        help="Only the layers of these warehouses (a layer's receipt warehouse, as on "
        "Odoo's valuation layers); layers without a warehouse, such as revaluations, "
        "are then left out.",
    )
    categ_ids = fields.Many2many()

    def _report_title(self):
        return _("Valuation at %s", format_date(self.env, self.date))
