"""`make bench`: every benchmark and fault drill against the dev stack.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...]

Prints one table of figures with the goal beside each, and writes them all
to bench/results.json (flat keys) so a later run can be compared. --quick
shortens the drills' outages and counts, for development only; it and --only
write bench/results-partial.json instead.
"""

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench import (  # noqa: E402
    drill_elasticmq,
    drill_fuzz,
    drill_geo,
    drill_kill,
    drill_opensearch,
    freshness,
    lookup,
    submit,
    throughput,
)

RESULTS = HERE / "results.json"
# A shortened or partial run must not replace the figures of a full one.
PARTIAL_RESULTS = HERE / "results-partial.json"

# name: (full run, --quick run); ElasticMQ last, since its restart empties
# every queue on the dev stack.
STEPS = {
    "lookup": (lookup.run, lookup.run),
    "submit": (submit.run, lambda: submit.run(seconds=5)),
    "freshness": (freshness.run, lambda: freshness.run(total=100)),
    "worker": (throughput.run, lambda: throughput.run(1000, 600)),
    "kill": (drill_kill.run, lambda: drill_kill.run(total=300, kills=2)),
    "geo": (drill_geo.run, lambda: drill_geo.run(down=10, limited=5, slow=5)),
    "opensearch": (drill_opensearch.run, lambda: drill_opensearch.run(outage=10)),
    "fuzz": (drill_fuzz.run, lambda: drill_fuzz.run(total=1000)),
    "elasticmq": (drill_elasticmq.run, lambda: drill_elasticmq.run(outage=10)),
}

# (key, what it is, goal text, passes(value))
GOALS = [
    ("submit_p50_ms", "submit p50, 20 clients (ms)", "<= 8", lambda v: v <= 8),
    ("submit_p99_ms", "submit p99, 20 clients (ms)", "<= 25", lambda v: v <= 25),
    ("submit_rps", "submits a second", ">= 400", lambda v: v >= 400),
    ("inline_ratio", "throughput / inline baseline", ">= 20", lambda v: v >= 20),
    ("inline_p50_ratio", "inline p50 / async p50", "-", None),
    ("freshness_p50_s", "freshness p50 (s)", "-", None),
    ("freshness_p95_s", "freshness p95 (s)", "<= 1", lambda v: v <= 1),
    ("worker_offline_per_s", "located/s, offline DB", ">= 300", lambda v: v >= 300),
    ("worker_remote_per_s", "located/s, 200 ms API", ">= 100", lambda v: v >= 100),
    ("lookup_us", "offline lookup (us)", "<= 10", lambda v: v <= 10),
    ("lookup_cached_us", "cached lookup (us)", "<= 10", lambda v: v <= 10),
    ("web_rss_mb", "web peak RSS, all processes (MB)", "<= 100", lambda v: v <= 100),
    (
        "web_worker_rss_mb",
        "web peak RSS, one worker (MB)",
        "<= 100",
        lambda v: v <= 100,
    ),
    ("web_pss_mb", "web PSS, all processes (MB)", "-", None),
    ("worker_rss_mb", "worker peak RSS (MB)", "<= 150", lambda v: v <= 150),
    ("drill_lost", "drills: accepted answers lost", "0", lambda v: v == 0),
    ("drill_5xx", "drills: 5xx answers", "0", lambda v: v == 0),
    (
        "drill_fuzz_invalid_stored",
        "fuzz: invalid answers stored",
        "0",
        lambda v: v == 0,
    ),
    ("drill_fuzz_unescaped", "fuzz: unescaped markup", "0", lambda v: v == 0),
    ("drill_kill_located_twice", "kill: located twice", "-", None),
    ("drill_kill_different_results", "kill: different results", "0", lambda v: v == 0),
    ("drill_elasticmq_unlocated_before_backfill", "MQ: stored unlocated", "-", None),
    ("drill_elasticmq_located_by_same_worker", "MQ: located, same worker", "-", None),
]


def drill_totals(results):
    """drill_lost and drill_5xx summed over the drills that ran."""
    lost = [
        v for k, v in results.items() if k.startswith("drill_") and k.endswith("_lost")
    ]
    errors = [
        v
        for k, v in results.items()
        if k.startswith("drill_") and (k.endswith("_5xx") or k.endswith("_500"))
    ]
    totals = {}
    if lost:
        totals["drill_lost"] = sum(lost)
    if errors:
        totals["drill_5xx"] = sum(errors)
    return totals


def print_table(results):
    print(f"\n{'figure':<38} {'measured':>10}  {'goal':<7} met")
    for key, label, goal, passes in GOALS:
        if key not in results or results[key] is None:
            continue
        value = results[key]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        met = "-" if passes is None else ("yes" if passes(value) else "NO")
        print(f"{label:<38} {shown:>10}  {goal:<7} {met}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=list(STEPS), default=None)
    arguments = parser.parse_args()

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}",
        "quick": arguments.quick,
        "cpus": os.cpu_count(),
        # Other people's services share the machine: its load says how much.
        "loadavg_start": os.getloadavg()[0],
    }
    started = time.monotonic()
    for name in arguments.only or list(STEPS):
        print(f"{name}:", flush=True)
        step_started = time.monotonic()
        results.update(STEPS[name][1 if arguments.quick else 0]())
        results[f"seconds_{name}"] = round(time.monotonic() - step_started, 1)
        sys.stdout.flush()

    results.update(drill_totals(results))
    results["seconds_total"] = round(time.monotonic() - started, 1)
    results["loadavg_end"] = os.getloadavg()[0]
    print_table(results)
    partial = arguments.quick or arguments.only
    path = PARTIAL_RESULTS if partial else RESULTS
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {path.relative_to(HERE.parent)} ({results['seconds_total']} s)")


if __name__ == "__main__":
    main()
