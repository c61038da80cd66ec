# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""HTTP clients of odoo-bin: a scanner's inventory command, and a web
client's JSON-RPC session."""

import itertools
import json
import time
import urllib.error
import urllib.request


def post_command(url, key, command):
    """One ``POST /api/stock/commands``: ``(HTTP status, answer, seconds)``."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/api/stock/commands",
        data=json.dumps(command).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    elapsed = time.perf_counter() - started
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"status": "error", "body": body.decode(errors="replace")[:200]}
    return status, answer, elapsed


class RpcError(Exception):
    def __init__(self, code, message=""):
        super().__init__(f"{code}: {message}")
        self.code = code


class JsonRpc:
    """A web-client session: authenticate once, then JSON-RPC calls."""

    def __init__(self, url, db, login, password):
        import requests  # noqa: PLC0415 - installed with Odoo

        self.url, self.http, self.ids = url, requests.Session(), itertools.count(1)
        result = self._post(
            "/web/session/authenticate", {"db": db, "login": login, "password": password}
        )
        self.uid, self.context = result["uid"], result["user_context"]

    def _post(self, path, params):
        response = self.http.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "id": next(self.ids), "params": params},
            timeout=300,
        )
        if response.status_code != 200:
            raise RpcError(f"http_{response.status_code}", response.text[:200])
        body = response.json()
        if "error" in body:
            data = body["error"].get("data") or {}
            name = (data.get("name") or body["error"].get("message") or "error").rsplit(".", 1)
            raise RpcError(name[-1], data.get("message", ""))
        return body["result"]

    def call(self, model, method, *args, button=False, **kwargs):
        kwargs.setdefault("context", self.context)
        route = "call_button" if button else "call_kw"
        return self._post(
            f"/web/dataset/{route}/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )
