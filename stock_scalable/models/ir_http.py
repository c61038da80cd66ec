# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Errors of the inventory command API answered as JSON (``code``,
``message``), also those Odoo raises before the controller runs: a missing
or wrong API key (401), a user refused by Odoo (403), a path under
``/api/stock/`` that no route serves (404), a method other than POST (405)."""

import werkzeug.exceptions

from odoo import models
from odoo.exceptions import AccessDenied, AccessError
from odoo.http import SessionExpiredException, request

from ..controllers.inventory_commands import is_api_request, request_header_key
from ..lib import commands as cmdlib
from ..tools import command_runner


def _error_body(error):
    """The JSON answer of an error raised before the controller runs, with
    the request's ``Idempotency-Key`` header (or null), as the schema's
    ``answer``."""
    return command_runner._error_answer(request_header_key(), error)[1]


def _not_found():
    error = cmdlib.CommandError(
        "not_found",
        f"no {request.httprequest.path} in the command API: POST /api/stock/commands or"
        " /api/stock/commands/batch",
    )
    return request.make_json_response(_error_body(error), status=error.status)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        """A GET (or any method but POST) of the command API is answered 405
        as JSON, like its other errors: Odoo raises it while routing,
        before any handler of errors runs."""
        try:
            return super()._match(path_info)
        except werkzeug.exceptions.MethodNotAllowed as exc:
            if not is_api_request():
                raise
            error = cmdlib.CommandError(
                "method_not_allowed",
                f"send commands with POST, not {request.httprequest.method}",
            )
            raise werkzeug.exceptions.MethodNotAllowed(
                valid_methods=exc.valid_methods,
                response=request.make_json_response(
                    _error_body(error),
                    status=error.status,
                    headers=[("Allow", ", ".join(exc.valid_methods or ["POST"]))],
                ),
            ) from None

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
