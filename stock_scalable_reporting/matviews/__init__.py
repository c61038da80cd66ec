"""The reports' SQL, on an Odoo cursor: the journal and its watermark
(journal.py), the materialized views of the movement facts (movement.py) and
of the product form's counters (picking_counts.py), past stock (past_stock.py),
and the helpers that create, refresh and drop materialized views
(matview.py). The SQL of a single report lives beside it in report/."""

from . import journal, matview, movement, past_stock, picking_counts

# Every materialized view of this addon, refreshed in this order (each
# rollup reads the one before it).
MATERIALIZED_VIEWS = {**movement.MATERIALIZED_VIEWS, **picking_counts.MATERIALIZED_VIEWS}
