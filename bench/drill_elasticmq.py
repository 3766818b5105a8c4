"""Drill: ElasticMQ stopped under steady load, then back, then the backfill.

ElasticMQ keeps queues in memory: a restart loses every queued message and
the sandbox's queues, which the drill creates again, as an operator would.
Submissions during the outage are stored without a location; after
`flask backfill-locations` every accepted answer should be located.
"""

import logging
import time

from bench.addresses import located_addresses
from bench.outage import under_load
from bench.processes import Pipeline, run_backfill
from bench.sandbox import Sandbox, located_count
from bench.stats import fmt, summarize

logger = logging.getLogger(__name__)

CATCH_UP_SECONDS = 20
# How long the worker that lived through the outage gets to drain the backfill.
SAME_WORKER_SECONDS = 30


def run(outage=20, rate=20):
    addresses = list(located_addresses(4000, seed=70))
    with (
        Sandbox("drill_elasticmq") as box,
        Pipeline("elasticmq", box.settings()) as pipeline,
    ):
        records, stopped, restarted = under_load(
            pipeline.url, addresses, "elasticmq", outage, rate, box.create_queues
        )
        accepted = [r.doc_id for r in records if r.status == 303]
        time.sleep(CATCH_UP_SECONDS)
        before = box.documents(accepted)
        backfill = run_backfill(pipeline.settings)
        same_worker = box.wait_located(accepted, SAME_WORKER_SECONDS)
        found, restarted_worker = same_worker, False
        if located_count(same_worker) < len(accepted):
            # What an operator does for a worker that stopped consuming.
            pipeline.restart_worker()
            found, restarted_worker = box.wait_located(accepted, 90), True

    outcome = {
        "accepted": accepted,
        "same_worker": same_worker,
        "before": before,
        "found": found,
        "backfill": backfill,
        "restarted_worker": restarted_worker,
    }
    return count(records, outcome, stopped, restarted)


def count(records, outcome, stopped, restarted):
    accepted, before, found = (outcome[k] for k in ("accepted", "before", "found"))
    during = [r for r in records if stopped <= r.started < restarted]
    outage = summarize(during, restarted - stopped)
    unlocated = len(accepted) - located_count(before)
    result = {
        "drill_elasticmq_submitted": len(records),
        "drill_elasticmq_accepted": len(accepted),
        "drill_elasticmq_5xx": sum(1 for r in records if r.status >= 500),
        "drill_elasticmq_no_answer": sum(1 for r in records if not r.status),
        "drill_elasticmq_unlocated_before_backfill": unlocated,
        "drill_elasticmq_located": located_count(found),
        "drill_elasticmq_lost": len(accepted) - len(found),
        "drill_elasticmq_outage_p50_ms": outage["p50_ms"],
        "drill_elasticmq_outage_p99_ms": outage["p99_ms"],
        "drill_elasticmq_located_by_same_worker": located_count(outcome["same_worker"]),
        "drill_elasticmq_worker_restarted": outcome["restarted_worker"],
    }
    print(
        f"  ElasticMQ down {restarted - stopped:.0f} s under {len(records)} "
        f"submissions: {len(accepted)} accepted, {result['drill_elasticmq_5xx']} "
        f"5xx, submit p50 {fmt(outage['p50_ms'])} ms and p99 "
        f"{fmt(outage['p99_ms'])} ms while it was down"
    )
    print(
        f"  {unlocated} stored without a location; backfill: {outcome['backfill']}; "
        f"then {result['drill_elasticmq_located']} of {len(accepted)} located, "
        f"{result['drill_elasticmq_lost']} lost"
    )
    if outcome["restarted_worker"]:
        print(
            "  the worker that lived through the outage had located only "
            f"{result['drill_elasticmq_located_by_same_worker']} after "
            f"{SAME_WORKER_SECONDS} s: it stopped consuming; the figures above "
            "are after a worker restart"
        )
    return result
