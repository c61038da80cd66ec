# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reading Odoo's level snapshot over HTTP (``GET /api/stock/levels`` of
stock_event_bus, with an Odoo API key). Standard library only (urllib),
no Odoo import.

A snapshot is one consistent copy of every key's level and level sequence
of a company or warehouse, taken by Odoo at one point and kept server-side;
its pages are keyset pages over that copy::

    client = SnapshotClient("https://odoo.example.com", api_key)
    for page in client.pages(warehouse_id=1, limit=1000):
        page["snapshot"], page["total"], page["levels"]  # levels ordered by key

Every failure raises :class:`SnapshotError` with one line saying what went
wrong (the URL without the key, the HTTP status, Odoo's error code and
message): an unreachable server, a wrong key (401), a company or warehouse
the key's user may not read (403/404), an expired snapshot (404/410), an
answer that is not the snapshot's JSON.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from . import snapshot as snaplib
from .config import mask_url
from .events import loads

PATH = "/api/stock/levels"
DEFAULT_LIMIT = snaplib.DEFAULT_LIMIT
MAX_LIMIT = snaplib.MAX_LIMIT


class SnapshotError(Exception):
    """The snapshot could not be read; ``status`` (HTTP status or None) and
    ``code`` (Odoo's error code or a local one) say why."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


HINTS = {
    401: "check the API key (Odoo: Preferences > Account Security > API Keys)",
    403: "the key's user may not read this company or warehouse",
    404: "no such route: is this Odoo's URL, with stock_event_bus up to date?",
    410: "the snapshot expired: start again",
}


class SnapshotClient:
    """HTTP client of one Odoo's snapshot route. ``base_url``: Odoo's URL
    (``https://odoo.example.com``, with a path prefix if Odoo is behind
    one); ``api_key``: an Odoo API key of a user who may read the stock."""

    def __init__(self, base_url, api_key, *, timeout=120):
        if not api_key:
            raise SnapshotError("no API key given", code="no_api_key")
        parsed = urllib.parse.urlsplit(base_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SnapshotError(
                f"bad Odoo URL {mask_url(base_url or '')!r}: give http(s)://host[:port]",
                code="bad_url",
            )
        if parsed.username is not None or parsed.password is not None:
            # Never logged back: the API key is what authenticates.
            raise SnapshotError(
                f"bad Odoo URL {mask_url(base_url)!r}: no user or password in it (the API key"
                " authenticates)",
                code="bad_url",
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def get(self, params):
        """One GET of the route with ``params``: the decoded JSON object."""
        url = f"{self.base_url}{PATH}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(  # noqa: S310 - http(s) checked in __init__
            url,
            headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, body = response.status, response.read()
                content_type = response.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            raise self._http_error(url, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SnapshotError(
                f"GET {url}: cannot reach Odoo ({reason})", code="unreachable"
            ) from None
        if content_type != "application/json":
            raise SnapshotError(
                f"GET {url}: {status} answered {content_type}, not application/json"
                " (is this the Odoo URL, and stock_event_bus up to date?)",
                status=status,
                code="not_json",
            )
        try:
            # Strict JSON: a name given twice, NaN or Infinity are refused.
            page = loads(body)
        except ValueError as exc:
            raise SnapshotError(f"GET {url}: not JSON: {exc}", status, "not_json") from None
        if not isinstance(page, dict):
            raise SnapshotError(f"GET {url}: not a JSON object", status, "malformed")
        return page

    @staticmethod
    def _http_error(url, exc):
        body = exc.read()
        code = message = None
        try:
            error = json.loads(body).get("error")
            code, message = error.get("code"), error.get("message")
        except (ValueError, AttributeError):
            message = body[:200].decode(errors="replace").strip() or exc.reason
        # Odoo's own code says what is wrong; the hint helps when it is not
        # Odoo answering (a proxy, another server) or the key is wrong.
        hint = HINTS.get(exc.code) if code is None or exc.code == 401 else None
        text = f"GET {url}: HTTP {exc.code}" + (f" {code}" if code else "") + f": {message}"
        return SnapshotError(text + (f" ({hint})" if hint else ""), exc.code, code or "http")

    def pages(self, *, company_id=None, warehouse_id=None, limit=DEFAULT_LIMIT):
        """Yield the pages of one new snapshot (of a company, a warehouse,
        or by default every warehouse of the key's user's companies), after
        checking each: same snapshot id, well-formed levels, and at the end
        as many levels as its ``total``."""
        if company_id is not None and warehouse_id is not None:
            raise SnapshotError("give a company or a warehouse, not both", code="bad_scope")
        if not 1 <= limit <= MAX_LIMIT:
            raise SnapshotError(f"limit must be 1..{MAX_LIMIT}, not {limit}", code="bad_limit")
        params = {"limit": limit}
        if company_id is not None:
            params["company_id"] = company_id
        if warehouse_id is not None:
            params["warehouse_id"] = warehouse_id
        snapshot, seen = None, 0
        while True:
            page = self.get(params)
            self.check_page(page, snapshot)
            snapshot = page["snapshot"]
            seen += len(page["levels"])
            yield page
            if page["next"] is None:
                break
            params = {"snapshot": snapshot, "after": page["next"], "limit": limit}
        if seen != page["total"]:
            raise SnapshotError(
                f"snapshot {snapshot}: {seen} levels received, its total says {page['total']}",
                code="incomplete",
            )

    @staticmethod
    def check_page(page, snapshot=None):
        """Raise :class:`SnapshotError` unless ``page`` follows the page of
        schemas/stock_level_snapshot.v1.schema.json (and is of
        ``snapshot``, when given)."""
        version = page.get("schema_version")
        if version != snaplib.SCHEMA_VERSION:
            raise SnapshotError(
                f"unknown snapshot schema_version {version!r}: this client reads"
                f" {snaplib.SCHEMA_VERSION} (upgrade stock-events-client)",
                code="schema_version",
            )
        try:
            snaplib.validate(page, "page")
        except ValueError as exc:
            raise SnapshotError(f"malformed snapshot page: {exc}", code="malformed") from None
        if snapshot is not None and page["snapshot"] != snapshot:
            raise SnapshotError(
                f"snapshot changed between pages: {snapshot} then {page['snapshot']}",
                code="malformed",
            )

    def levels(self, **scope):
        """Every level of one new snapshot, page after page."""
        for page in self.pages(**scope):
            yield from page["levels"]
