# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The published command schema agrees with the code that parses commands."""

import json

import jsonschema

from odoo.tests import BaseCase, tagged

from odoo.addons.stock_scalable.lib import commands as cmdlib

SCHEMA = cmdlib.SCHEMA_PATH


@tagged("post_install", "-at_install")
class TestCommandSchema(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = json.loads(SCHEMA.read_text())
        jsonschema.Draft202012Validator.check_schema(cls.schema)

    def test_fields_types_and_codes_agree(self):
        self.assertEqual(set(self.schema["properties"]), set(cmdlib._FIELDS))
        self.assertEqual(self.schema["properties"]["type"]["enum"], list(cmdlib.TYPES))
        codes = {
            item["const"]: item["description"]
            for item in self.schema["$defs"]["error_code"]["oneOf"]
        }
        self.assertEqual(set(codes), set(cmdlib.ERRORS))
        for code, (status, text) in cmdlib.ERRORS.items():
            self.assertEqual(codes[code], f"HTTP {status}: {text}", code)

    def test_what_parses_validates(self):
        validator = jsonschema.Draft202012Validator(self.schema)
        good = {
            "idempotency_key": "k",
            "type": "move",
            "product": "P",
            "quantity": 2,
            "location": "WH/Stock",
            "location_dest": 8,
            "lot": "L",
            "package": "PK",
            "expiration_date": "2027-01-31",
            "reference": "r",
            "uom": "Units",
            "barcode": "(01)00000000000017",
        }
        cmdlib.parse(good)
        validator.validate(good)
        for bad in (
            dict(good, colour="red"),
            dict(good, quantity=1e12 + 1),
            dict(good, quantity=10**400),
            dict(good, quantity="2"),
            dict(good, quantity=-1),
        ):
            with self.assertRaises(cmdlib.CommandError):
                cmdlib.parse(bad)
            self.assertFalse(validator.is_valid(bad), bad)
        top = dict(good, quantity=10**12)
        cmdlib.parse(top)
        validator.validate(top)

    def test_answers_validate(self):
        answer_schema = dict(self.schema["$defs"]["answer"], **{"$defs": self.schema["$defs"]})
        validator = jsonschema.Draft202012Validator(answer_schema)
        validator.validate(
            {
                "idempotency_key": "k",
                "status": "done",
                "type": "deliver",
                "document": "WH/OUT/00001",
                "on_hand": [
                    {
                        "product": "P",
                        "product_id": 1,
                        "location": "WH/Stock",
                        "location_id": 8,
                        "lot": None,
                        "package": None,
                        "quantity": 3.0,
                        "uom": "Units",
                    }
                ],
            }
        )
        error = cmdlib.CommandError("insufficient_stock", "Not enough", requested=2, available=1)
        validator.validate({"idempotency_key": "k", "status": "refused", "error": error.as_dict()})
        self.assertFalse(
            validator.is_valid(
                {
                    "idempotency_key": "k",
                    "status": "error",
                    "error": {"code": "nope", "message": "", "details": {}},
                }
            )
        )
