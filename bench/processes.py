"""The processes under test: gunicorn, Celery workers and the stack's services.

Each is started in its own session and stopped by its own process group, so
nothing else on the machine is touched.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.sandbox import ROOT

logger = logging.getLogger(__name__)

BIN = ROOT / ".venv" / "bin"
LOGS = Path(__file__).resolve().parent / "logs"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


class Process:
    """A child process in its own session, logging to bench/logs/<name>.log."""

    def __init__(self, name, command, env):
        LOGS.mkdir(exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(part) for part in command],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def alive(self):
        return self.process.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")

    def kill(self):
        """SIGKILL the whole group, like a crashed host."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log_file.close()

    def peak_rss_mb(self):
        """Peak resident memory of the process and its children (VmHWM), in MB."""
        return sum(peak_rss_mb(pid) for pid in [self.pid, *children(self.pid)])

    def pss_mb(self):
        """Proportional memory now of the process and its children, in MB.

        Pages shared by gunicorn's forked workers count once in total here,
        unlike in the RSS of each.
        """
        return sum(pss_mb(pid) for pid in self.pids())

    def pids(self):
        return [self.pid, *children(self.pid)]

    def children_peak_rss_mb(self):
        """Peak resident memory of each child (each gunicorn worker), in MB."""
        return [peak_rss_mb(pid) for pid in children(self.pid)] or [0.0]


def children(pid):
    """Direct children of `pid` (gunicorn's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.extend(int(child) for child in text.split())
    return found


def cpu_seconds(pids):
    """User plus system CPU seconds used so far by `pids` (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def stack_pid(service):
    """The PID stack.py recorded for a dev-stack service, or None."""
    try:
        return json.loads((ROOT / ".stack" / "run" / f"{service}.pid").read_text())[
            "pid"
        ]
    except (FileNotFoundError, ValueError, KeyError):
        return None


def pss_mb(pid):
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except FileNotFoundError:
        return 0.0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_web(name, settings, workers=2, threads=4, app="application:application"):
    """gunicorn with gthread workers on a free loopback port; (process, url)."""
    port = free_port()
    command = [
        BIN / "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        workers,
        "--threads",
        threads,
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--backlog",
        "256",
        app,
    ]
    process = Process(name, command, settings)
    url = f"http://127.0.0.1:{port}"

    def answers():
        process.check_alive()
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(answers, 60, f"{name} to answer")
    return process, url


def start_worker(name, settings, concurrency=8):
    """`celery -A tasks worker --pool threads`, returned once it is ready."""
    command = [
        BIN / "celery",
        "-A",
        "tasks",
        "worker",
        "--loglevel=INFO",
        "--pool",
        "threads",
        "--concurrency",
        concurrency,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    process = Process(name, command, {**settings, "LOG_LEVEL": "INFO"})

    def ready():
        process.check_alive()
        return "ready." in process.log()

    wait_until(ready, 90, f"{name} to start")
    return process


def stack(command, service):
    """`stack.py stop|start <service>` on the dev stack."""
    subprocess.run(
        [sys.executable, str(ROOT / "stack" / "stack.py"), command, service],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_backfill(settings):
    """`flask backfill-locations --min-age 0` for a sandbox; its last line."""
    done = subprocess.run(
        [
            BIN / "flask",
            "--app",
            "application",
            "backfill-locations",
            "--min-age",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


class Pipeline:
    """gunicorn and one Celery worker on a sandbox's settings, like `make run`."""

    def __init__(self, name, settings, concurrency=32):
        self.name = name
        self.settings = settings
        self.concurrency = concurrency
        self.restarts = 0

    def __enter__(self):
        self.web, self.url = start_web(f"web-{self.name}", self.settings, 2, 4)
        try:
            self.worker = start_worker(
                f"worker-{self.name}", self.settings, self.concurrency
            )
        except Exception:
            self.web.stop()
            raise
        return self

    def restart_worker(self, kill=False):
        """Stop the worker (SIGKILL with `kill`), start another; the old log."""
        if kill:
            self.worker.kill()
        self.worker.stop()
        log = self.worker.log()
        self.restarts += 1
        name = f"worker-{self.name}-{self.restarts}"
        self.worker = start_worker(name, self.settings, self.concurrency)
        return log

    def __exit__(self, *exc):
        self.worker.stop()
        self.web.stop()
