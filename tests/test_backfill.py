"""`flask backfill-locations` on the real OpenSearch, ElasticMQ and worker."""

import logging
import threading
import time

import pytest
from analysts_helpers import fresh_index
from conftest import make_app, submit_answer, wait_for
from test_quiz_faults import SilentServer

from survey import store

LOCATABLE = {"81.2.69.142": "London", "216.160.83.56": "Milton"}
LOCATABLE["89.160.20.112"] = "Linköping"


@pytest.fixture
def backfill_index(opensearch, settings):
    """An index of its own, so the counts in the summary are exact."""
    with fresh_index(opensearch, settings, "backfill") as index:
        yield index


def queued(sqs, queues):
    """Messages in the session queue, visible or being worked on."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queues["url"],
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def statuses(opensearch, index):
    opensearch.indices.refresh(index=index)
    hits = opensearch.search(index=index, body={"size": 100})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def backfill(app, *args):
    result = app.test_cli_runner().invoke(args=["backfill-locations", *args])
    assert result.exit_code == 0, result.output
    return result.output


def store_without_the_quiz(opensearch, index):
    """An answer from before geo fields existed, one whose lookup failed, and
    ones the backfill must leave alone."""
    old = {"essay_question": "Old answer", "email_addr": "old@example.com"}
    store.save_answer(
        opensearch, index, "old", {**old, "client_ip_addr": "81.2.69.142"}
    )
    failed = {"geo_status": "failed", "geo_error": "timeout", "is_spam": False}
    store.save_answer(
        opensearch,
        index,
        "failed",
        {**old, **failed, "client_ip_addr": "216.160.83.56"},
    )
    store.save_answer(
        opensearch,
        index,
        "unlocatable",
        {**old, "geo_status": "unlocatable", "client_ip_addr": "10.1.2.3"},
    )
    store.save_answer(opensearch, index, "no-address", {**old, "geo_status": "pending"})


def test_backfill_locates_what_the_queue_lost_and_runs_twice_safely(
    settings, opensearch, backfill_index, sqs, purge_queues, start_worker
):
    app = make_app(settings, OPENSEARCH_INDEX=backfill_index)
    client = app.test_client()
    for ip in LOCATABLE:
        assert submit_answer(client, essay="Lost task", ip=ip).status_code == 303
    submit_answer(client, essay="Spam", ip="81.2.69.142", website="bot")
    store_without_the_quiz(opensearch, backfill_index)
    # The quiz's own tasks are lost, as in an SQS outage.
    sqs.purge_queue(QueueUrl=purge_queues["url"])
    assert queued(sqs, purge_queues) == 0
    opensearch.indices.refresh(index=backfill_index)

    dry = backfill(app, "--dry-run")
    assert "would enqueue 5 answers" in dry
    assert queued(sqs, purge_queues) == 0

    first = backfill(app)
    assert "enqueued 5 answers, failed 0" in first
    assert queued(sqs, purge_queues) == 5
    enqueued = [
        doc_id
        for doc_id, source in statuses(opensearch, backfill_index).items()
        if source.get("geo_enqueued_at")
    ]
    assert len(enqueued) == 5
    assert not {"unlocatable", "no-address"} & set(enqueued)

    second = backfill(app)
    assert "enqueued 0 answers" in second
    assert "5 enqueued in the last" in second
    assert queued(sqs, purge_queues) == 5

    start_worker(OPENSEARCH_INDEX=backfill_index)

    def all_located():
        found = statuses(opensearch, backfill_index)
        wanted = [found[doc_id] for doc_id in enqueued]
        return all(source.get("geo_status") == "located" for source in wanted)

    wait_for(all_located, timeout=60, what="every backfilled answer to be located")
    found = statuses(opensearch, backfill_index)
    cities = sorted(found[doc_id]["geo_city"] for doc_id in enqueued)
    assert cities == sorted([*LOCATABLE.values(), "London", "Milton"])
    spam = [source for source in found.values() if source["essay_question"] == "Spam"]
    assert spam[0]["geo_status"] == "skipped"
    wait_for(lambda: queued(sqs, purge_queues) == 0, what="the queue to drain")

    last = backfill(app, "--min-age", "0")
    assert "enqueued 0 answers, failed 0" in last
    assert queued(sqs, purge_queues) == 0


def test_backfill_retries_after_min_age(
    settings, opensearch, backfill_index, sqs, purge_queues
):
    app = make_app(settings, OPENSEARCH_INDEX=backfill_index)
    store_without_the_quiz(opensearch, backfill_index)
    opensearch.indices.refresh(index=backfill_index)

    assert "enqueued 2 answers" in backfill(app)
    assert "enqueued 0 answers" in backfill(app)
    assert "enqueued 2 answers" in backfill(app, "--min-age", "0")
    assert queued(sqs, purge_queues) == 4


@pytest.mark.parametrize("args", [["--min-age", "-1"], ["--batch-size", "0"]])
def test_backfill_refuses_bad_options(settings, backfill_index, args):
    app = make_app(settings, OPENSEARCH_INDEX=backfill_index)

    result = app.test_cli_runner().invoke(args=["backfill-locations", *args])

    assert result.exit_code == 2


def block_writes_once_marked(opensearch, index, doc_id, done):
    """Refuse writes to `index` as soon as `doc_id` carries its enqueued mark."""
    for _ in range(200):
        source = store.get_answer(opensearch, index, doc_id) or {}
        if source.get("geo_enqueued_at"):
            opensearch.indices.put_settings(
                index=index, body={"index.blocks.write": True}
            )
            break
        time.sleep(0.02)
    done.set()


def test_backfill_reports_a_mark_it_could_not_take_back(
    settings, opensearch, backfill_index, caplog
):
    store.save_answer(
        opensearch, backfill_index, "stranded", {"client_ip_addr": "81.2.69.142"}
    )
    opensearch.indices.refresh(index=backfill_index)
    broker = SilentServer()
    base = f"http://127.0.0.1:{broker.port}/000000000000"
    app = make_app(
        settings,
        OPENSEARCH_INDEX=backfill_index,
        CELERY_BROKER_URL=f"sqs://test:test@127.0.0.1:{broker.port}",
        SQS_QUEUE_URL=f"{base}/silent-queue",
        SQS_DEAD_LETTER_QUEUE_URL=f"{base}/silent-queue-dlq",
        SQS_SEND_TIMEOUT=2.0,
    )
    done = threading.Event()
    blocker = threading.Thread(
        target=block_writes_once_marked,
        args=(opensearch, backfill_index, "stranded", done),
    )
    blocker.start()
    caplog.set_level(logging.WARNING)

    try:
        result = app.test_cli_runner().invoke(args=["backfill-locations"])
    finally:
        blocker.join(timeout=30)
        broker.close()
        opensearch.indices.put_settings(
            index=backfill_index, body={"index.blocks.write": None}
        )

    assert done.is_set()
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "enqueued 0 answers, failed 1" in result.output
    assert "1 failed answers are still marked as enqueued" in result.output
    assert "could not clear the enqueued mark of answer stranded" in caplog.text
