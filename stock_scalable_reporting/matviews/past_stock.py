# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""On-hand at a past moment, exact per location (with its children), lot,
package and owner: the SQL behind ``qty_available`` with ``to_date``.

Odoo goes back in time from today's quants by subtracting the done *moves*
dated after the moment, matched on the moves' locations. A move's lines may
take from or put into a child of the move's location (a shelf of WH/Stock),
so Odoo's figure for a sub-location is wrong, and lots and packages are not
taken back at all. Here the same walk back reads the done *move lines*, the
ledger that the quants are made of::

    on_hand(L, at T) = on_hand(L, now)
                       - sum over done lines dated after T of
                         qty * ([destination in L, destination key matches]
                                - [source in L, source key matches])

where ``qty`` is the line's quantity in the product's unit
(``quantity_product_uom``), a line's source key is its lot, package and
owner, and its destination key its lot, result package and owner. A line
within L counts 0. Sums are by product id, in the product's unit.

For the plain question (no lot, package or owner, and only internal or view
locations in L), the days after T's day come from the reports' daily and
monthly movement views and their journal, exact at read time like the
reports; the rest of T's own day from the ledger. The ledger is read
through the addon's index of done lines by product and date
(``sscale_rpt_sml_done_product_date``, matviews/journal.py).
"""

import datetime

from odoo.tools import SQL

from . import journal, matview, movement


def _key_matches(column, value):
    """``column`` (a trusted SQL column) matches ``value``: None matches any
    value, False an empty one, an id itself."""
    if value is None:
        return SQL("TRUE")
    if not value:
        return SQL("%s IS NULL", SQL(column))
    return SQL("%s = %s", SQL(column), value)


def ledger_moved_after(
    locations, product_ids, after, before=None, lot_id=None, package_id=None, owner_id=None
):
    """Net quantity that done move lines dated in ``(after, before)`` (UTC
    naive datetimes; ``before`` None for no bound) brought into the
    locations ``locations`` (an SQL subquery of location ids) per product of
    ``product_ids``, for the key given by ``lot_id``, ``package_id``,
    ``owner_id`` (see ``_key_matches``). Rows: (product_id, quantity)."""
    src = SQL(
        "%s AND %s AND %s AND %s",
        SQL("ml.location_id IN %s", locations),
        _key_matches("ml.lot_id", lot_id),
        _key_matches("ml.package_id", package_id),
        _key_matches("ml.owner_id", owner_id),
    )
    dest = SQL(
        "%s AND %s AND %s AND %s",
        SQL("ml.location_dest_id IN %s", locations),
        _key_matches("ml.lot_id", lot_id),
        _key_matches("ml.result_package_id", package_id),
        _key_matches("ml.owner_id", owner_id),
    )
    return SQL(
        """
        SELECT ml.product_id,
               SUM(COALESCE(ml.quantity_product_uom, 0)
                   * ((CASE WHEN %(dest)s THEN 1 ELSE 0 END)
                      - (CASE WHEN %(src)s THEN 1 ELSE 0 END))) AS quantity
          FROM stock_move_line ml
         WHERE ml.state = 'done' AND ml.product_id = ANY(%(products)s)
           AND ml.date > %(after)s %(before)s
         GROUP BY ml.product_id
        """,
        dest=dest,
        src=src,
        products=list(product_ids),
        after=after,
        # Index conditions (product, date), never an OR with a parameter.
        before=SQL("AND ml.date < %s", before) if before else SQL(""),
    )


def views_moved_after(locations, product_ids, after):
    """The same as ``ledger_moved_after`` without a key, from the reports'
    views: the days after ``after``'s day from the daily facts (the rest of
    its month) and the monthly facts (the months after), plus the journal's
    rows that the views do not hold yet, plus the rest of ``after``'s own day
    from the ledger. Only for ``locations`` that are internal or views (the
    facts keep internal ends only); see ``views_can_answer``."""
    day = after.date()
    next_day = day + datetime.timedelta(days=1)
    next_month = journal.next_month(day)
    products = list(product_ids)
    return SQL(
        """
        SELECT product_id, SUM(quantity) AS quantity
          FROM (SELECT f.product_id, f.qty_in - f.qty_out AS quantity
                  FROM %(daily)s f
                 WHERE f.date > %(day)s AND f.date < %(next_month)s
                   AND f.product_id = ANY(%(products)s) AND f.location_id IN %(locations)s
                UNION ALL
                SELECT f.product_id, f.qty_in - f.qty_out
                  FROM %(monthly)s f
                 WHERE f.date >= %(next_month)s
                   AND f.product_id = ANY(%(products)s) AND f.location_id IN %(locations)s
                UNION ALL
                SELECT r.product_id, r.qty_in - r.qty_out
                  FROM (%(recent)s) r
                 WHERE r.date > %(day)s
                   AND r.product_id = ANY(%(products)s) AND r.location_id IN %(locations)s
                UNION ALL
                SELECT * FROM (%(rest_of_day)s) rest) moves
         GROUP BY product_id
        """,
        daily=SQL.identifier(movement.MOVEMENT_MV),
        monthly=SQL.identifier(movement.LOCATION_MONTH_MV),
        recent=movement.RECENT_SIDES,
        rest_of_day=ledger_moved_after(
            locations, products, after, datetime.datetime.combine(next_day, datetime.time())
        ),
        day=day,
        next_month=next_month,
        products=products,
        locations=locations,
    )


def views_can_answer(cr, locations):
    """Whether the views answer for ``locations``: they are populated, and
    every location of the set is internal or a view (the facts keep the
    internal ends of the lines only)."""
    if not all(
        matview.is_populated(cr, view)
        for view in (movement.MOVEMENT_MV, movement.LOCATION_MONTH_MV)
    ):
        return False
    cr.execute(
        SQL(
            "SELECT NOT EXISTS (SELECT 1 FROM stock_location WHERE id IN %s"
            " AND usage NOT IN ('internal', 'view'))",
            locations,
        )
    )
    return cr.fetchone()[0]


def moved_after(cr, locations, product_ids, after, lot_id=None, package_id=None, owner_id=None):
    """``{product id: net quantity}`` that done move lines dated after
    ``after`` (a UTC naive datetime) brought into ``locations`` (an SQL
    subquery of location ids), in each product's unit; products without
    such lines are left out. From the views when they can answer (no key
    asked, see ``views_can_answer``), else from the ledger."""
    if not product_ids:
        return {}
    keyless = lot_id is None and package_id is None and owner_id is None
    if keyless and views_can_answer(cr, locations):
        query = views_moved_after(locations, product_ids, after)
    else:
        query = ledger_moved_after(
            locations, product_ids, after, None, lot_id, package_id, owner_id
        )
    cr.execute(query)
    return {product_id: quantity for product_id, quantity in cr.fetchall() if quantity}
