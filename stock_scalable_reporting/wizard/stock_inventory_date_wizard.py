# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models
from odoo.tools.misc import format_date


class StockInventoryDateWizard(models.TransientModel):
    _name = "stock.inventory.date.wizard"
    _description = "Inventory at Date"

    date = fields.Date(required=True, default=fields.Date.context_today)
    warehouse_ids = fields.Many2many("stock.warehouse", string="Warehouses")
    location_ids = fields.Many2many(
        "stock.location",
        string="Locations",
        domain="[('usage', '=', 'internal'), ('warehouse_id', '!=', False)]",
        help="Only these locations and the locations inside them.",
    )
    categ_ids = fields.Many2many("product.category", string="Product Categories")

    def action_open(self):
        self.ensure_one()
        domain = []
        if self.warehouse_ids:
            domain.append(("warehouse_id", "in", self.warehouse_ids.ids))
        if self.location_ids:
            domain.append(("location_id", "child_of", self.location_ids.ids))
        if self.categ_ids:
            domain.append(("categ_id", "child_of", self.categ_ids.ids))
        return self.env["stock.report.refresh"]._action_open_report_at_date(
            "stock_scalable_reporting.action_stock_inventory_date_report",
            _("Inventory at %s", format_date(self.env, self.date)),
            domain,
            # Products without stock that day are hidden (the "In Stock"
            # filter, which the user can remove).
            {"inventory_date": fields.Date.to_string(self.date), "search_default_nonzero": 1},
        )
