# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""HTTP for handheld scanners and integrations: inventory commands as JSON.

``POST /api/stock/commands`` (one command) and ``POST /api/stock/commands/
batch`` (``{"commands": [...]}``, at most 500), with a user's API key in
``Authorization: Bearer <key>`` (Odoo's ``auth='bearer'``), the body sent
as ``Content-Type: application/json`` (UTF-8). The key of a single command
may come in the ``Idempotency-Key`` header (printable ASCII). Answers and
error codes: lib/commands.py, the schema, the README.
"""

import logging

from odoo import http
from odoo.http import request

from ..inventory_command import runner as command_runner
from ..lib import commands as cmdlib

API_PREFIX = "/api/stock/"
_logger = logging.getLogger(__name__)


def error_response(error, key=None):
    """A JSON error answer: ``{"idempotency_key", "status", "error": {"code",
    "message", "details"}}`` with the error's HTTP status."""
    status, body = command_runner._error_answer(key, error)
    return request.make_json_response(body, status=status)


def _json_body():
    """The request's body, decoded by :func:`cmdlib.loads` (strict UTF-8,
    each name once per object), once its Content-Type is checked."""
    httprequest = request.httprequest
    charset = httprequest.mimetype_params.get("charset", "utf-8").lower()
    if httprequest.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
        raise cmdlib.CommandError(
            "unsupported_media_type",
            "send the body as Content-Type: application/json (UTF-8), not"
            f" {httprequest.content_type or 'none'}",
        )
    return cmdlib.loads(httprequest.get_data())


def method_not_allowed(allowed=("POST",)):
    """The JSON 405 answer to a method that the path does not take
    (``allowed``: POST for the commands, GET for ``/api/stock/levels``).
    ir.http answers it while routing, before authentication, for every
    method: werkzeug's routing would let OPTIONS through to every route."""
    httprequest = request.httprequest
    error = cmdlib.CommandError(
        "method_not_allowed",
        f"send {httprequest.path} with {' or '.join(allowed)}, not {httprequest.method}",
    )
    return request.make_json_response(
        command_runner._error_answer(request_header_key(), error)[1],
        status=error.status,
        headers=[("Allow", ", ".join(allowed))],
    )


def api_methods(rule_methods):
    """The methods a route of the API takes, from its werkzeug rule's
    methods (werkzeug adds HEAD to a GET route; the API answers neither HEAD
    nor OPTIONS), POST when none is known."""
    methods = sorted(set(rule_methods or ()) - {"HEAD", "OPTIONS"})
    return tuple(methods) or ("POST",)


def request_header_key():
    """The request's ``Idempotency-Key`` header, or None when it has none,
    one that :func:`cmdlib.header_key` refuses, or the path is not of the
    commands (errors raised before the controller answer with it; the
    levels' errors always say null)."""
    if not request.httprequest.path.startswith(f"{API_PREFIX}commands"):
        return None
    try:
        return cmdlib.header_key(request.httprequest.headers.get("Idempotency-Key"))
    except cmdlib.CommandError:
        return None


def api_route(path, methods=("POST",)):
    """A route of the API, ``/api/stock/<path>``: ``methods`` only (POST for
    the commands), a user's API key (Odoo's ``auth='bearer'``), no CSRF
    token, no session saved."""
    return http.route(
        f"{API_PREFIX}{path}",
        type="http",
        auth="bearer",
        methods=list(methods),
        csrf=False,
        save_session=False,
    )


class InventoryCommandController(http.Controller):
    @api_route("commands")
    def post_command(self, **_kwargs):
        header_key = request_header_key()
        try:
            cmdlib.header_key(request.httprequest.headers.get("Idempotency-Key"))
            payload = _json_body()
            if not isinstance(payload, dict):
                raise cmdlib.CommandError("malformed", "a command is a JSON object")
        except cmdlib.CommandError as error:
            return error_response(error, header_key)
        [(status, answer)] = _execute([payload], [header_key])
        return request.make_json_response(answer, status=status)

    @api_route("commands/batch")
    def post_batch(self, **_kwargs):
        try:
            commands = cmdlib.parse_batch(_json_body())
        except cmdlib.CommandError as error:
            return error_response(error)
        answers = _execute(commands, None)
        return request.make_json_response(
            {"results": [dict(answer, http_status=status) for status, answer in answers]}
        )


def _execute(payloads, keys):
    """Run the commands on the request's own cursor (one database connection
    per request); an unexpected failure is answered as JSON
    (``internal_error``, 500) for each command, with its key, and the
    traceback logged."""
    try:
        return command_runner.execute(
            request.env.registry, request.env.uid, payloads, "http", keys=keys, cr=request.env.cr
        )
    except Exception:
        _logger.exception("inventory commands: %d command(s) failed", len(payloads))
        request.env.cr.rollback()
        error = cmdlib.CommandError(
            "internal_error", "the server failed; nothing was posted, send it again later"
        )
        return [
            command_runner._error_answer(
                key or (payload.get("idempotency_key") if isinstance(payload, dict) else None),
                error,
            )
            for payload, key in zip(payloads, keys or [None] * len(payloads), strict=True)
        ]


def is_api_request():
    """Whether the request is one of the command API: a path under
    /api/stock/ (or /api/stock itself)."""
    if not request:
        return False
    path = request.httprequest.path
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")
