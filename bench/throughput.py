"""Worker throughput: answers located a second by one worker process.

The documents and their tasks are written first (straight into the index and
through survey.broker, as the web app sends them); then one worker starts and
the clock runs from its `ready` line until every document is located. Every
address is distinct, so the lookup cache never helps.
"""

import logging
import time

from opensearchpy.helpers import bulk

from bench.addresses import located_addresses
from bench.processes import start_worker, wait_until
from bench.sandbox import Sandbox
from survey.broker import enqueue_location, make_celery
from survey.store import GeoStatus
from tests.geo_standin import GeoStandin

logger = logging.getLogger(__name__)

REST_DELAY = 0.2


def store_pending(box, addresses):
    """One pending answer per address, bulk-written; their ids."""
    ids = [f"bench{number:06d}" for number in range(len(addresses))]
    actions = (
        {
            "_op_type": "create",
            "_index": box.index,
            "_id": doc_id,
            "essay_question": "Sega.",
            "email_addr": "taker@example.com",
            "client_ip_addr": address,
            "is_spam": False,
            "spam_reasons": [],
            "tags": ["v1"],
            "@timestamp": "2026-01-01T00:00:00Z",
            "geo_status": GeoStatus.PENDING,
        }
        for doc_id, address in zip(ids, addresses, strict=True)
    )
    bulk(box.client, actions, refresh=True)
    return ids


def enqueue_all(box, ids, addresses):
    """Send every task the way the web app does; tasks sent a second."""
    celery = make_celery(box.config())
    started = time.perf_counter()
    for doc_id, address in zip(ids, addresses, strict=True):
        enqueue_location(celery, doc_id, address)
    return len(ids) / (time.perf_counter() - started)


def located_per_second(name, count, concurrency, seed, timeout=120, **extra):
    """(located a second, peak worker RSS in MB, enqueue rate) for one run."""
    addresses = list(located_addresses(count, seed=seed))
    with Sandbox(name) as box:
        ids = store_pending(box, addresses)
        sent_rate = enqueue_all(box, ids, addresses)
        worker = start_worker(name, box.settings(**extra), concurrency)
        started = time.perf_counter()
        try:
            wait_until(
                lambda: box.count(geo_status=GeoStatus.LOCATED) >= count,
                timeout,
                f"{count} answers located by {name}",
            )
            seconds = time.perf_counter() - started
            rss = worker.peak_rss_mb()
        finally:
            worker.stop()

    rate = count / seconds
    print(
        f"  {name}: {count} located in {seconds:.1f} s = {rate:.0f}/s "
        f"(concurrency {concurrency}, peak RSS {rss:.0f} MB; "
        f"tasks were sent at {sent_rate:.0f}/s)"
    )
    return rate, rss, sent_rate


def run(offline_count=3000, remote_count=2000):
    offline, offline_rss, sent_rate = located_per_second(
        "worker-offline", offline_count, concurrency=32, seed=61
    )
    with GeoStandin() as standin:
        standin.set(mode="ok", delay=REST_DELAY)
        remote, remote_rss, _ = located_per_second(
            "worker-remote",
            remote_count,
            concurrency=64,
            seed=62,
            GEO_PROVIDER="rest",
            GEO_REST_URL=standin.url,
        )
    return {
        "worker_offline_per_s": offline,
        "worker_remote_per_s": remote,
        "worker_rss_mb": max(offline_rss, remote_rss),
        "worker_rss_mb_offline": offline_rss,
        "worker_rss_mb_remote": remote_rss,
        "enqueue_per_s": sent_rate,
    }
