# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The event payload of a done move line, for one warehouse.

No Odoo import: the posting hook feeds plain values (the event type among
them: stock_scalable's movement-type table, ``stock_scalable/lib/
movement_types.py``, classifies the line), and consumers can read the same
definitions. The payload is described by
``schemas/stock_event.v1.schema.json`` (SCHEMA_VERSION below).
"""

import datetime
import json
import logging
import math
from pathlib import Path

_logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"


def schemas_dir():
    """The folder of the JSON Schemas: ``schemas/`` inside this package when
    it is installed as ``stock_events`` (the root pyproject.toml maps
    stock_event_bus/schemas to ``stock_events.schemas``), else the addon's
    ``schemas/`` beside ``lib/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / "stock_event.v1.schema.json").is_file():
            return candidate
    raise FileNotFoundError(f"no schemas/ folder in {here} nor beside it")


SCHEMA_PATH = schemas_dir() / "stock_event.v1.schema.json"
# LEVEL events (lib/levels.py) follow a schema of their own.
LEVEL_SCHEMA_PATH = SCHEMA_PATH.with_name("stock_level.v1.schema.json")
LEVEL = "LEVEL"
NOTIFY_CHANNEL = "stock_event_outbox"


def routing_key(company_id, warehouse_id, event_type):
    """Movements: ``stock.<company>.<warehouse>.<type>``; levels:
    ``stock_level.<company>.<warehouse>`` (not matched by ``stock.#``)."""
    if event_type == LEVEL:
        return f"stock_level.{company_id}.{warehouse_id}"
    return f"stock.{company_id}.{warehouse_id}.{event_type.lower()}"


def isoformat_utc(value):
    """ISO 8601 in UTC with a Z, from a naive UTC datetime (Odoo's) or an
    aware one."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def build_payload(line, *, event_id, warehouse_id, event_type, sign, sequence):
    """The event for one warehouse of one done move line. ``line`` is a
    mapping of the line's plain values (see the posting hook)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": isoformat_utc(line["date"]),
        "company_id": line["company_id"],
        "warehouse_id": warehouse_id,
        "sequence": sequence,
        "product_id": line["product_id"],
        "default_code": line["default_code"] or None,
        "barcode": line["barcode"] or None,
        "quantity": sign * line["quantity"],
        "uom": line["uom"],
        "location_id": line["location_id"],
        "location": line["location"],
        "location_dest_id": line["location_dest_id"],
        "location_dest": line["location_dest"],
        "lot": line["lot"] or None,
        "package": line["package"] or None,
        "result_package": line["result_package"] or None,
        "move_id": line["move_id"],
        "move_line_id": line["move_line_id"],
        "picking": line["picking"] or None,
        "origin": line["origin"] or None,
    }


def message_properties(payload):
    """AMQP properties of an event's message (besides delivery mode)."""
    return properties_of(
        payload["event_id"],
        payload["event_type"],
        payload["occurred_at"],
        payload["schema_version"],
    )


def properties_of(event_id, event_type, occurred_at, schema_version):
    occurred = datetime.datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return {
        "message_id": event_id,
        "content_type": "application/json",
        "type": event_type,
        "timestamp": int(occurred.timestamp()),
        "headers": {"schema_version": schema_version},
    }


def _unique_names(pairs):
    names = [name for name, _value in pairs]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"{', '.join(twice)} given twice in an object")
    for name, value in pairs:
        for text in (name, value) if isinstance(value, str) else (name,):
            _check_text(text)
    return dict(pairs)


def _check_text(text):
    """A text a database can store: no NUL, no lone surrogate (JSON's
    ``"\\ud800"`` decodes to one; neither SQLite nor PostgreSQL take it)."""
    if "\x00" in text:
        raise ValueError(f"a text holds a NUL character: {text[:40]!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"a text holds a lone surrogate: {text[:40]!r}") from None


def _finite(text):
    """A JSON number as a float, refused when it is beyond a double
    (``1e999`` would be read as infinity)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is beyond a floating-point number")
    return value


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def loads(body):
    r"""Strict JSON of a message or an answer (bytes or text): a name given
    twice in an object, NaN or Infinity raise ``ValueError`` (Python's
    decoder would keep the last value, or a NaN).

    >>> loads(b'{"on_hand": 1, "on_hand": 1000}')
    Traceback (most recent call last):
    ...
    ValueError: on_hand given twice in an object
    >>> loads('{"on_hand": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: NaN is not a JSON number
    >>> loads('{"on_hand": 1e999}')
    Traceback (most recent call last):
    ...
    ValueError: 1e999 is beyond a floating-point number
    >>> loads(b"[" * 100000 + b"]" * 100000)
    Traceback (most recent call last):
    ...
    ValueError: nested too deeply
    >>> loads('{"a": "x\\u0000"}')
    Traceback (most recent call last):
    ...
    ValueError: a text holds a NUL character: 'x\x00'
    >>> loads('{"a": "x\\ud800"}')
    Traceback (most recent call last):
    ...
    ValueError: a text holds a lone surrogate: 'x\ud800'

    Bytes must be UTF-8 (UTF-16 or a byte-order mark is refused)."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    try:
        return json.loads(
            body,
            object_pairs_hook=_unique_names,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


def load_schema(level=False):
    return json.loads((LEVEL_SCHEMA_PATH if level else SCHEMA_PATH).read_text())


class PayloadError(ValueError):
    """A payload that does not follow the schema."""


class SchemaCheck:
    """One JSON Schema's check, compiled once. jsonschema (the reference)
    decides and names the first problem; when fastjsonschema is installed
    (``pip install "stock-events-client[fast]"``), its code compiled from the
    same schema answers first, and only a document it does not pass goes to
    jsonschema, whose verdict stands: so what is accepted and the reason a
    document is refused are jsonschema's, at about 1/40 of its cost for the
    valid ones. Formats are annotations for both (jsonschema checks none by
    default), so ``use_formats=False``; defaults are never filled in."""

    def __init__(self, schema):
        import jsonschema  # noqa: PLC0415 - only consumers and the dispatcher need it

        self.reference = jsonschema.Draft202012Validator(schema)
        self.fast = None
        try:
            import fastjsonschema  # noqa: PLC0415 - optional: the [fast] extra
        except ImportError:
            return
        try:
            self.fast = fastjsonschema.compile(schema, use_default=False, use_formats=False)
        except Exception:  # noqa: BLE001 - a schema it cannot compile: jsonschema alone
            _logger.warning(
                "fastjsonschema cannot compile %s; jsonschema alone", schema.get("$id")
            )

    def first_error(self, document):
        """None when ``document`` follows the schema, else jsonschema's first
        ``ValidationError``."""
        if self.fast is not None:
            try:
                self.fast(document)
            except Exception:  # noqa: BLE001,S110 - refused or not understood: the reference decides
                pass
            else:
                return None
        return next(iter(self.reference.iter_errors(document)), None)


def error_text(error):
    """``<path>: <message>`` of a jsonschema ValidationError."""
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


_validators = {}


def validate(payload):
    """Raise :class:`PayloadError` naming the first problem of ``payload``
    (a LEVEL event against the level schema, any other against the
    movement schema); an unknown ``schema_version`` is said as such."""
    if isinstance(payload, dict) and payload.get("schema_version", SCHEMA_VERSION) != (
        SCHEMA_VERSION
    ):
        raise PayloadError(
            f"unknown schema_version {payload['schema_version']!r}: this reader knows"
            f" {SCHEMA_VERSION} only (a newer producer? upgrade stock-events-client)"
        )
    level = isinstance(payload, dict) and payload.get("event_type") == LEVEL
    validator = _validators.get(level)
    if validator is None:
        validator = _validators[level] = SchemaCheck(load_schema(level))
    error = validator.first_error(payload)
    if error is not None:
        raise PayloadError(f"payload does not follow schema {SCHEMA_VERSION}: {error_text(error)}")
