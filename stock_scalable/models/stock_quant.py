# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models
from odoo.tools import SQL

# The quant key, as stock.quant._merge_quants groups it (the company is the
# location's, which is what stock_quant.company_id stores).
QUANT_KEY = ("product_id", "location_id", "lot_id", "package_id", "owner_id")


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model
    def _sscale_ledger_drift(self, product_ids=None):
        """Compare every quant key with its ledger.

        The ledger of a key is the sum of the done move lines that enter it
        minus those that leave it, in the product's UoM. Returns one dict per
        key whose on-hand differs from its ledger, or that has more than one
        quant row: ``product_id, location_id, lot_id, package_id, owner_id,
        quantity, ledger_quantity, quant_count``.

        Plain MVCC reads: no row lock is taken, so posting is never blocked.
        """
        self.env.flush_all()
        product_filter = SQL("")
        if product_ids:
            product_filter = SQL("AND product_id IN %s", tuple(product_ids))
        self.env.cr.execute(
            SQL(
                """
            WITH ledger AS (
                SELECT product_id, location_id, lot_id, package_id, owner_id,
                       SUM(qty) AS qty
                  FROM (
                    SELECT product_id, location_dest_id AS location_id,
                           COALESCE(lot_id, 0) AS lot_id,
                           COALESCE(result_package_id, 0) AS package_id,
                           COALESCE(owner_id, 0) AS owner_id,
                           quantity_product_uom AS qty
                      FROM stock_move_line
                     WHERE state = 'done' %(product_filter)s
                    UNION ALL
                    SELECT product_id, location_id,
                           COALESCE(lot_id, 0), COALESCE(package_id, 0),
                           COALESCE(owner_id, 0), -quantity_product_uom
                      FROM stock_move_line
                     WHERE state = 'done' %(product_filter)s
                  ) moves
                 GROUP BY 1, 2, 3, 4, 5
            ),
            quants AS (
                SELECT product_id, location_id,
                       COALESCE(lot_id, 0) AS lot_id,
                       COALESCE(package_id, 0) AS package_id,
                       COALESCE(owner_id, 0) AS owner_id,
                       SUM(quantity) AS qty, COUNT(*) AS quant_count
                  FROM stock_quant
                 WHERE TRUE %(product_filter)s
                 GROUP BY 1, 2, 3, 4, 5
            )
            SELECT k.product_id, k.location_id,
                   NULLIF(k.lot_id, 0) AS lot_id,
                   NULLIF(k.package_id, 0) AS package_id,
                   NULLIF(k.owner_id, 0) AS owner_id,
                   COALESCE(q.qty, 0) AS quantity,
                   COALESCE(l.qty, 0) AS ledger_quantity,
                   COALESCE(q.quant_count, 0) AS quant_count
              FROM (SELECT product_id, location_id, lot_id, package_id, owner_id
                      FROM ledger
                    UNION
                    SELECT product_id, location_id, lot_id, package_id, owner_id
                      FROM quants) k
              JOIN product_product pp ON pp.id = k.product_id
              JOIN product_template pt ON pt.id = pp.product_tmpl_id
              JOIN uom_uom uom ON uom.id = pt.uom_id
         LEFT JOIN ledger l USING (product_id, location_id, lot_id, package_id, owner_id)
         LEFT JOIN quants q USING (product_id, location_id, lot_id, package_id, owner_id)
             WHERE pt.is_storable
               AND (ABS(COALESCE(q.qty, 0) - COALESCE(l.qty, 0)) >= uom.rounding / 2
                    OR COALESCE(q.quant_count, 0) > 1)
             ORDER BY k.product_id, k.location_id, k.lot_id, k.package_id, k.owner_id
                """,
                product_filter=product_filter,
            )
        )
        return self.env.cr.dictfetchall()
