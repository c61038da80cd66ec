# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A JSON-RPC session with Odoo as the web client opens it: authenticate
(a session cookie), then ``/web/dataset/call_kw`` (or ``call_button``) and
``/web/action/*``. ``requests`` is installed with Odoo."""

import itertools

# What the web client's Stock Levels list (stock.level.report) reads of each
# row: the specification of its web_search_read.
STOCK_LEVELS_LIST = {
    "product_id": {"fields": {"display_name": {}}},
    "location_id": {"fields": {"display_name": {}}},
    "quantity": {},
    "reserved_quantity": {},
    "available_quantity": {},
    "last_movement_date": {},
}


class RpcError(Exception):
    """An error answer. ``code``: the exception's class name without its
    module (``UserError``), or ``http_<status>`` when the answer was not
    JSON-RPC; ``name``: the full name Odoo gave; ``message``: its message."""

    def __init__(self, code, message, name=None):
        self.code = code
        self.name = name or code
        self.message = message
        super().__init__(f"{self.name}: {message}")


class JsonRpc:
    """A web-client session on the Odoo at ``url``. With ``db``, ``login`` and
    ``password`` it authenticates at once; ``uid`` and ``context`` are then
    the user's (calls send ``context`` unless given one)."""

    def __init__(self, url, db=None, login=None, password=None, timeout=300):
        import requests  # noqa: PLC0415 - installed with Odoo

        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        self.ids = itertools.count(1)
        self.uid, self.context = None, {}
        if db:
            self.authenticate(db, login, password)

    def rpc(self, path, params):
        """POST a JSON-RPC ``call`` of ``params`` to ``path``; its result,
        or RpcError."""
        response = self.http.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "id": next(self.ids), "params": params},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise RpcError(f"http_{response.status_code}", response.text[:200])
        body = response.json()
        if "error" in body:
            data = body["error"].get("data") or {}
            name = data.get("name") or body["error"].get("message") or "error"
            raise RpcError(name.rsplit(".", 1)[-1], data.get("message", ""), name=name)
        return body["result"]

    def authenticate(self, db, login, password):
        """Open the session (its cookie is kept); returns Odoo's session info."""
        result = self.rpc(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        self.uid, self.context = result["uid"], result["user_context"]
        return result

    @property
    def session_id(self):
        """The session cookie, once authenticated."""
        return self.http.cookies.get("session_id")

    def call(self, model, method, *args, button=False, **kwargs):
        """``model.method(*args, **kwargs)`` as the web client calls it
        (``button``: through ``call_button``, as a form's button)."""
        kwargs.setdefault("context", self.context)
        route = "call_button" if button else "call_kw"
        return self.rpc(
            f"/web/dataset/{route}/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def run_action(self, xmlid, context=None):
        """Open a menu's server action: /web/action/load, then /web/action/run."""
        context = self.context if context is None else context
        loaded = self.rpc("/web/action/load", {"action_id": xmlid, "context": context})
        return self.rpc("/web/action/run", {"action_id": loaded["id"], "context": context})
