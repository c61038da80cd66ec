# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models
from odoo.tools.misc import format_date


class StockInventoryDateWizard(models.TransientModel):
    _name = "stock.inventory.date.wizard"
    _inherit = "stock.report.date.wizard.mixin"
    _description = "Inventory at Date"
    _report_action = "stock_scalable_reporting.action_stock_inventory_date_report"
    _report_date_key = "inventory_date"
    _report_filters = [
        ("warehouse_ids", "warehouse_id", "in"),
        ("location_ids", "location_id", "child_of"),
        ("categ_ids", "categ_id", "child_of"),
    ]

    location_ids = fields.Many2many(
        "stock.location",
        string="Locations",
        domain="[('usage', '=', 'internal'), ('warehouse_id', '!=', False)]",
        help="Only these locations and the locations inside them.",
    )

    def _report_title(self):
        return _("Inventory at %s", format_date(self.env, self.date))
