# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A real ``odoo-bin`` process serving one test database over HTTP."""

import json
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from . import processes, stack


class OdooServer:
    """``odoo-bin`` serving one database over HTTP (threaded unless ``workers``,
    no cron); ``extra_args`` go on its command line (``--db_replica_host``...)."""

    def __init__(self, harness, db_name, tmp_path, workers=0, extra_args=()):
        self.port = processes.free_port()
        self.gevent_port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"odoo-{self.port}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            stack.odoo_command()
            + [
                "-c",
                harness["conf"],
                "-d",
                db_name,
                f"--db-filter=^{db_name}$",
                f"--http-port={self.port}",
                f"--workers={workers}",
                # Prefork starts a websocket process on its own port.
                f"--gevent-port={self.gevent_port}",
                "--max-cron-threads=0",
                "--log-level=warn",
                *extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=stack.odoo_env(),
        )
        if processes.wait_http(f"{self.url}/web/health", 120):
            return
        self.stop()
        raise AssertionError(f"Odoo did not answer on {self.url}: {self.log_path.read_text()}")

    def post(
        self, path, body, key=None, idempotency_key=None, raw=None, method="POST", headers=None
    ):
        """POST JSON (or send it with another ``method``); returns ``(status,
        decoded body)``. ``headers``: more headers, or others (a value may be
        bytes, sent as they are)."""
        headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}{path}", data=data, headers=headers, method=method
        )
        return self._send(request)

    @staticmethod
    def _send(request):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                return exc.code, json.loads(payload)
            except ValueError:
                return exc.code, payload.decode(errors="replace")

    def get(self, path, query=(), key=None, method="GET"):
        """GET ``path`` with ``query`` (pairs, encoded as they are given, or a
        ready query string); returns ``(status, decoded body)``."""
        if not isinstance(query, str):
            query = urllib.parse.urlencode(list(query))
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self._send(
            urllib.request.Request(  # noqa: S310 - loopback
                f"{self.url}{path}?{query}", headers=headers, method=method
            )
        )

    def levels(self, key, **params):
        """``GET /api/stock/levels`` with ``params``: ``(status, body)``."""
        return self.get("/api/stock/levels", params.items(), key)

    def command(self, body, key, **kwargs):
        return self.post("/api/stock/commands", body, key, **kwargs)

    def stop(self):
        processes.stop(self.process, 30, sig=signal.SIGINT)
        self._log.close()
