# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Which warehouses a done move line changes, and with which event type.

The types come from stock_scalable's movement-type table
(``stock_scalable/lib/movement_types.py``), which the reports classify by
too, so an event and the report row of the same line always agree.
"""

import dataclasses

from odoo.addons.stock_scalable.lib import movement_types as mt


@dataclasses.dataclass(frozen=True)
class Place:
    """One end of a move line: its location's usage, warehouse (0 when the
    location belongs to none) and whether it is a scrap location."""

    usage: str
    warehouse_id: int = 0
    scrap: bool = False

    @property
    def stock_warehouse(self):
        """The warehouse whose on-hand this end counts in (internal
        locations only), or 0."""
        return self.warehouse_id if self.usage == "internal" else 0


def classify(src, dest):
    """The events of one done move line: ``[(warehouse_id, event_type,
    sign)]`` with sign -1 (stock leaves that warehouse), +1 (enters it) or 0
    (moves inside it). Empty when no warehouse's on-hand changes (a
    dropship, a move between two non-warehouse locations)."""
    out_wh, in_wh = src.stock_warehouse, dest.stock_warehouse
    if out_wh and out_wh == in_wh:
        return [(out_wh, mt.INTERNAL, 0)]
    events = []
    if out_wh:
        events.append((out_wh, mt.movement_type(dest.usage, incoming=False, scrap=dest.scrap), -1))
    if in_wh:
        events.append((in_wh, mt.movement_type(src.usage, incoming=True, scrap=src.scrap), 1))
    return events
