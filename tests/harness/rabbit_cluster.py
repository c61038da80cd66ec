# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A RabbitMQ cluster of real nodes on loopback, for the failover tests.

Each node is the machine's own ``rabbitmq-server``, started detached with its
own node name, AMQP and distribution ports, configuration and data directory
(under ``base_dir``), then joined to the first node with ``rabbitmqctl
join_cluster``, as RabbitMQ's clustering guide does it. :meth:`close` stops
every node and removes its directory. The machine's own broker (port 5672)
is not touched: the nodes share only its Erlang cookie and ``epmd``.

As root on Debian, the nodes run as the ``rabbitmq`` user (its home holds the
cookie), like the packaged service; otherwise as the current user.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from .processes import port_open

PLUGINS = ["rabbitmq_consistent_hash_exchange"]


def _sbin():
    packaged = Path("/usr/lib/rabbitmq/bin")
    if (packaged / "rabbitmq-server").exists():
        return packaged
    found = shutil.which("rabbitmq-server")
    if not found:
        raise RuntimeError(
            "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)"
        )
    return Path(found).resolve().parent


def ports_free(first, count):
    """Whether nothing listens on the AMQP and distribution ports of ``count``
    nodes whose first AMQP port is ``first``."""
    ports = [first + i for i in range(count)] + [first + 20000 + i for i in range(count)]
    return not any(port_open("127.0.0.1", port) for port in ports)


def first_free_port(size, start=5681, stop=5781):
    """The first AMQP port from ``start`` for ``size`` nodes whose ports are
    all free (tests running at the same time each get their own)."""
    return next(p for p in range(start, stop, size) if ports_free(p, size))


class RabbitCluster:
    """``size`` clustered nodes; node ``i`` (0-based) listens for AMQP on
    ``first_port + i``."""

    def __init__(self, base_dir, size=3, first_port=5681):
        self.base = Path(base_dir)
        self.size = size
        self.ports = [first_port + i for i in range(size)]
        tag = uuid.uuid4().hex[:6]
        self.names = [f"sscale{tag}{i}@localhost" for i in range(size)]
        self.bin = _sbin()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("rabbitmq")
            except KeyError:
                self.user = None

    # -- commands -------------------------------------------------------------

    def _env(self, index):
        node = self.base / f"node{index}"
        home = self.user.pw_dir if self.user else os.environ.get("HOME", str(node))
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.names[index],
            "RABBITMQ_NODE_PORT": str(self.ports[index]),
            "RABBITMQ_DIST_PORT": str(self.ports[index] + 20000),
            "RABBITMQ_BASE": str(node),
            "RABBITMQ_MNESIA_BASE": str(node / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node / "log"),
            "RABBITMQ_PID_FILE": str(node / "pid"),
            "RABBITMQ_CONFIG_FILE": str(node / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            # Not the machine's rabbitmq-env.conf: it names the packaged node.
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _run(self, index, tool, *args, check=True, timeout=120):
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        result = subprocess.run(
            command,
            env=self._env(index),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode:
            raise RuntimeError(
                f"{tool} {' '.join(args)} on {self.names[index]} failed: "
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout

    def ctl(self, index, *args, **kwargs):
        """``rabbitmqctl -n <node i> args...``; returns its output."""
        return self._run(index, "rabbitmqctl", "-n", self.names[index], *args, **kwargs)

    # -- life cycle -----------------------------------------------------------

    def start(self):
        """Start every node and cluster them with the first one."""
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
        (self.base / "rabbitmq-env.conf").write_text("")
        for index, port in enumerate(self.ports):
            node = self.base / f"node{index}"
            (node / "log").mkdir(parents=True, exist_ok=True)
            (node / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n"
            )
        if self.user:
            subprocess.run(
                ["chown", "-R", f"{self.user.pw_uid}:{self.user.pw_gid}", str(self.base)],
                check=True,
            )
        for index in range(self.size):
            self.start_node(index, wait=False)
        for index in range(self.size):
            self.wait_node(index)
        for index in range(1, self.size):
            self.ctl(index, "stop_app")
            self.ctl(index, "join_cluster", self.names[0])
            self.ctl(index, "start_app")
        running = json.loads(self.ctl(0, "cluster_status", "--formatter", "json"))
        if len(running.get("running_nodes", [])) != self.size:
            raise RuntimeError(f"the cluster did not form: {running}")
        return self

    def start_node(self, index, wait=True):
        self._run(index, "rabbitmq-server", "-detached")
        if wait:
            self.wait_node(index)

    def wait_node(self, index, timeout=120):
        """Wait until node ``index`` runs (its Erlang node registers with
        ``epmd`` a moment after ``-detached`` returns)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctl(index, "await_startup", "--timeout", str(timeout), timeout=timeout + 30)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    log = self.base / f"node{index}" / "log" / f"{self.names[index]}.log"
                    tail = log.read_text()[-3000:] if log.exists() else "(no log)"
                    raise RuntimeError(f"{self.names[index]} did not start: {tail}") from None
                time.sleep(1)

    def stop_node(self, index):
        """Stop node ``index`` (the whole Erlang node, as ``systemctl stop``)."""
        self.ctl(index, "stop")

    def kill_node(self, index):
        """Kill node ``index`` with SIGKILL (a crash: no connection is closed
        cleanly, nothing is flushed), and wait until it is gone."""
        pid = int((self.base / f"node{index}" / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.names[index]} (pid {pid}) did not die")

    def close(self):
        for index in range(self.size):
            self.ctl(index, "stop", check=False, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)

    # -- what clients see -----------------------------------------------------

    def queue_counts(self, index, queue):
        """``(ready, unacked)`` messages of ``queue`` on node ``index``
        (None when the node does not answer or has no such queue)."""
        out = self.ctl(
            index,
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
            "--formatter",
            "json",
            check=False,
        )
        try:
            rows = json.loads(out or "[]")
        except ValueError:
            return None
        for row in rows:
            if row.get("name") == queue:
                return row.get("messages_ready", 0), row.get("messages_unacknowledged", 0)
        return None

    def url(self, index, user="guest", password="guest"):  # noqa: S107 - loopback test broker
        return f"amqp://{user}:{password}@127.0.0.1:{self.ports[index]}/%2F"

    def urls(self, order=None):
        """The nodes' URLs, comma-separated (``amqp_url`` of odoo.conf)."""
        return ", ".join(self.url(i) for i in (order or range(self.size)))

    def connections(self):
        """``{connection_name: node index}`` of the named client connections
        of the whole cluster (asked of the first node that answers)."""
        for index in range(self.size):
            try:
                # "port": the node's AMQP port the client connected to.
                out = self.ctl(
                    index, "list_connections", "port", "client_properties", "--formatter", "json"
                )
            except RuntimeError:
                continue  # a stopped node
            found = {}
            for row in json.loads(out or "[]"):
                props = row.get("client_properties") or []
                if isinstance(props, dict):
                    name = props.get("connection_name")
                else:  # [[key, type, value], ...]
                    name = next((p[2] for p in props if p[0] == "connection_name"), None)
                if name and row.get("port") in self.ports:
                    found[name] = self.ports.index(row["port"])
            return found
        raise RuntimeError("no node of the cluster answers")

    def node_of(self, prefix, timeout=60):
        """The index of the node holding a connection named ``prefix...``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, index in self.connections().items():
                if name.startswith(prefix):
                    return index
            time.sleep(0.5)
        raise AssertionError(f"no node holds a connection named {prefix}...")
