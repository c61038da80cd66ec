# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands: the pure format (lib/commands.py, lib/gs1.py,
lib/batch_plan.py) and the model's
resolution, GS1 decoding and retention, inside one transaction. Posting
over HTTP and AMQP, with copies at once, is tested in
tests/test_inventory_commands_*.py on committed data."""

import doctest
from unittest.mock import patch

from odoo.tests import BaseCase, TransactionCase, tagged

from ..inventory_command import runner as command_runner
from ..inventory_command.runner import LOOKUP_SLOT
from ..lib import batch_plan, gs1
from ..lib import commands as cmdlib


@tagged("post_install", "-at_install")
class TestCommandFormat(BaseCase):
    def test_doctests(self):
        """The pure modules' examples (format, GS1, batch plan) are their
        specification."""
        for module in (cmdlib, gs1, batch_plan):
            with self.subTest(module=module.__name__):
                result = doctest.testmod(module)
                self.assertGreater(result.attempted, 0)
                self.assertEqual(result.failed, 0)

    def _parse(self, **fields):
        payload = {"idempotency_key": "k", "type": "deliver", "product": "P", "quantity": 1}
        payload.update(fields)
        return cmdlib.parse({k: v for k, v in payload.items() if v is not None})

    def _code(self, **fields):
        with self.assertRaises(cmdlib.CommandError) as caught:
            self._parse(**fields)
        return caught.exception.code

    def test_bad_shapes(self):
        self.assertEqual(self._code(type="teleport"), "malformed")
        self.assertEqual(self._code(quantity="2"), "bad_quantity")
        self.assertEqual(self._code(quantity=True), "bad_quantity")
        self.assertEqual(self._code(quantity=[1]), "bad_quantity")
        self.assertEqual(self._code(quantity=10**400), "bad_quantity")
        self.assertEqual(self._code(quantity=-(10**400)), "bad_quantity")
        self.assertEqual(self._code(quantity=1e12 + 1), "bad_quantity")
        self.assertEqual(self._parse(quantity=10**12).quantity, 1e12)
        self.assertEqual(self._code(colour="red"), "malformed")
        self.assertEqual(self._code(idempotency_key=None), "missing_idempotency_key")
        self.assertEqual(self._code(idempotency_key="x" * 256), "malformed")
        self.assertEqual(self._code(quantity=0), "bad_quantity")
        self.assertEqual(self._code(quantity=float("nan")), "bad_quantity")
        self.assertEqual(self._code(expiration_date="31/01/2027"), "malformed")
        with self.assertRaises(cmdlib.CommandError) as caught:
            cmdlib.parse({"idempotency_key": "a", "type": "count"}, idempotency_key="b")
        self.assertEqual(caught.exception.code, "malformed")

    def test_bodies_are_read_strictly(self):
        """loads() refuses what json.loads would read one way or another:
        a name twice (at any depth), bytes that are not UTF-8, a lone
        surrogate, nesting too deep; always malformed, never an exception
        of its own."""
        for body in (
            b'{"commands": [{"type": "count"}, {"type": "count", "type": "move"}]}',
            b'{"reference": {"a": 1, "a": 2}}',
            b'{"reference": "\xff"}',
            b'{"reference": "\\ud800"}',
            b"[" * 100000 + b"]" * 100000,
            b"",
            b"1 2",
        ):
            with self.assertRaises(cmdlib.CommandError) as caught:
                cmdlib.loads(body)
            self.assertEqual(caught.exception.code, "malformed", body[:40])
        self.assertEqual(cmdlib.loads('{"k": "clé-X"}'.encode()), {"k": "clé-X"})
        self.assertEqual(cmdlib.loads(b'{"q": Infinity}')["q"], float("inf"))
        self.assertEqual(cmdlib.loads(b'{"q": ' + b"9" * 400 + b"}")["q"], float("inf"))

    def test_header_key_is_printable_ascii(self):
        """The Idempotency-Key header takes printable ASCII; a body key any
        text (the same key as AMQP's message_id)."""
        self.assertIsNone(cmdlib.header_key(None))
        self.assertEqual(cmdlib.header_key("a b~!"), "a b~!")
        for value in ("clé-X", "cl\xc3\xa9-X", "tab\there", "\x7f"):
            with self.assertRaises(cmdlib.CommandError) as caught:
                cmdlib.header_key(value)
            self.assertEqual(caught.exception.details, {"field": "Idempotency-Key"})
        self.assertEqual(self._parse(idempotency_key="clé-X").idempotency_key, "clé-X")

    def test_count_may_be_zero_and_keys_up_to_255(self):
        self.assertEqual(self._parse(type="count", quantity=0).quantity, 0.0)
        self.assertEqual(len(self._parse(idempotency_key="x" * 255).idempotency_key), 255)

    def test_header_key_and_fingerprint(self):
        """The header's key and the body's are the same command; any other
        field changes the fingerprint."""
        body = {"type": "deliver", "product": "P", "quantity": 1}
        with_header = cmdlib.parse(dict(body), idempotency_key="k")
        in_body = cmdlib.parse(dict(body, idempotency_key="k"))
        self.assertEqual(with_header.fingerprint, in_body.fingerprint)
        self.assertNotEqual(
            with_header.fingerprint, cmdlib.parse(dict(body, quantity=2), "k").fingerprint
        )

    def test_batch(self):
        self.assertEqual(cmdlib.parse_batch({"commands": [{}, {}]}), [{}, {}])
        for bad, code in (
            ([], "malformed"),
            ({"commands": {}}, "malformed"),
            ({"commands": [{}] * 501}, "batch_too_large"),
        ):
            with self.assertRaises(cmdlib.CommandError) as caught:
                cmdlib.parse_batch(bad)
            self.assertEqual(caught.exception.code, code)

    def test_gs1_fields_must_agree(self):
        command = self._parse(product=None, quantity=None, lot="A")
        gs1.merge_gs1(command, [("product", "00000000000017"), ("quantity", 3)])
        self.assertEqual((command.product, command.quantity), ("00000000000017", 3.0))
        with self.assertRaises(cmdlib.CommandError):
            gs1.merge_gs1(command, [("lot", "B")])

    def test_every_code_has_a_status(self):
        for code, (status, text) in cmdlib.ERRORS.items():
            self.assertIn(status, (400, 401, 403, 404, 405, 409, 415, 422, 500), code)
            self.assertTrue(text)


@tagged("post_install", "-at_install")
class TestCommandResolution(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )
        cls.stock = cls.warehouse.lot_stock_id
        cls.product = cls.env["product.product"].create(
            {
                "name": "Cmd Widget",
                "is_storable": True,
                "default_code": "CMD-W",
                "barcode": "4006381333931",
            }
        )
        cls.lotted = cls.env["product.product"].create(
            {
                "name": "Cmd Lotted",
                "is_storable": True,
                "tracking": "lot",
                "barcode": "00000000000017",
            }
        )
        cls.Command = cls.env["stock.inventory.command"]

    def _resolve(self, **fields):
        payload = {
            "idempotency_key": "k",
            "type": "deliver",
            "quantity": 1,
            "location": self.stock.complete_name,
        }
        payload.update(fields)
        return self.Command._sscale_resolve(cmdlib.parse(payload))

    def _code(self, **fields):
        with self.assertRaises(cmdlib.CommandError) as caught:
            self._resolve(**fields)
        return caught.exception

    def test_names_barcodes_and_references(self):
        for name in ("CMD-W", "4006381333931", "04006381333931", "Cmd Widget", self.product.id):
            self.assertEqual(self._resolve(product=name)["product"], self.product, name)
        self.assertEqual(
            self._resolve(product="CMD-W", location=self.stock.id)["location"], self.stock
        )

    def test_errors_name_what_is_wrong(self):
        error = self._code(product="NOPE")
        self.assertEqual((error.code, error.details), ("unknown_product", {"product": "NOPE"}))
        self.assertEqual(self._code(product="CMD-W", location="Nowhere").code, "unknown_location")
        self.assertEqual(
            self._code(product="CMD-W", location="Partners/Customers").code, "bad_location"
        )
        self.assertEqual(self._code(product="CMD-W", uom="Parsec").code, "unknown_uom")
        self.assertEqual(self._code(product=self.lotted.id).code, "lot_required")
        self.assertEqual(self._code(product=self.lotted.id, lot="NEW").code, "unknown_lot")
        self.assertEqual(self._code(product="CMD-W", package="NO-PACK").code, "unknown_package")
        self.assertEqual(
            self._code(type="move", product="CMD-W", location_dest=None).code, "malformed"
        )

    def test_execute_memoizes_one_call_only(self):
        """command_runner.execute looks each name up once per call (5
        commands naming the same unknown product: the location, the product
        and the product among all companies, once each) and leaves no memo
        on its cursor."""
        payloads = [
            {
                "idempotency_key": f"memo-{n}",
                "type": "deliver",
                "product": "NOPE",
                "quantity": 1,
                "location": self.stock.complete_name,
            }
            for n in range(5)
        ]
        Command = self.registry["stock.inventory.command"]
        with (
            patch.object(
                Command,
                "_sscale_search_records",
                autospec=True,
                side_effect=Command._sscale_search_records,
            ) as search,
            self.registry.cursor() as cr,
        ):
            answers = command_runner.execute(self.registry, self.env.uid, payloads, "odoo", cr=cr)
            self.assertNotIn(LOOKUP_SLOT, cr.cache)
        self.assertEqual({answer["error"]["code"] for _s, answer in answers}, {"unknown_product"})
        self.assertEqual(search.call_count, 3)

    def test_products_without_stock_and_moves_in_place_are_refused(self):
        service = self.env["product.product"].create({"name": "Cmd Service", "type": "service"})
        consumable = self.env["product.product"].create({"name": "Cmd Consumable"})
        for kind, extra in (
            ("deliver", {}),
            ("receive", {"location": None, "location_dest": self.stock.complete_name}),
            ("scrap", {}),
        ):
            error = self._code(type=kind, product=service.id, **extra)
            self.assertEqual((error.code, error.status), ("bad_product", 422), kind)
            self.assertIn("Cmd Service is a service", error.message)
        # Goods that do not track inventory move (Odoo's transfers take
        # them) but have no stock to count.
        self.assertEqual(self._resolve(product=consumable.id)["product"], consumable)
        error = self._code(type="count", product=consumable.id, quantity=3)
        self.assertEqual(
            (error.code, error.details), ("bad_product", {"product": "Cmd Consumable"})
        )
        error = self._code(type="move", product="CMD-W", location_dest=self.stock.complete_name)
        self.assertEqual(error.code, "bad_location")
        self.assertEqual(
            self._code(type="count", product="CMD-W", quantity=-1).message,
            "quantity must be 0 or more, not -1",
        )

    def test_product_of_another_company_of_the_user(self):
        """A product of another of the user's companies is not found for a
        location of this one: said so, not that the user is no member."""
        other = self.env["res.company"].create({"name": "Cmd Other Co"})
        self.env.user.company_ids |= other
        self.env["product.product"].create(
            {"name": "Cmd Elsewhere", "default_code": "CMD-ELSE", "company_id": other.id}
        )
        error = self._code(product="CMD-ELSE")
        self.assertEqual(error.code, "unknown_product")
        self.assertEqual(
            error.message,
            f"product 'CMD-ELSE' belongs to Cmd Other Co, not to {self.stock.company_id.name},"
            " the company of the command's location",
        )

    def test_lookups_of_one_resolve_step_are_memoized(self):
        """Within the resolve step of one call (command_runner sets the
        slot), a batch naming the same product and location searches them
        once; outside it, every resolve searches anew."""
        cr = self.env.cr
        cr.cache[LOOKUP_SLOT] = {}
        try:
            self._resolve(product="CMD-W")
            before = cr.sql_log_count
            for _copy in range(5):
                self.assertEqual(self._resolve(product="CMD-W")["product"], self.product)
            self.assertEqual(cr.sql_log_count, before)
            self.assertEqual(self._code(product="NOPE").code, "unknown_product")
        finally:
            cr.cache.pop(LOOKUP_SLOT)
        self.product.default_code = "CMD-W2"
        self.assertEqual(self._code(product="CMD-W").code, "unknown_product")
        before = cr.sql_log_count
        self.assertEqual(self._resolve(product="CMD-W2")["product"], self.product)
        self.assertGreaterEqual(cr.sql_log_count - before, 2)  # the product and the location

    def test_gs1(self):
        resolved = self._resolve(
            type="receive",
            location=None,
            location_dest=self.stock.complete_name,
            quantity=None,
            barcode="(01)00000000000017(10)L-9(17)270615(30)4",
        )
        command = resolved["command"]
        self.assertEqual(resolved["product"], self.lotted)
        self.assertEqual((command.lot, command.quantity), ("L-9", 4.0))
        self.assertEqual(str(command.expiration_date), "2027-06-15")
        self.assertFalse(resolved["lot"])  # a new lot, created when posted
        for bad in ("(01)00000000000018(30)4", "(99)x", "garbage"):
            error = self._code(
                type="receive",
                location=None,
                quantity=None,
                location_dest=self.stock.complete_name,
                barcode=bad,
            )
            self.assertEqual(error.code, "bad_barcode", bad)

    def test_user_without_inventory_rights(self):
        clerk = self.env["res.users"].create(
            {
                "name": "Clerk",
                "login": "cmd-clerk",
                "groups_id": [(6, 0, [self.env.ref("base.group_user").id])],
            }
        )
        with self.assertRaises(cmdlib.CommandError) as caught:
            self.Command.with_user(clerk)._sscale_resolve(
                cmdlib.parse(
                    {
                        "idempotency_key": "k",
                        "type": "deliver",
                        "product": "CMD-W",
                        "quantity": 1,
                        "location": self.stock.complete_name,
                    }
                )
            )
        self.assertEqual(caught.exception.code, "forbidden")

    def test_purge_keeps_recent_and_pending(self):
        def row(key, state, days):
            record = self.Command.create(
                {
                    "idempotency_key": key,
                    "company_id": self.env.company.id,
                    "type": "receive",
                    "state": state,
                    "fingerprint": key,
                }
            )
            self.env.cr.execute(
                "UPDATE stock_inventory_command"
                " SET create_date = now() - make_interval(days => %s)"
                " WHERE id = %s",
                (days, record.id),
            )
            return record

        old_done, old_refused = row("old-1", "done", 31), row("old-2", "refused", 40)
        recent, old_pending = row("new-1", "done", 29), row("old-3", "pending", 90)
        self.env["ir.config_parameter"].set_param("stock_scalable.command_retention_days", 30)
        self.assertEqual(self.Command._cron_purge(batch_size=1), 1)
        self.assertEqual(self.Command._cron_purge(), 1)
        self.assertFalse((old_done | old_refused).exists())
        self.assertEqual((recent | old_pending).exists(), recent | old_pending)
