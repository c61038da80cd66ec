# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Errors of the inventory command API answered as JSON (``code``,
``message``), also those Odoo raises before the controller runs: a missing
or wrong API key (401), a user refused by Odoo (403)."""

import werkzeug.exceptions

from odoo import models
from odoo.exceptions import AccessDenied, AccessError
from odoo.http import SessionExpiredException, request

from ..controllers.inventory_commands import is_api_request
from ..lib import commands as cmdlib


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        if is_api_request():
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
                return request.make_json_response(
                    {"status": "error", "error": error.as_dict()}, status=error.status
                )
        return super()._handle_error(exception)
