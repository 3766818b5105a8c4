"""Freshness: from a submission's 303 to its `geo` being readable by id.

A few clients each submit, then poll OpenSearch's real-time GET for their own
answer every 10 ms until it carries a location. One worker with the offline
database runs beside gunicorn, as in `make run`.
"""

import logging
import threading
import time

from bench.addresses import located_addresses
from bench.browser import Browser, run_clients
from bench.processes import Pipeline
from bench.sandbox import Sandbox
from bench.stats import fmt, percentile

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.01
GIVE_UP_SECONDS = 30


def wait_located(box, doc_id):
    """Seconds until the answer has a location, or None after GIVE_UP_SECONDS."""
    started = time.perf_counter()
    while time.perf_counter() - started < GIVE_UP_SECONDS:
        found = box.client.get(
            index=box.index, id=doc_id, _source_includes=["geo"], ignore=[404]
        )
        if found.get("_source", {}).get("geo"):
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)
    return None


def client(url, box, addresses, delays, lock):
    browser = Browser(url)
    for address in addresses:
        record = browser.submit(address)
        if record.status != 303:
            continue
        delay = wait_located(box, record.doc_id)
        with lock:
            delays.append(delay)


def run(total=400, clients=4):
    addresses = list(located_addresses(total, seed=65))
    delays, lock = [], threading.Lock()
    with (
        Sandbox("freshness") as box,
        Pipeline("freshness", box.settings()) as pipeline,
    ):
        run_clients(
            client,
            [
                (pipeline.url, box, addresses[number::clients], delays, lock)
                for number in range(clients)
            ],
        )

    seen = [delay for delay in delays if delay is not None]
    p50, p95 = percentile(seen, 0.5), percentile(seen, 0.95)
    print(
        f"  freshness over {len(delays)} answers from {clients} clients: "
        f"p50 {fmt(p50, 3)} s, p95 {fmt(p95, 3)} s, "
        f"never located within {GIVE_UP_SECONDS} s: {len(delays) - len(seen)}"
    )
    return {
        "freshness_p50_s": p50,
        "freshness_p95_s": p95,
        "freshness_unlocated": len(delays) - len(seen),
    }
