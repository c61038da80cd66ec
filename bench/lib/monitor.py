# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the machine spent while a benchmark ran: CPU cores of the benchmark
and of other work (/proc), CPU and memory per process of the stack
(psutil), and a PostgreSQL backend's private memory."""

import collections
import contextlib
import os
import statistics
import threading
import time

from tests.harness import stack


class CpuMonitor(threading.Thread):
    """Samples every process's CPU time once a second and splits it in two:
    the benchmark's (this process and its children, the PostgreSQL backends
    of its databases, RabbitMQ) and the rest of the machine's, so that a
    figure measured while other work ran says so."""

    def __init__(self, prefix):
        super().__init__(daemon=True)
        self.prefix = prefix.encode()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen = {}
        self.totals = {"bench": 0, "other": 0}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sample(first=True)

    def _processes(self):
        processes = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            # ppid, utime + stime, start time (fields 4, 14, 15 and 22 of proc(5))
            processes[int(entry.name)] = (
                int(fields[1]),
                int(fields[11]) + int(fields[12]),
                fields[19],
                cmdline,
            )
        return processes

    def sample(self, first=False):
        with self.lock:
            processes = self._processes()
            ours, grew = {os.getpid()}, True
            while grew:
                grew = False
                for pid, (ppid, *_rest) in processes.items():
                    if ppid in ours and pid not in ours:
                        ours.add(pid)
                        grew = True
            for pid, (_ppid, ticks, started, cmdline) in processes.items():
                key = (pid, started)
                before = self.seen.get(key, None if first else 0)
                self.seen[key] = ticks
                if before is None:
                    continue
                bench = pid in ours or self.prefix in cmdline or b"beam.smp" in cmdline
                self.totals["bench" if bench else "other"] += ticks - before

    def run(self):
        while not self.stopping.wait(1.0):
            self.sample()

    def mark(self):
        self.sample()
        with self.lock:
            return dict(self.totals), time.perf_counter()

    def cores(self, mark):
        """Mean CPU cores used since ``mark``: ``{"bench", "other"}``."""
        totals, started = mark
        now, ended = self.mark()
        elapsed = max(ended - started, 1e-6)
        return {k: (now[k] - totals[k]) / self.tick / elapsed for k in totals}

    def stop(self):
        self.stopping.set()
        self.join(5)


class ProcessMonitor(threading.Thread):
    """CPU % (of one core) and RSS of each process of the stack, sampled with
    psutil every second: odoo-bin's main process, its workers (the cron
    worker is the one that lowered its priority), the dispatcher, the
    consumer, the PostgreSQL backends of the database (pg_stat_activity),
    the standby's processes, RabbitMQ (the process listening on the AMQP
    port) and this load generator; plus the whole machine's CPU."""

    def __init__(self, dbname, server_pid, extra, standby=None):
        import psutil  # noqa: PLC0415

        super().__init__(daemon=True)
        self.psutil = psutil
        self.dbname, self.server_pid, self.extra = dbname, server_pid, dict(extra)
        self.standby = standby
        self.cache, self.workers = {}, {}
        self.samples = []  # (t, {label: (cpu %, rss bytes)}, machine cpu %)
        self.stopping = threading.Event()
        self.rabbit = self._listener(int(stack.amqp_url().rsplit(":", 1)[1].split("/")[0]))
        self.conn = stack.connect()
        psutil.cpu_percent()

    def _listener(self, port):
        for conn in self.psutil.net_connections(kind="tcp"):
            if conn.status == "LISTEN" and conn.laddr.port == port and conn.pid:
                return conn.pid
        return None

    def _proc(self, pid):
        process = self.cache.get(pid)
        if process is None:
            process = self.cache[pid] = self.psutil.Process(pid)
            process.cpu_percent()
        return process

    def _groups(self):
        groups = collections.defaultdict(list)
        groups["odoo-bin main"].append(self.server_pid)
        with self.conn.cursor() as cr:
            cr.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.dbname])
            backends = [pid for (pid,) in cr.fetchall()]
        with contextlib.suppress(self.psutil.Error):
            for child in self.psutil.Process(self.server_pid).children():
                if child.nice() == 10:  # WorkerCron.start(): os.nice(10)
                    groups["odoo cron worker"].append(child.pid)
                elif "gevent" in child.cmdline():
                    groups["odoo gevent (websocket) process"].append(child.pid)
                else:
                    number = self.workers.setdefault(child.pid, len(self.workers) + 1)
                    groups[f"odoo HTTP worker #{number}"].append(child.pid)
        groups["postgres backends (this db)"] = backends
        for label, pid in self.extra.items():
            groups[label].append(pid)
        if self.rabbit:
            groups["rabbitmq (beam)"].append(self.rabbit)
        if self.standby is not None and self.standby.data_dir:
            with contextlib.suppress(OSError, ValueError, self.psutil.Error):
                pid = int((self.standby.data_dir / "postmaster.pid").read_text().split()[0])
                groups["postgres standby (all)"] = [pid] + [
                    c.pid for c in self.psutil.Process(pid).children()
                ]
        groups["load generator (this)"].append(os.getpid())
        return groups

    def sample(self):
        figures = {}
        for label, pids in self._groups().items():
            cpu = rss = 0.0
            for pid in pids:
                try:
                    process = self._proc(pid)
                    cpu += process.cpu_percent()
                    rss += process.memory_info().rss
                except self.psutil.Error:
                    self.cache.pop(pid, None)
            figures[label] = (cpu, rss)
        machine = self.psutil.cpu_percent() * self.psutil.cpu_count()
        figures["other processes of the machine"] = (
            max(machine - sum(cpu for cpu, _rss in figures.values()), 0.0),
            0.0,
        )
        self.samples.append((time.perf_counter(), figures, machine))

    def run(self):
        while not self.stopping.wait(1.0):
            with contextlib.suppress(Exception):
                self.sample()

    def stop(self):
        self.stopping.set()
        self.join(5)
        self.conn.close()

    def summary(self, start=None, end=None):
        """``{label: {"cpu": mean %, "rss_mb": peak MB}}`` over [start, end]
        (perf_counter), plus ``machine`` (mean % of one core, all processes)."""
        rows = [s for s in self.samples if (start is None or s[0] >= start)]
        rows = [s for s in rows if end is None or s[0] <= end] or self.samples[-1:]
        labels = sorted({label for _t, figures, _m in rows for label in figures})
        out = {}
        for label in labels:
            values = [figures.get(label, (0.0, 0.0)) for _t, figures, _m in rows]
            out[label] = {
                "cpu": statistics.fmean(v[0] for v in values),
                "rss_mb": max(v[1] for v in values) / 2**20,
            }
        machine = statistics.fmean(m for _t, _f, m in rows) if rows else 0.0
        return out, machine


class BackendMemory(threading.Thread):
    """The private memory (RssAnon in /proc) a PostgreSQL backend takes
    while a statement runs, above what it held at the start: its sorts,
    hash tables and caches, not the shared buffers. Sampled every 10 ms;
    ``stop()`` returns the peak in kB, or None when the server does not run
    on this machine."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.start_kb = stack.proc_status_kb(self.pid, "RssAnon")
        self.peak_kb = self.start_kb
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(0.01):
            kb = stack.proc_status_kb(self.pid, "RssAnon")
            if kb is not None and self.peak_kb is not None:
                self.peak_kb = max(self.peak_kb, kb)

    def stop(self):
        self._done.set()
        self.join()
        if self.start_kb is None:
            return None
        return self.peak_kb - self.start_kb


def noise_line(cores):
    return (
        f"CPU meanwhile: the benchmark {cores['bench']:.2f} cores, other work on this machine "
        f"{cores['other']:.2f} cores (of {os.cpu_count()})."
    )
