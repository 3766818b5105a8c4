"""Drill: OpenSearch stopped for 30 seconds under steady load.

Every submission must end as a 303 whose answer is stored, or as the 503
page (nothing stored, the taker sends again); never a 500, never a 303 whose
answer is missing.
"""

import logging

from bench.addresses import located_addresses
from bench.outage import under_load
from bench.processes import Pipeline, run_backfill
from bench.sandbox import Sandbox, located_count
from bench.stats import fmt, summarize

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 90


def run(outage=30, rate=40):
    addresses = list(located_addresses(4000, seed=69))
    with (
        Sandbox("drill_opensearch") as box,
        Pipeline("opensearch", box.settings()) as pipeline,
    ):
        records, stopped, restarted = under_load(
            pipeline.url, addresses, "opensearch", outage, rate
        )
        accepted = [r.doc_id for r in records if r.status == 303]
        found = box.wait_located(accepted, SETTLE_SECONDS)
        backfill = ""
        if located_count(found) < len(accepted):
            backfill = run_backfill(pipeline.settings)
            found = box.wait_located(accepted, SETTLE_SECONDS)
        refused = [r.doc_id for r in records if r.status == 503]
        refused_stored = len(box.documents(refused)) if refused else 0

    outcome = {
        "accepted": accepted,
        "found": found,
        "located": located_count(found),
        "refused_stored": refused_stored,
        "backfill": backfill,
    }
    return count(records, outcome, stopped, restarted)


def count(records, outcome, stopped, restarted):
    """Counts by outcome; a refused answer found stored is counted as a 503
    that was not really refused (the taker's resend then stores nothing)."""
    accepted, found, located = (outcome[k] for k in ("accepted", "found", "located"))
    backfill = outcome["backfill"]
    during = [r for r in records if stopped <= r.started < restarted]
    outage = summarize(during, restarted - stopped)
    result = {
        "drill_opensearch_submitted": len(records),
        "drill_opensearch_accepted": len(accepted),
        "drill_opensearch_refused_503": sum(1 for r in records if r.status == 503),
        "drill_opensearch_500": sum(
            1 for r in records if r.status >= 500 and r.status != 503
        ),
        "drill_opensearch_no_answer": sum(1 for r in records if not r.status),
        "drill_opensearch_lost": len(accepted) - len(found),
        "drill_opensearch_refused_but_stored": outcome["refused_stored"],
        "drill_opensearch_located": located,
        "drill_opensearch_down_s": restarted - stopped,
        "drill_opensearch_outage_p99_ms": outage["p99_ms"],
    }
    print(
        f"  OpenSearch down {restarted - stopped:.0f} s (stopped, 30 s, restarted) "
        f"under {len(records)} submissions: {len(accepted)} accepted, "
        f"{result['drill_opensearch_refused_503']} refused with 503, "
        f"{result['drill_opensearch_500']} other 5xx, "
        f"{result['drill_opensearch_no_answer']} without an answer, "
        f"{result['drill_opensearch_lost']} lost, "
        f"{outcome['refused_stored']} refused yet stored, {located} located"
        + (f" (after backfill: {backfill})" if backfill else "")
    )
    print(
        f"  submit latency while it was down: p50 {fmt(outage['p50_ms'])} ms, "
        f"p99 {fmt(outage['p99_ms'])} ms"
    )
    return result
