# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``GET /api/stock/levels``: the levels of a company's or a warehouse's
keys, one snapshot in keyset pages, with a user's API key in
``Authorization: Bearer <key>`` (the inventory commands' API: same
authentication, same JSON errors). Parameters, answers and error codes:
lib/snapshot.py, schemas/stock_level_snapshot.v1.schema.json, the README."""

import logging

from odoo.http import Controller, request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from odoo.addons.stock_scalable.controllers.inventory_commands import api_route, error_response

from ..lib import snapshot as snaplib

_logger = logging.getLogger(__name__)


class StockLevelsController(Controller):
    # Every parameter is read from the query string by parse_query (the
    # API's ir.http passes none to the route).
    @api_route("levels", methods=("GET",))
    def get_levels(self):
        try:
            query = snaplib.parse_query(list(request.httprequest.args.items(multi=True)))
            Snapshot = request.env["stock.level.snapshot"]
            if query["snapshot"]:
                snapshot = Snapshot._sscale_find(query["snapshot"])
            else:
                snapshot = Snapshot._sscale_take(
                    request.env.user.company_ids, query["company_id"], query["warehouse_id"]
                )
            found, cursor = snapshot._sscale_page(query["after"], query["limit"])
            body = snaplib.page_body(snapshot._sscale_header(), found, cursor)
        except snaplib.SnapshotError as error:
            request.env.cr.rollback()
            return error_response(error)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # Two takes of one user deleting the same old snapshots: Odoo
            # retries the request.
            raise
        except Exception:
            _logger.exception("GET /api/stock/levels failed")
            request.env.cr.rollback()
            return error_response(
                snaplib.SnapshotError(
                    "internal_error", "the server failed; take a new snapshot later"
                )
            )
        return request.make_json_response(body)
