# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Subprocesses, ports and waiting, as the tests, benchmarks and scripts
need them. Standard library only."""

import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def start(cmd, log_path, env=None):
    """Start ``cmd`` with its output (stdout and stderr) in the file
    ``log_path``, which the process carries as ``log_path``; ``env``: its
    environment (``stack.odoo_env()`` for an Odoo command).

    >>> import sys, tempfile
    >>> log = Path(tempfile.mkdtemp()) / "out.log"
    >>> process = start([sys.executable, "-c", "print('hello')"], log)
    >>> process.wait(), log.read_text(), process.log_path == log
    (0, 'hello\\n', True)
    """
    log_path = Path(log_path)
    with log_path.open("w") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    process.log_path = log_path
    return process


def stop(process, timeout=10, sig=signal.SIGTERM):
    """Stop ``process`` (a ``subprocess.Popen``): ``sig`` (SIGTERM), wait up
    to ``timeout`` seconds, then SIGKILL and wait. Nothing when it already
    ended. Returns its exit code.

    >>> import sys
    >>> stop(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
    -15
    """
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def free_port(ports=None, host="127.0.0.1"):
    """A TCP port of ``host`` nobody listens on: one the system picks, or the
    first of ``ports`` that binds (None when none does).

    >>> 1024 < free_port() < 65536
    True
    >>> with socket.socket() as taken:
    ...     taken.bind(("127.0.0.1", 0))
    ...     port = taken.getsockname()[1]
    ...     free_port([port]) is None
    True
    """
    for port in ports if ports is not None else [0]:
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    return None


def port_open(host, port, timeout=3):
    """Whether something accepts TCP connections on ``host``:``port``.

    >>> port_open("127.0.0.1", free_port())
    False
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout=60, interval=0.2):
    """Call ``predicate()`` every ``interval`` seconds until it returns a true
    value (returned) or ``timeout`` seconds passed (its last, false, value is
    returned).

    >>> calls = []
    >>> wait_until(lambda: calls.append(1) or len(calls) >= 3, interval=0)
    True
    >>> wait_until(lambda: 0, timeout=0)
    0
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_for(predicate, timeout, what, interval=0.5):
    """``wait_until``, raising AssertionError naming ``what`` on timeout.

    >>> wait_for(lambda: False, 0, "Godot")
    Traceback (most recent call last):
    ...
    AssertionError: timed out after 0 s waiting for Godot
    """
    value = wait_until(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return value


def wait_http(url, timeout, interval=0.5, request_timeout=2):
    """Whether ``url`` answered a GET with a 2xx status within ``timeout`` seconds.

    >>> wait_http(f"http://127.0.0.1:{free_port()}/", 0)
    False
    """

    def answers():
        try:
            with urllib.request.urlopen(url, timeout=request_timeout) as response:  # noqa: S310
                return 200 <= response.status < 300
        except OSError:
            return False

    return wait_until(answers, timeout, interval)


def wait_for_text(path, text, timeout=60, interval=0.2):
    """Whether the file ``path`` (a process's log) contains ``text`` within
    ``timeout`` seconds."""

    def found():
        try:
            return text in Path(path).read_text(errors="replace")
        except FileNotFoundError:
            return False

    return wait_until(found, timeout, interval)
