"""Drill: the geolocation API is down, then rate-limits, then is slow.

Submissions go on at a steady rate throughout; the worker uses the REST
provider with the product's retry settings. The drill prints the submit
latency in each phase and how the answers ended up once the API recovered.
"""

import logging
import time

from bench.addresses import located_addresses
from bench.browser import Load
from bench.processes import Pipeline, run_backfill
from bench.sandbox import Sandbox
from bench.stats import fmt, summarize
from survey.store import GeoStatus
from tests.geo_standin import GeoStandin

logger = logging.getLogger(__name__)

# The product's visibility timeout: a retry's countdown stays below it.
VISIBILITY_TIMEOUT = 120
SLOW_DELAY = 2.0
RETRY_AFTER = 5
SETTLE_SECONDS = 180
BACKFILL_SECONDS = 60


def phases(down, limited, slow):
    """(name, seconds, stand-in behaviour) in the order they happen."""
    return [
        ("before", 5, {"mode": "ok"}),
        ("down", down, {"mode": "error"}),
        ("rate-limited", limited, {"mode": "ratelimit", "retry_after": RETRY_AFTER}),
        ("slow", slow, {"mode": "ok", "delay": SLOW_DELAY}),
        ("recovered", 5, {"mode": "ok"}),
    ]


def settle(box, ids):
    """Wait until no answer is pending; the documents found."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = box.documents(ids)
        pending = [d for d in found.values() if d["geo_status"] == GeoStatus.PENDING]
        if not pending or time.monotonic() > deadline:
            return found
        time.sleep(2)


def run(down=60, limited=20, slow=20, rate=10):
    addresses = list(located_addresses(2000, seed=68))
    plan = phases(down, limited, slow)
    spans = []
    with GeoStandin() as standin, Sandbox("drill_geo", VISIBILITY_TIMEOUT) as box:
        settings = box.settings(GEO_PROVIDER="rest", GEO_REST_URL=standin.url)
        with Pipeline("geo", settings, concurrency=64) as pipeline:
            load = Load(pipeline.url, addresses, clients=20, rate=rate).start()
            for name, seconds, behaviour in plan:
                standin.set(**behaviour)
                started = time.perf_counter()
                time.sleep(seconds)
                spans.append((name, started, time.perf_counter()))
            records = load.stop()
            accepted = [r.doc_id for r in records if r.status == 303]
            settled = settle(box, accepted)
            # Answers whose retries ran out are what the backfill is for.
            backfill = run_backfill(settings)
            found = box.wait_located(accepted, BACKFILL_SECONDS)
        calls = standin.calls

    outcome = {"accepted": accepted, "settled": settled, "found": found}
    outcome.update(backfill=backfill, calls=calls, down=down)
    return count(records, outcome, spans)


def statuses(found):
    counted = {}
    for doc in found.values():
        counted[doc["geo_status"]] = counted.get(doc["geo_status"], 0) + 1
    return counted


def count(records, outcome, spans):
    accepted, found, calls = outcome["accepted"], outcome["found"], outcome["calls"]
    result = {"drill_geo_down_s": outcome["down"], "drill_geo_api_calls": calls}
    for name, started, ended in spans:
        inside = [r for r in records if started <= r.started < ended]
        summary = summarize(inside, ended - started)
        key = name.replace("-", "_")
        result[f"drill_geo_{key}_p50_ms"] = summary["p50_ms"]
        result[f"drill_geo_{key}_p99_ms"] = summary["p99_ms"]
        print(
            f"  geolocation API {name} for {ended - started:.0f} s: "
            f"{summary['accepted']} accepted, submit p50 "
            f"{fmt(summary['p50_ms'])} ms, p99 {fmt(summary['p99_ms'])} ms"
        )

    settled, final = statuses(outcome["settled"]), statuses(found)
    result.update(
        drill_geo_accepted=len(accepted),
        drill_geo_located=settled.get(GeoStatus.LOCATED, 0),
        drill_geo_failed=settled.get(GeoStatus.FAILED, 0),
        drill_geo_pending=settled.get(GeoStatus.PENDING, 0),
        drill_geo_located_after_backfill=final.get(GeoStatus.LOCATED, 0),
        drill_geo_lost=len(accepted) - len(found),
        drill_geo_5xx=sum(1 for r in records if r.status >= 500 or not r.status),
    )
    print(
        f"  after recovery: {len(accepted)} accepted, "
        f"{result['drill_geo_located']} located, {result['drill_geo_failed']} "
        f"failed for good, {result['drill_geo_pending']} still pending, "
        f"{result['drill_geo_lost']} lost, {result['drill_geo_5xx']} 5xx, "
        f"{calls} API calls"
    )
    print(
        f"  backfill: {outcome['backfill']}; then "
        f"{result['drill_geo_located_after_backfill']} of {len(accepted)} located"
    )
    return result
