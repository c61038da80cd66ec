# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Odoo processes a benchmark starts beside odoo-bin (the dispatcher,
the command consumer), each with its log file."""

import signal
import socket
import subprocess

import stacklib as stack


def start(cmd, log):
    """Run ``cmd`` (an Odoo command) with its output in the file ``log``;
    the process knows it as ``log_path``."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            cmd, stdout=handle, stderr=subprocess.STDOUT, env=stack.odoo_env()
        )
    process.log_path = log
    return process


def stop(process, timeout=30):
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL (None: nothing)."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
