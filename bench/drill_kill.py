"""Drill: the worker is SIGKILLed several times during 1,000 submissions.

Tasks are acknowledged late, so a killed worker's tasks come back after the
queue's visibility timeout (10 s here). At the end every accepted answer
should be located once, at the place the database gives for its address.
"""

import logging
import re
import time

from bench.addresses import located_addresses
from bench.browser import Load
from bench.processes import Pipeline
from bench.sandbox import Sandbox
from survey.store import GeoStatus

logger = logging.getLogger(__name__)

LOCATED_LINE = re.compile(r"answer (\S+) in \S+: located")
SETTLE_SECONDS = 120


def same_place(stored, expected):
    geo = stored.get("geo") or {}
    return (
        abs(geo.get("lat", 1e9) - expected[0]) < 1e-6
        and abs(geo.get("lon", 1e9) - expected[1]) < 1e-6
    )


def kill_repeatedly(pipeline, kills, interval):
    """SIGKILL the worker every `interval` s and start another; their logs."""
    logs = []
    for _ in range(kills):
        time.sleep(interval)
        logs.append(pipeline.restart_worker(kill=True))
    return logs


def run(total=1000, rate=40, kills=4):
    places = located_addresses(total, seed=67)
    addresses = list(places)
    with Sandbox("drill_kill") as box, Pipeline("kill", box.settings()) as pipeline:
        load = Load(pipeline.url, addresses, clients=20, total=total, rate=rate)
        load.start()
        logs = kill_repeatedly(pipeline, kills, total / rate / (kills + 1))
        records = load.join()
        accepted = {r.doc_id: r.address for r in records if r.status == 303}
        found = box.wait_located(list(accepted), SETTLE_SECONDS)
        logs.append(pipeline.worker.log())

    return count(records, accepted, found, places, logs, kills)


def count(records, accepted, found, places, logs, kills):
    located = {
        doc_id
        for doc_id, doc in found.items()
        if doc.get("geo_status") == GeoStatus.LOCATED
    }
    wrong = [
        doc_id
        for doc_id in located
        if not same_place(found[doc_id], places[accepted[doc_id]])
    ]
    runs = {}
    for log in logs:
        for doc_id in LOCATED_LINE.findall(log):
            runs[doc_id] = runs.get(doc_id, 0) + 1
    twice = sum(1 for number in runs.values() if number > 1)
    result = {
        "drill_kill_submitted": len(records),
        "drill_kill_accepted": len(accepted),
        "drill_kill_kills": kills,
        "drill_kill_located": len(located),
        "drill_kill_lost": len(accepted) - len(located),
        "drill_kill_located_twice": twice,
        "drill_kill_different_results": len(wrong),
        "drill_kill_5xx": sum(1 for r in records if r.status >= 500 or not r.status),
    }
    print(
        f"  worker SIGKILLed {kills} times during {len(records)} submissions: "
        f"{len(accepted)} accepted, {len(located)} located, "
        f"{result['drill_kill_lost']} lost, {twice} located twice, "
        f"{len(wrong)} with a different result, {result['drill_kill_5xx']} 5xx"
    )
    return result
