# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo.tools import SQL

from .locking.locks import KEY_COLUMNS, KEY_INDEX

_logger = logging.getLogger(__name__)


def ensure_key_index(env):
    """Merge the quants that Odoo split under contention, then make one quant
    per key a database invariant with a unique index. Nothing to do when the
    index exists.

    The table is locked against writes (SHARE ROW EXCLUSIVE: readers go on)
    for the few seconds of the merge and index build, so that no posting can
    split a quant between the two.
    """
    cr = env.cr
    cr.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [KEY_INDEX])
    if cr.fetchone():
        return
    cr.execute("LOCK TABLE stock_quant IN SHARE ROW EXCLUSIVE MODE")
    cr.execute(
        SQL(
            "SELECT COUNT(*) FROM (SELECT 1 FROM stock_quant GROUP BY %s HAVING COUNT(*) > 1) d",
            KEY_COLUMNS,
        )
    )
    split_keys = cr.fetchone()[0]
    if split_keys:
        _logger.info("stock_scalable: merging the quants of %s split keys", split_keys)
        env["stock.quant"]._merge_quants()
    cr.execute(
        SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS %s ON stock_quant (%s)",
            SQL.identifier(KEY_INDEX),
            KEY_COLUMNS,
        )
    )


def set_null_quantities_to_zero(cr):
    """Quants that Odoo or an earlier version of this module stored with a
    NULL quantity (a count of 0 where nothing was stocked) hold 0, as Odoo
    reads them, so that the constraint that no quantity is NULL can be
    added (stock.quant's ``_sql_constraints``)."""
    cr.execute("UPDATE stock_quant SET quantity = 0 WHERE quantity IS NULL")
    if cr.rowcount:
        _logger.info("stock_scalable: %s quants without a quantity set to 0", cr.rowcount)


def pre_init_hook(env):
    """Before install: no quant without a quantity (see
    :func:`set_null_quantities_to_zero`)."""
    set_null_quantities_to_zero(env.cr)


def post_init_hook(env):
    """On install: merge split quants and create the key index. stock.quant's
    init() already did it before the module's data and demo data were loaded
    (they post stock); this checks it again once everything is loaded."""
    ensure_key_index(env)


def uninstall_hook(env):
    """Drop the unique key index: the table is Odoo's, the index is ours."""
    env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(KEY_INDEX)))
