# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A scanner's inventory command over HTTP (the web client's JSON-RPC
session is tests.harness.jsonrpc)."""

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
