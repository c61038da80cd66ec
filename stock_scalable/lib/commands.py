# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Inventory commands (receive, deliver, move, count, scrap): the wire format,
its validation and the error codes, without Odoo.

A command is a JSON object (schema: :data:`SCHEMA_PATH`,
``stock_scalable/schemas/stock_command.v1.schema.json``). :func:`parse`
checks its shape and returns a :class:`Command`; the names in it (product,
locations, lot, package) are resolved to records by the ORM glue
(``inventory_command/resolution.py``; GS1-128 barcodes: ``lib/gs1.py``).
Every refusal is a :class:`CommandError` with one of the :data:`ERRORS`
codes, the HTTP status it is answered with, and details.

>>> cmd = parse({"idempotency_key": "k1", "type": "deliver", "product": "P1",
...              "quantity": 2, "location": "WH/Stock"})
>>> cmd.type, cmd.quantity, cmd.location
('deliver', 2.0, 'WH/Stock')
>>> fingerprint({"b": 1, "a": "é", "idempotency_key": "x"}) == fingerprint({"a": "é", "b": 1.0})
True
>>> try:
...     parse({"idempotency_key": "k1", "type": "deliver", "product": "P1", "quantity": 0})
... except CommandError as error:
...     print(error.status, error.code, error.message)
422 bad_quantity quantity must be greater than 0, not 0

A body is read by :func:`loads`, stricter than ``json.loads``: a name twice
in one object is refused, not its last value kept; a quantity that is not a
number, or too large for a float, is ``bad_quantity`` like any other.

>>> def refusal(body):
...     try:
...         parse(loads(body))
...     except CommandError as error:
...         print(error.status, error.code, error.message)
>>> refusal(b'{"idempotency_key": "k", "type": "count", "quantity": 1, "quantity": 1000}')
400 malformed the name 'quantity' appears twice in one object
>>> refusal(b'{"idempotency_key": "k", "type": "count", "quantity": 1' + b"0" * 400 + b"}")
422 bad_quantity quantity must be at most 1e+12
>>> refusal(b'{"idempotency_key": "k", "type": "count", "quantity": "abc"}')
422 bad_quantity quantity must be a number, not a string
>>> refusal(b'{"idempotency_key": "k", "type": "count", "quantity": NaN}')
422 bad_quantity quantity must be a number

A key is compared in Unicode's composed form: ``clé-X`` typed with a
combining accent is the same key. A control character (NUL, a line feed)
is refused, wherever the key comes from (the body, a header, AMQP's
``message_id``).

>>> parse({"type": "count", "product": "P1", "quantity": 1}, "cle\\u0301-X").idempotency_key
'clé-X'
>>> try:
...     parse({"type": "count", "product": "P1", "quantity": 1}, "a\\x00b")
... except CommandError as error:
...     print(error.status, error.code, error.details)
400 malformed {'field': 'idempotency_key'}
"""

import dataclasses
import datetime
import hashlib
import json
import math
import unicodedata
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "stock_command.v1.schema.json"
MAX_KEY_LENGTH = 255
MAX_BATCH = 500
MAX_TEXT = 255  # names, lots, packages, references, barcodes
MAX_ID = 2**31 - 1  # an Odoo id is a PostgreSQL integer
MAX_QUANTITY = 1e12  # beyond what a float keeps exact to the unit's rounding
MAX_DIGITS = 100  # a longer JSON integer is read as a float (inf when too large)

RECEIVE, DELIVER, MOVE, COUNT, SCRAP = "receive", "deliver", "move", "count", "scrap"
TYPES = (RECEIVE, DELIVER, MOVE, COUNT, SCRAP)

# code: (HTTP status, what it means). The schema's error_code says the same
# words (stock_event_bus/tests/test_command_schema.py checks it); the README's
# answers paragraph groups them by HTTP status.
ERRORS = {
    "malformed": (
        400,
        "The body is not a JSON object of the command format: not UTF-8 JSON, a name twice in"
        " one object, an unknown field or a wrong type, or an Idempotency-Key header that is"
        " not printable ASCII.",
    ),
    "missing_idempotency_key": (400, "No Idempotency-Key header and no idempotency_key field."),
    "batch_too_large": (400, "A batch holds more than 500 commands."),
    "unauthorized": (401, "No API key, or an API key that is wrong or expired."),
    "unknown_broker_user": (
        401,
        "AMQP: the message has no user_id, or its RabbitMQ user is mapped to no active Odoo"
        " user (AMQP User on the user's form).",
    ),
    "forbidden": (403, "The user has no Inventory rights, or the location is another company's."),
    "not_found": (404, "No such path under /api/stock/."),
    "method_not_allowed": (
        405,
        "The path does not take this method: POST for commands, GET for levels.",
    ),
    "in_progress": (409, "A command with this key is being posted elsewhere; send it again."),
    "unsupported_media_type": (415, "The body is not sent as Content-Type: application/json."),
    "idempotency_key_reused": (422, "The key was used before with a different payload."),
    "bad_quantity": (
        422,
        "The quantity is not a number above 0 (0 allowed for count) and at most 1e12 in its"
        " unit: a string, NaN, Infinity, a larger number, one that rounds to 0 in its unit, or"
        " more than one unit of a serial number.",
    ),
    "bad_barcode": (422, "A GS1-128 barcode that does not decode (check digit, format)."),
    "unknown_product": (422, "No product with this barcode, internal reference or name."),
    "bad_product": (
        422,
        "The product has no stock: a service or a combo, or a count of a product that does"
        " not track inventory.",
    ),
    "unknown_location": (422, "No location with this barcode or full name."),
    "unknown_lot": (422, "No lot or serial number of this name for the product."),
    "unknown_package": (422, "No package of this name."),
    "unknown_uom": (422, "No unit of measure of this name in the product's category."),
    "ambiguous": (422, "Several records match the name given; use the barcode or id."),
    "lot_required": (422, "The product is tracked by lot or serial number; none given."),
    "bad_location": (422, "The location is not one this command type can use."),
    "insufficient_stock": (422, "Refused by the negative-stock guard (not enough on hand)."),
    "serial_already_in_stock": (422, "Refused: the serial number is on hand elsewhere."),
    "refused": (422, "Odoo refused the posting; the message says why."),
    "internal_error": (500, "The server failed; nothing was posted. Send it again later."),
}

_FIELDS = {
    "idempotency_key": str,
    "type": str,
    "product": (str, int),
    "quantity": (int, float),
    "uom": str,
    "location": (str, int),
    "location_dest": (str, int),
    "lot": str,
    "package": str,
    "expiration_date": str,
    "reference": str,
    "barcode": str,
}


class CommandError(Exception):
    """A command refused, with a code of :data:`ERRORS` and details (a dict of
    JSON values: product, location, requested, available, ...)."""

    def __init__(self, code, message, **details):
        assert code in ERRORS, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self):
        return ERRORS[self.code][0]

    def as_dict(self):
        """The error body: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclasses.dataclass
class Command:
    """A parsed command. Names are still names; quantities are floats in the
    unit given (``uom``) or the product's unit."""

    idempotency_key: str
    type: str
    fingerprint: str
    payload: dict
    product: object = None
    quantity: float | None = None
    uom: str | None = None
    location: object = None
    location_dest: object = None
    lot: str | None = None
    package: str | None = None
    expiration_date: datetime.date | None = None
    reference: str | None = None
    barcode: str | None = None


def loads(body):
    """Decode a request or message body (bytes) as JSON, strictly: UTF-8
    only, each name once per object (a copy is ambiguous: which value
    counts?), no lone surrogate (not text). ``NaN`` and ``Infinity``, and an
    integer of more than :data:`MAX_DIGITS` digits, are read as floats, for
    :func:`parse` to refuse as ``bad_quantity`` (or a wrong type elsewhere).
    Raises :class:`CommandError` (``malformed``)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        value = json.loads(
            text,
            object_pairs_hook=_unique_names,
            parse_constant=float,
            parse_int=lambda digits: int(digits) if len(digits) <= MAX_DIGITS else float(digits),
        )
        # A "\ud800" escape decodes to a lone surrogate, which no text
        # encoding (the database's, the answer's) can hold.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("malformed", "the body is not UTF-8 text") from None
    except UnicodeEncodeError:
        raise CommandError(
            "malformed", "the body holds a lone surrogate (\\ud800 to \\udfff), not text"
        ) from None
    except (ValueError, RecursionError):
        raise CommandError("malformed", "the body is not JSON") from None
    return value


def _unique_names(pairs):
    names = set()
    for name, _value in pairs:
        if name in names:
            raise CommandError(
                "malformed", f"the name {name!r} appears twice in one object", field=name
            )
        names.add(name)
    return dict(pairs)


def header_key(value):
    """The idempotency key of an ``Idempotency-Key`` header, or None when
    there is none. A header is printable ASCII (RFC 9110 field values; its
    other bytes have no agreed encoding): anything else is refused, so that
    ``clé-X`` is never read as another key than the body's ``clé-X``.
    Raises :class:`CommandError` (``malformed``, ``field``:
    ``Idempotency-Key``).

    >>> header_key("scanner-7-000123")
    'scanner-7-000123'
    >>> try:
    ...     header_key("cl\xc3\xa9-X")  # UTF-8 bytes of clé-X, as HTTP servers read them
    ... except CommandError as error:
    ...     print(error.status, error.code, error.details)
    400 malformed {'field': 'Idempotency-Key'}
    """
    if not value:
        return None
    if not all(" " <= char <= "~" for char in value):
        raise CommandError(
            "malformed",
            "the Idempotency-Key header must be printable ASCII; send any other key in the"
            " body's idempotency_key",
            field="Idempotency-Key",
        )
    return value


def canonical_json(payload):
    """The payload as canonical JSON (sorted keys, no spaces, UTF-8, a whole
    number written without decimals: 10.0 is 10), without its
    ``idempotency_key``: what :func:`fingerprint` hashes."""
    body = {
        k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v
        for k, v in payload.items()
        if k != "idempotency_key"
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(payload):
    """SHA-256 (hex) of :func:`canonical_json`: two copies of a command have
    the same fingerprint, a changed field another one."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def parse(payload, idempotency_key=None):
    """Check the shape of one command and return a :class:`Command`.

    ``payload``: the decoded JSON object. ``idempotency_key``: the key from
    the ``Idempotency-Key`` header, if any (it wins over the body's; when
    both are given they must agree). Raises :class:`CommandError`
    (``malformed``, ``missing_idempotency_key``, ``bad_quantity``: a
    quantity that is not a number is that too, not ``malformed``)."""
    if not isinstance(payload, dict):
        raise CommandError("malformed", "a command is a JSON object")
    unknown = sorted(set(payload) - set(_FIELDS))
    if unknown:
        raise CommandError("malformed", f"unknown field(s): {', '.join(unknown)}", fields=unknown)
    for name, kinds in _FIELDS.items():
        value = payload.get(name)
        if value is None or name == "quantity":
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise CommandError("malformed", f"{name} has the wrong type", field=name)
        if isinstance(value, str) and (len(value) > MAX_TEXT or "\x00" in value):
            raise CommandError(
                "malformed",
                f"{name} is longer than {MAX_TEXT} characters or holds a NUL character",
                field=name,
            )
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise CommandError("malformed", f"{name} is not a record id", field=name)
    body_key = _key(payload.get("idempotency_key"))
    idempotency_key = _key(idempotency_key)
    if idempotency_key and body_key and idempotency_key != body_key:
        raise CommandError(
            "malformed",
            "the key sent beside the command (Idempotency-Key header, AMQP message_id) and"
            " its idempotency_key field differ",
            field="idempotency_key",
        )
    key = idempotency_key or body_key
    if not key:
        raise CommandError("missing_idempotency_key", "an idempotency key is required")
    if len(key) > MAX_KEY_LENGTH or any(unicodedata.category(char) == "Cc" for char in key):
        raise CommandError(
            "malformed",
            f"the idempotency key is longer than {MAX_KEY_LENGTH} characters or holds a"
            " control character",
            field="idempotency_key",
        )
    kind = payload.get("type")
    if kind not in TYPES:
        raise CommandError(
            "malformed", f"type must be one of {', '.join(TYPES)}, not {kind!r}", field="type"
        )
    expiration = payload.get("expiration_date")
    if expiration is not None:
        try:
            expiration = datetime.date.fromisoformat(expiration)
        except ValueError:
            raise CommandError(
                "malformed", "expiration_date must be a date (YYYY-MM-DD)", field="expiration_date"
            ) from None
    command = Command(
        idempotency_key=key,
        type=kind,
        fingerprint=fingerprint(payload),
        payload=payload,
        product=payload.get("product"),
        quantity=_quantity(payload.get("quantity")),
        uom=payload.get("uom"),
        location=payload.get("location"),
        location_dest=payload.get("location_dest"),
        lot=payload.get("lot"),
        package=payload.get("package"),
        expiration_date=expiration,
        reference=payload.get("reference"),
        barcode=payload.get("barcode"),
    )
    if command.quantity is not None:
        check_quantity(command.type, command.quantity)
    return command


def _key(value):
    """An idempotency key as compared: without surrounding blanks, in
    Unicode's composed form (NFC), so that ``clé`` typed as one character or
    as ``e`` and a combining accent is one key; None when empty.

    >>> _key(" cle\\u0301-X ") == _key("cl\\u00e9-X") == "cl\\u00e9-X"
    True
    """
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFC", value.strip()) or None


def _quantity(value):
    """The quantity field as a float (None when absent or null, as any field):
    a JSON number, an integer too large for a float being infinite. Raises
    :class:`CommandError` (``bad_quantity``) for any other JSON value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = {str: "a string", bool: "a boolean", list: "an array", dict: "an object"}
        raise CommandError(
            "bad_quantity",
            f"quantity must be a number, not {kind.get(type(value), type(value).__name__)}",
            field="quantity",
            requested=None,
        )
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def check_quantity(kind, quantity):
    """A quantity must be above 0 and at most :data:`MAX_QUANTITY`; a count
    may be 0 (an empty bin)."""
    if math.isnan(quantity):
        raise CommandError("bad_quantity", "quantity must be a number", requested=None)
    if quantity > MAX_QUANTITY:
        raise CommandError(
            "bad_quantity",
            f"quantity must be at most {MAX_QUANTITY:g}",
            requested=quantity if math.isfinite(quantity) else None,
        )
    if quantity < 0 or (quantity == 0 and kind != COUNT):
        finite = math.isfinite(quantity)
        shown = int(quantity) if finite and quantity == int(quantity) else quantity
        raise CommandError(
            "bad_quantity",
            f"quantity must be {'0 or more' if kind == COUNT else 'greater than 0'}, not {shown}",
            requested=quantity if finite else None,
        )


def parse_batch(payload):
    """A batch is ``{"commands": [command, ...]}`` of at most
    :data:`MAX_BATCH` commands. Returns the list (not parsed: each command
    is answered on its own). Raises :class:`CommandError` (``malformed``,
    ``batch_too_large``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("commands"), list):
        raise CommandError("malformed", 'a batch is {"commands": [...]}')
    commands = payload["commands"]
    if len(commands) > MAX_BATCH:
        raise CommandError(
            "batch_too_large",
            f"a batch holds at most {MAX_BATCH} commands, not {len(commands)}",
            size=len(commands),
        )
    return commands


def required_locations(kind):
    """Which of ``location`` (source) and ``location_dest`` a type needs:
    receive needs a destination, deliver/count/scrap a source, move both."""
    return {
        RECEIVE: ("location_dest",),
        DELIVER: ("location",),
        MOVE: ("location", "location_dest"),
        COUNT: ("location",),
        SCRAP: ("location",),
    }[kind]
