# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models
from odoo.tools import SQL

from ..matviews.journal import LEDGER_FIELDS, RECENT_JOURNAL

# Pending ORM writes of these quant fields are flushed before a report that
# reads the quants is read.
QUANT_FIELDS = {
    "stock.quant": ["quantity", "reserved_quantity", "location_id", "product_id", "lot_id"]
}

# One row per quant of an internal location (stock_scalable keeps one quant
# per key). The product and last-movement joins are LEFT JOINs on unique
# keys, so PostgreSQL drops them when a query does not ask for their columns
# (join removal): totals by warehouse read the quants alone.
#
# Last movement: the view's date, or a newer one from the recent journal.
# When the journal also removed a contribution of the key since the refresh
# (a done line's date, location or quantity edited, a done line deleted), the
# view's date may be gone: those keys (rare) read the ledger itself.
LAST_MOVEMENT = SQL(
    """
    CASE WHEN recent.removed
         THEN (SELECT MAX(ml.date) FROM stock_move_line ml
                WHERE ml.state = 'done' AND ml.product_id = q.product_id
                  AND q.location_id IN (ml.location_id, ml.location_dest_id)
                  AND COALESCE(ml.lot_id, 0) = COALESCE(q.lot_id, 0))
         ELSE GREATEST(lm.last_date, recent.last_date)
    END
    """
)

LEVEL_REPORT_QUERY = SQL(
    """
    SELECT q.id, q.company_id, l.warehouse_id, q.location_id, q.product_id,
           p.product_tmpl_id, t.categ_id, q.lot_id,
           q.quantity, q.reserved_quantity, q.quantity - q.reserved_quantity AS available_quantity,
           %(last)s AS last_movement_date,
           (NOW() AT TIME ZONE 'UTC')::date - (%(last)s)::date AS days_since_last_movement
      FROM stock_quant q
      JOIN stock_location l ON l.id = q.location_id AND l.usage = 'internal'
      LEFT JOIN product_product p ON p.id = q.product_id
      LEFT JOIN product_template t ON t.id = p.product_tmpl_id
      LEFT JOIN sscale_rpt_last_move lm
        ON lm.location_id = q.location_id AND lm.product_id = q.product_id
       AND lm.lot_key = COALESCE(q.lot_id, 0)
      LEFT JOIN (SELECT location_id, product_id, lot_key,
                        MAX(date) FILTER (WHERE sign > 0) AS last_date,
                        bool_or(sign < 0) AS removed
                   FROM (SELECT r.location_id, r.product_id, COALESCE(r.lot_id, 0) AS lot_key,
                                r.date, r.sign
                           FROM (%(recent)s) r
                         UNION ALL
                         SELECT r.location_dest_id, r.product_id, COALESCE(r.lot_id, 0), r.date,
                                r.sign
                           FROM (%(recent)s) r) ends
                  GROUP BY location_id, product_id, lot_key) recent
        ON recent.location_id = q.location_id AND recent.product_id = q.product_id
       AND recent.lot_key = COALESCE(q.lot_id, 0)
    """,
    recent=RECENT_JOURNAL,
    last=LAST_MOVEMENT,
)


class StockLevelReport(models.Model):
    """Current levels per company, warehouse, location, product and lot (one
    row per quant; group them), with the date of the last movement
    (materialized view + journal)."""

    _name = "stock.level.report"
    _inherit = ["stock.report.view.mixin", "stock.report.location.mixin"]
    _description = "Stock Levels Analysis"
    _auto = False
    _order = "warehouse_id, product_id"
    _rec_name = "product_id"
    _depends = {**LEDGER_FIELDS, **QUANT_FIELDS}

    lot_id = fields.Many2one("stock.lot", string="Lot/Serial Number", readonly=True)
    quantity = fields.Float(string="On Hand", readonly=True, digits="Product Unit of Measure")
    reserved_quantity = fields.Float(
        string="Reserved", readonly=True, digits="Product Unit of Measure"
    )
    available_quantity = fields.Float(
        string="Available", readonly=True, digits="Product Unit of Measure"
    )
    last_movement_date = fields.Datetime(readonly=True)
    days_since_last_movement = fields.Integer(readonly=True, aggregator="max")

    def init(self):
        self._create_report_view(LEVEL_REPORT_QUERY)
