# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a done move line means for the warehouse whose stock it changes: the
one table of movement types, read by the event bus (event types, in Python:
:func:`classify`) and by the reports (movement types, in SQL).

A line is seen from each of its *internal* ends ("here"); its type depends
on the other end ("there") and on the direction:

>>> [movement_type(usage, incoming=incoming) for usage, incoming in
...  [("supplier", True), ("customer", False), ("customer", True), ("transit", False)]]
['RECEIPT', 'SALE', 'RETURN', 'TRANSFER']
>>> movement_type("inventory", incoming=False, scrap=True)
'SCRAP'
>>> movement_type("internal", incoming=True, same_warehouse=True)
'INTERNAL'
>>> [report_type(kind, incoming=False) for kind in ("TRANSFER", "SALE")]
['transfer_out', 'sale']

A done move line gives one event per warehouse whose on-hand it changes:

>>> classify(Place("internal", warehouse_id=1), Place("customer"))
[(1, 'SALE', -1)]
>>> classify(Place("internal", warehouse_id=1), Place("internal", warehouse_id=2))
[(1, 'TRANSFER', -1), (2, 'TRANSFER', 1)]

The reports' SQL is built from the same table:

>>> print(sql_case("o.usage", "o.scrap_location", "s.incoming", "same_wh"))  # doctest: +ELLIPSIS
CASE WHEN o.scrap_location THEN 'scrap' WHEN o.usage = 'inventory' THEN 'adjustment' ...
"""

import dataclasses

RECEIPT = "RECEIPT"
SALE = "SALE"
RETURN = "RETURN"
TRANSFER = "TRANSFER"
INTERNAL = "INTERNAL"
ADJUSTMENT = "ADJUSTMENT"
SCRAP = "SCRAP"
PRODUCTION = "PRODUCTION"
TYPES = (RECEIPT, SALE, RETURN, TRANSFER, INTERNAL, ADJUSTMENT, SCRAP, PRODUCTION)

# (usage of the other end, direction seen from here) -> type, first match
# wins. None matches either direction. Rows before it: a scrap location
# (Odoo 18: usage "inventory" with scrap_location set) is SCRAP; after it:
# another internal location of the same warehouse is INTERNAL, anything else
# (another warehouse, transit, a view, no warehouse) is TRANSFER.
TABLE = (
    ("inventory", None, ADJUSTMENT),
    ("production", None, PRODUCTION),
    ("supplier", True, RECEIPT),
    ("supplier", False, RETURN),
    ("customer", True, RETURN),
    ("customer", False, SALE),
)


def movement_type(other_usage, *, incoming, scrap=False, same_warehouse=False):
    """The type (one of TYPES) of a line seen from one internal end.

    ``other_usage``: the usage of the other end's location; ``incoming``:
    stock enters this end; ``scrap``: the other end is a scrap location;
    ``same_warehouse``: the other end is an internal location of this end's
    warehouse (or both belong to no warehouse: the reports' SQL compares the
    two warehouse ids with IS NOT DISTINCT FROM; the event bus emits no
    event for a location outside any warehouse)."""
    if scrap:
        return SCRAP
    for usage, direction, kind in TABLE:
        if usage == other_usage and direction in (None, incoming):
            return kind
    if other_usage == "internal" and same_warehouse:
        return INTERNAL
    return TRANSFER


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
    """The events of one done move line from ``src`` to ``dest`` (two
    :class:`Place`): ``[(warehouse_id, type, sign)]`` with sign -1 (stock
    leaves that warehouse), +1 (enters it) or 0 (moves inside it). Empty
    when no warehouse's on-hand changes (a dropship, a move between two
    non-warehouse locations)."""
    out_wh, in_wh = src.stock_warehouse, dest.stock_warehouse
    if out_wh and out_wh == in_wh:
        return [(out_wh, INTERNAL, 0)]
    events = []
    if out_wh:
        events.append((out_wh, movement_type(dest.usage, incoming=False, scrap=dest.scrap), -1))
    if in_wh:
        events.append((in_wh, movement_type(src.usage, incoming=True, scrap=src.scrap), 1))
    return events


def report_type(kind, *, incoming):
    """The reports' movement type (a selection key) of an event type: the
    same word in lower case, transfers split into in and out."""
    if kind == TRANSFER:
        return "transfer_in" if incoming else "transfer_out"
    return kind.lower()


REPORT_TYPES = tuple(
    sorted({report_type(kind, incoming=incoming) for kind in TYPES for incoming in (True, False)})
)

# The labels users read (selection labels, translated by Odoo like any other
# selection of a field): one per type, transfers split in the reports.
LABELS = {
    RECEIPT: "Receipt",
    SALE: "Sale",
    RETURN: "Return",
    TRANSFER: "Transfer",
    INTERNAL: "Internal",
    ADJUSTMENT: "Adjustment",
    SCRAP: "Scrap",
    PRODUCTION: "Production",
}
REPORT_LABELS = {
    report_type(kind, incoming=incoming): (
        f"{LABELS[kind]} {'In' if incoming else 'Out'}" if kind == TRANSFER else LABELS[kind]
    )
    for kind in TYPES
    for incoming in (True, False)
}


def event_selection():
    """The selection of event types, in the table's order:

    >>> event_selection()[:2]
    [('RECEIPT', 'Receipt'), ('SALE', 'Sale')]
    """
    return [(kind, LABELS[kind]) for kind in TYPES]


def report_selection():
    """The selection of the reports' movement types, in the table's order:

    >>> report_selection()[3:5]
    [('transfer_in', 'Transfer In'), ('transfer_out', 'Transfer Out')]
    """
    return list(REPORT_LABELS.items())


def sql_case(other_usage, other_scrap, incoming, same_warehouse):
    """The SQL ``CASE`` expression that gives :func:`report_type` of
    :func:`movement_type`; the arguments are SQL expressions (trusted
    column names, never user input)."""

    def lit(kind, direction):
        if direction is None:
            return f"'{report_type(kind, incoming=True)}'"
        return f"'{report_type(kind, incoming=direction)}'"

    parts = [f"CASE WHEN {other_scrap} THEN {lit(SCRAP, None)}"]
    for usage, direction, kind in TABLE:
        condition = f"{other_usage} = '{usage}'"
        if direction is not None:
            condition += f" AND {'' if direction else 'NOT '}{incoming}"
        parts.append(f"WHEN {condition} THEN {lit(kind, None)}")
    parts.append(
        f"WHEN {other_usage} = 'internal' AND {same_warehouse} THEN {lit(INTERNAL, None)}"
    )
    parts.append(f"WHEN {incoming} THEN {lit(TRANSFER, True)} ELSE {lit(TRANSFER, False)} END")
    return " ".join(parts)
