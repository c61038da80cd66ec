# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Errors of the inventory command API answered as JSON (``code``,
``message``), also those Odoo raises before the controller runs: a missing
or wrong API key (401), a user refused by Odoo (403), a path under
``/api/stock/`` that no route serves (404), a method other than POST (405)."""

import werkzeug.exceptions

from odoo import models
from odoo.exceptions import AccessDenied, AccessError
from odoo.http import SessionExpiredException, request

from ..controllers.inventory_commands import (
    api_methods,
    is_api_request,
    method_not_allowed,
    request_header_key,
)
from ..inventory_command import runner as command_runner
from ..lib import commands as cmdlib


def _error_body(error):
    """The JSON answer of an error raised before the controller runs, with
    the request's ``Idempotency-Key`` header (or null), as the schema's
    ``answer``."""
    return command_runner._error_answer(request_header_key(), error)[1]


def _not_found():
    error = cmdlib.CommandError(
        "not_found",
        f"no {request.httprequest.path} in the API: POST /api/stock/commands or"
        " /api/stock/commands/batch (inventory commands), GET /api/stock/levels (level"
        " snapshots, with stock_event_bus)",
    )
    return request.make_json_response(_error_body(error), status=error.status)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        """A method that a route of the API does not take (any but POST for
        the commands, any but GET for the levels) is answered 405 as JSON,
        like its other errors, before authentication: Odoo raises it while
        routing, before any handler of errors runs, and werkzeug's routing
        lets OPTIONS through to every route (it would reach the controller,
        or ask for an API key first)."""
        try:
            rule_args = super()._match(path_info)
            rule_methods = rule_args[0].methods
        except werkzeug.exceptions.MethodNotAllowed as exc:
            if not is_api_request():
                raise
            rule_args, rule_methods = None, exc.valid_methods
        if is_api_request():
            allowed = api_methods(rule_methods)
            if request.httprequest.method not in allowed:
                raise werkzeug.exceptions.MethodNotAllowed(
                    valid_methods=list(allowed), response=method_not_allowed(allowed)
                )
        return rule_args

    @classmethod
    def _dispatch(cls, endpoint):
        """The API's routes read the query string and the body themselves:
        no parameter is passed to them, so that one named like an argument
        of Odoo's route wrapper (``?self=1``) cannot fail the call
        (TypeError, an HTML 500)."""
        if is_api_request():
            request.params = {}
        return super()._dispatch(endpoint)

    @classmethod
    def _serve_fallback(cls):
        """A path under /api/stock/ that no route serves is answered 404 as
        JSON, for any method, rather than by an attachment, a website page
        or Odoo's HTML page."""
        if is_api_request():
            return _not_found()
        return super()._serve_fallback()

    @classmethod
    def _handle_error(cls, exception):
        if is_api_request():
            if isinstance(exception, werkzeug.exceptions.NotFound):
                return _not_found()
            error = None
            if isinstance(
                exception,
                werkzeug.exceptions.Unauthorized | AccessDenied | SessionExpiredException,
            ):
                error = cmdlib.CommandError(
                    "unauthorized",
                    "an API key of an Odoo user is required: Authorization: Bearer <key>",
                )
            elif isinstance(exception, AccessError):
                error = cmdlib.CommandError("forbidden", str(exception.args[0]))
            if error:
                return request.make_json_response(_error_body(error), status=error.status)
        return super()._handle_error(exception)
