# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import math
import uuid

from odoo.addons.stock_scalable.tests.common import StockScalableCommon

from ..lib import events as bus_events
from ..lib import levels as bus_levels


@contextlib.contextmanager
def trap_stock_events(env):
    """Record the stock events a block of code writes, in the test's own
    transaction (no commit, no dispatcher, no broker): for downstream
    addons' tests, as OCA queue_job's ``trap_jobs()`` records jobs.

    - the movement events it wrote to the outbox (one per done move line
      and warehouse, numbered per key, exactly the rows the dispatcher
      would publish);
    - the (product, warehouse) keys whose on-hand or reserved quantity it
      changed (the level markers written at commit), and the LEVEL event
      the dispatcher WILL publish for each, computed now by the
      dispatcher's own query (lib/levels.py, read only).

    Example::

        from odoo.addons.stock_event_bus.tests.common import trap_stock_events

        with trap_stock_events(self.env) as trap:
            picking.button_validate()
        trap.assert_count(1)
        trap.assert_event(event_type="SALE", product=product, warehouse=wh, quantity=-2)
        trap.assert_level(product, wh, on_hand=8, reserved=0, available=8)

    The figures can be asserted inside the block too: each call reads what
    was written so far. With ``level_events = false`` no key is noted.
    """
    trap = StockEventsTrap(env)
    try:
        yield trap
    finally:
        trap.stop()


class StockEventsTrap:
    """What :func:`trap_stock_events` recorded. Reading helpers:
    ``events()``, ``keys()``, ``levels()``; assertions: ``assert_count``,
    ``assert_event``, ``assert_no_event``, ``assert_level``,
    ``assert_no_level``. Records (product, warehouse, company) or ids are
    accepted wherever a filter names one."""

    def __init__(self, env):
        self.env = env
        self._stop_ids = None
        self._start_ids = self._last_ids()

    # ------------------------------------------------------------------
    # What was written
    # ------------------------------------------------------------------

    def _last_ids(self):
        """The last outbox and marker ids, once the ORM and the pending
        level keys are written (the keys are written as at commit: the
        markers of the block are then told apart from those before it)."""
        self.env.flush_all()
        self.env["stock.level.change"].sudo()._flush_keys()
        self.env.cr.execute(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM stock_event_outbox),"
            " (SELECT COALESCE(MAX(id), 0) FROM stock_level_change)"
        )
        return self.env.cr.fetchone()

    def _range(self, index):
        stop = (self._stop_ids or self._last_ids())[index]
        return self._start_ids[index], stop

    def stop(self):
        """Stop recording (the end of the ``with`` block)."""
        if self._stop_ids is None:
            self._stop_ids = self._last_ids()

    def events(self, **filters):
        """The movement events written, oldest first (their payloads, as
        published), those matching ``filters`` (see :meth:`assert_event`)."""
        start, stop = self._range(0)
        self.env.cr.execute(
            "SELECT payload FROM stock_event_outbox"
            " WHERE id > %s AND id <= %s AND event_type != %s ORDER BY id",
            [start, stop, bus_events.LEVEL],
        )
        found = [row[0] for row in self.env.cr.fetchall()]
        return [event for event in found if _matches(event, filters)]

    def keys(self):
        """The sorted (product id, warehouse id) keys whose levels changed."""
        start, stop = self._range(1)
        self.env.cr.execute(
            "SELECT DISTINCT product_id, warehouse_id FROM stock_level_change"
            " WHERE id > %s AND id <= %s ORDER BY 1, 2",
            [start, stop],
        )
        return [tuple(row) for row in self.env.cr.fetchall()]

    def levels(self):
        """``{(product id, warehouse id): LEVEL event}`` for the keys noted:
        the payload the dispatcher will publish (``on_hand``, ``reserved``,
        ``available``, ``sequence``...), with the levels of now."""
        keys = self.keys()
        self.env.flush_all()
        return {
            (level["product_id"], level["warehouse_id"]): level
            for level in bus_levels.preview(self.env.cr, keys)
        }

    # ------------------------------------------------------------------
    # Assertions
    # ------------------------------------------------------------------

    def assert_count(self, expected, **filters):
        """Fail unless ``expected`` movement events (matching ``filters``)
        were written."""
        found = self.events(**filters)
        if len(found) != expected:
            raise AssertionError(
                f"{len(found)} stock events{_describe(filters, ' matching ')}, expected"
                f" {expected}.\nWritten:\n{self._format_events()}"
            )

    def assert_event(self, **filters):
        """Fail unless a movement event matches ``filters``; return it.
        Filters: any payload field (``event_type``, ``quantity`` (signed,
        compared to 1e-6), ``sequence``, ``picking``, ``location_id``...),
        and ``product``, ``warehouse``, ``company`` (a record or an id)."""
        found = self.events(**filters)
        if not found:
            raise AssertionError(
                f"No stock event{_describe(filters, ' matching ')}.\n"
                f"Written:\n{self._format_events()}"
            )
        return found[0]

    def assert_no_event(self, **filters):
        """Fail if a movement event matches ``filters``."""
        self.assert_count(0, **filters)

    def assert_level(self, product, warehouse, **expected):
        """Fail unless the key's levels changed and the LEVEL event the
        dispatcher will publish for it has the ``expected`` figures
        (``on_hand``, ``reserved``, ``available``, or any level field);
        return that event."""
        key = (_id(product), _id(warehouse))
        level = self.levels().get(key)
        if level is None:
            raise AssertionError(
                f"No level change of product {key[0]} in warehouse {key[1]}; keys"
                f" changed: {self.keys()}"
            )
        wrong = {
            name: (level.get(name, "<missing>"), value)
            for name, value in expected.items()
            if not _equal(level.get(name), value)
        }
        if wrong:
            raise AssertionError(
                f"Level of product {key[0]} in warehouse {key[1]}: "
                + ", ".join(
                    f"{name} is {got!r}, expected {want!r}" for name, (got, want) in wrong.items()
                )
            )
        return level

    def assert_no_level(self, product, warehouse):
        """Fail if the levels of (``product``, ``warehouse``) changed."""
        key = (_id(product), _id(warehouse))
        if key in self.keys():
            raise AssertionError(f"The levels of product {key[0]} in warehouse {key[1]} changed")

    def _format_events(self):
        return (
            "\n".join(
                f" * {e['event_type']} product={e['product_id']} warehouse={e['warehouse_id']}"
                f" quantity={e['quantity']} sequence={e['sequence']}"
                for e in self.events()
            )
            or " (none)"
        )

    def __repr__(self):
        return f"<StockEventsTrap events={len(self.events())} keys={self.keys()}>"


# Filter names that take a record or an id, and the payload field they match.
_RECORD_FILTERS = {"product": "product_id", "warehouse": "warehouse_id", "company": "company_id"}


def _id(value):
    return value.id if hasattr(value, "_name") else value


def _equal(got, want):
    if isinstance(want, float | int) and not isinstance(want, bool):
        return isinstance(got, float | int) and math.isclose(got, want, abs_tol=1e-6)
    return got == want


def _matches(event, filters):
    for name, want in filters.items():
        field = _RECORD_FILTERS.get(name, name)
        if field not in event:
            raise TypeError(f"Stock events have no field {name!r}")
        if not _equal(event[field], _id(want) if name in _RECORD_FILTERS else want):
            return False
    return True


def _describe(filters, prefix):
    if not filters:
        return ""
    return prefix + ", ".join(f"{name}={_id(value)!r}" for name, value in filters.items())


class EventBusCommon(StockScalableCommon):
    """stock_scalable's fixtures plus a second company and helpers that write
    outbox rows directly (the posting hooks are tested on their own)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Event Bus Company B"})

    @classmethod
    def _create_event(cls, company, **vals):
        return (
            cls.env["stock.event.outbox"]
            .sudo()
            .create(
                {
                    "event_uuid": str(uuid.uuid4()),
                    "company_id": company.id,
                    "event_type": "RECEIPT",
                    "product_id": cls.product.id,
                    "quantity": 1.0,
                    **vals,
                }
            )
        )

    @classmethod
    def _counted_quant(cls, product, qty):
        """A count of ``qty`` units of ``product`` in WH/Stock, not applied."""
        return (
            cls.env["stock.quant"]
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": cls.stock_location.id,
                    "inventory_quantity": qty,
                }
            )
        )

    @classmethod
    def _create_user(cls, login, groups, companies):
        return cls.env["res.users"].create(
            {
                "name": login,
                "login": login,
                "groups_id": [(6, 0, [cls.env.ref(g).id for g in groups])],
                "company_id": companies[0].id,
                "company_ids": [(6, 0, [c.id for c in companies])],
            }
        )
