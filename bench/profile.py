"""Where the web tier's time goes: py-spy on a gunicorn worker under load.

    .venv/bin/python -m bench.profile [seconds]

Prints the functions seen most often on top of the stack (own time) and
those seen most often anywhere on it (total time), idle waits included with
--idle so time spent waiting on OpenSearch and SQS shows up.
"""

import subprocess
import sys
import threading
import time
from collections import Counter

from bench.addresses import located_addresses
from bench.browser import Load
from bench.processes import BIN, LOGS, children, start_web
from bench.sandbox import Sandbox

WARM_UP_SECONDS = 3


def record(pid, seconds, output):
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
            "--idle",
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


def profile(seconds=8, clients=20, shape=(2, 4)):
    addresses = list(located_addresses(500))
    output = LOGS / "web-profile.txt"
    with Sandbox("profile") as box:
        web, url = start_web("web-profile", box.settings(), *shape)
        try:
            load = Load(url, addresses, clients).start()
            # Past the first requests, which build connections and clients.
            time.sleep(WARM_UP_SECONDS)
            worker_pid = children(web.pid)[0]
            spy = threading.Thread(target=record, args=(worker_pid, seconds, output))
            spy.start()
            spy.join()
            load.stop()
        finally:
            web.stop()

    own, total = top_entries(output)
    samples = sum(int(line.rpartition(" ")[2]) for line in output.open())
    print(f"py-spy, one gunicorn worker, {samples} samples")
    for title, entries in (("own", own), ("total", total)):
        print(f"top by {title} samples:")
        for frame, weight in entries:
            print(f"  {100 * weight / samples:5.1f}%  {frame[:110]}")


if __name__ == "__main__":
    profile(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
