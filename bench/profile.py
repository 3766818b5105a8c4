"""Where the time goes: py-spy on a gunicorn worker under load, or on a
Celery worker draining a queue of offline lookups.

    .venv/bin/python -m bench.profile [web|worker] [seconds] [cpu]

Prints the functions seen most often on top of the stack (own time) and
those seen most often anywhere on it (total time). Waits are sampled too, so
time spent waiting on OpenSearch and SQS shows up; with `cpu`, only samples
of threads running on a CPU count.
"""

import subprocess
import sys
import time
from collections import Counter

from bench.addresses import located_addresses
from bench.browser import Load
from bench.processes import BIN, LOGS, children, start_web, start_worker
from bench.sandbox import Sandbox
from bench.throughput import enqueue_all, store_pending

WARM_UP_SECONDS = 3


def record(pid, seconds, output, idle=True):
    subprocess.run(
        [
            BIN / "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            *(["--idle"] if idle else []),
            "--output",
            str(output),
            "--nonblocking",
        ],
        check=True,
        capture_output=True,
    )


def top_entries(raw_path, count=15):
    """(own, total) Counters of frames from py-spy's collapsed stacks."""
    own, total = Counter(), Counter()
    for line in raw_path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")[1:]
        if not frames:
            continue
        weight = int(samples)
        own[frames[-1]] += weight
        for frame in set(frames):
            total[frame] += weight
    return own.most_common(count), total.most_common(count)


def report(output, title):
    own, total = top_entries(output)
    samples = sum(int(line.rpartition(" ")[2]) for line in output.open())
    print(f"py-spy, {title}, {samples} samples")
    for heading, entries in (("own", own), ("total", total)):
        print(f"top by {heading} samples:")
        for frame, weight in entries:
            print(f"  {100 * weight / samples:5.1f}%  {frame[:110]}")


def profile_web(seconds=8, idle=True, clients=20, shape=(2, 4)):
    addresses = list(located_addresses(500))
    output = LOGS / "web-profile.txt"
    with Sandbox("profile") as box:
        web, url = start_web("web-profile", box.settings(), *shape)
        try:
            load = Load(url, addresses, clients).start()
            # Past the first requests, which build connections and clients.
            time.sleep(WARM_UP_SECONDS)
            record(children(web.pid)[0], seconds, output, idle)
            load.stop()
        finally:
            web.stop()
    report(output, "one gunicorn worker")


def profile_worker(seconds=8, idle=True, count=4000, concurrency=32):
    addresses = list(located_addresses(count, seed=72))
    output = LOGS / "worker-profile.txt"
    with Sandbox("profile_worker") as box:
        ids = store_pending(box, addresses)
        enqueue_all(box, ids, addresses)
        worker = start_worker("worker-profile", box.settings(), concurrency)
        try:
            record(worker.pid, seconds, output, idle)
        finally:
            worker.stop()
    report(output, f"one Celery worker, {concurrency} threads, offline database")


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "web"
    length = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    idle = "cpu" not in sys.argv[3:]
    {"web": profile_web, "worker": profile_worker}[kind](length, idle)
