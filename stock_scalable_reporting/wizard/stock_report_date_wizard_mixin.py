# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class StockReportDateWizardMixin(models.AbstractModel):
    """A wizard that opens a report for a chosen day (Inventory at Date,
    Valuation at Date): the day, filters on the report's fields, and the
    report's window action with the day in its context."""

    _name = "stock.report.date.wizard.mixin"
    _description = "Report at Date Wizard"

    # The report's window action, and the context key of the day it reads.
    _report_action = None
    _report_date_key = None
    # (wizard field, report field, operator) of each filter, in the order
    # of the report's domain.
    _report_filters = [
        ("warehouse_ids", "warehouse_id", "in"),
        ("categ_ids", "categ_id", "child_of"),
    ]

    date = fields.Date(required=True, default=fields.Date.context_today)
    warehouse_ids = fields.Many2many("stock.warehouse", string="Warehouses")
    categ_ids = fields.Many2many("product.category", string="Product Categories")

    def _report_title(self):
        """The report's title for the wizard's day."""
        raise NotImplementedError

    def action_open(self):
        """The report (``_report_action``) for the wizard's day, with its
        filters as the domain."""
        self.ensure_one()
        domain = [
            (report_field, operator, self[wizard_field].ids)
            for wizard_field, report_field, operator in self._report_filters
            if self[wizard_field]
        ]
        return self.env["stock.report.refresh"]._action_open_report_at_date(
            self._report_action,
            self._report_title(),
            domain,
            # Rows that are zero that day are hidden (the report's "nonzero"
            # filter, which the user can remove).
            {self._report_date_key: fields.Date.to_string(self.date), "search_default_nonzero": 1},
        )
