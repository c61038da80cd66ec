# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The consumer library downstream services use (stock_event_bus/lib/consumer.py):
poison messages dead-lettered with their reason, duplicates dropped, and no
Odoo import.
"""

import datetime
import json
import subprocess
import sys
import uuid

import pytest

from odoo.tests import tagged

from odoo.addons.stock_event_bus.lib import consumer as consumer_lib
from odoo.addons.stock_event_bus.lib import events

from tests.harness import stack

pytestmark = [pytest.mark.committed, pytest.mark.amqp]


@tagged("-at_install", "post_install", "sscale_committed")
class TestEventConsumer:
    def test_consumer_dead_letters_poison_messages(self, bus, amqp_channel):
        """Malformed JSON, a schema violation and a handler's refusal go to
        the dead-letter exchange with their reason; good events are handled."""
        b = bus()
        channel = amqp_channel.channel
        good = events.build_payload(
            {
                "date": datetime.datetime(2026, 1, 1),
                "company_id": 1,
                "product_id": 1,
                "default_code": None,
                "barcode": None,
                "quantity": 1.0,
                "uom": "Units",
                "location_id": 1,
                "location": "A",
                "location_dest_id": 2,
                "location_dest": "B",
                "lot": None,
                "package": None,
                "result_package": None,
                "move_id": 1,
                "move_line_id": 1,
                "picking": None,
                "origin": None,
            },
            event_id=str(uuid.uuid4()),
            warehouse_id=1,
            event_type="RECEIPT",
            sign=1,
            sequence=1,
        )
        refused = dict(good, event_id=str(uuid.uuid4()), product_id=666)
        bodies = [
            b"{not json",
            json.dumps(dict(good, event_type="THEFT")).encode(),
            json.dumps(refused).encode(),
            json.dumps(good).encode(),
            json.dumps(good).encode(),  # a duplicate
        ]
        for body in bodies:
            channel.basic_publish(b.exchange, "stock.1.1.receipt", body)

        def handler(event):
            if event["product_id"] == 666:
                raise consumer_lib.PoisonMessage("unknown product 666")
            b.received.append(event)

        b.consumer.run(handler, max_messages=5, inactivity_timeout=5)
        assert [e["event_id"] for e in b.received] == [good["event_id"]]
        assert b.consumer.stats["duplicates"] == 1
        dead = amqp_channel.drain(b.consumer.dead_letter_queue)
        reasons = [props.headers["x-poison-reason"] for _m, props, _b in dead]
        assert len(reasons) == 3
        assert "not JSON" in reasons[0]
        assert "event_type" in reasons[1]
        assert reasons[2] == "unknown product 666"
        assert all(p.headers["x-original-exchange"] == b.exchange for _m, p, _b in dead)

    def test_consumer_module_imports_no_odoo(self):
        """Downstream services can use the consumer without Odoo."""
        lib = stack.ROOT / "stock_event_bus" / "lib"
        code = (
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location(\n"
            f"    'stock_events', {str(lib / '__init__.py')!r},\n"
            f"    submodule_search_locations=[{str(lib)!r}])\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "sys.modules['stock_events'] = module\n"
            "spec.loader.exec_module(module)\n"
            "import stock_events.consumer, stock_events.dispatcher\n"
            "odoo = [m for m in sys.modules if m == 'odoo' or m.startswith('odoo.')]\n"
            "assert not odoo, 'odoo imported'\n"
            "print('ok')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.stdout.strip() == "ok", result.stderr
