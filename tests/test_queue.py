"""The queue under the worker: kombu's SQS transport on a real ElasticMQ,
acknowledgement, redelivery after a SIGKILL, predefined queues, and the
queue settings check."""

import time
import uuid

import pytest
from conftest import QUEUE_VISIBILITY_TIMEOUT, SQS_ENDPOINT, wait_for
from geo_standin import GeoStandin
from worker_helpers import locate, make_sender, queue_depth, wait_for_final

from config import load_config
from survey.broker import make_celery, queue_problems


def test_a_message_sent_through_kombu_reaches_a_worker_and_is_acknowledged(
    opensearch, settings, sqs, purge_queues, worker
):
    sender = make_sender(settings)

    doc_id = locate(sender, opensearch, settings, "89.160.20.112")
    source = wait_for_final(opensearch, settings, doc_id)

    assert (source["geo_status"], source["geo_city"]) == ("located", "Linköping")
    wait_for(
        lambda: queue_depth(sqs, purge_queues["url"]) == (0, 0, 0),
        what="the message to be deleted",
    )
    assert queue_depth(sqs, purge_queues["dlq_url"]) == (0, 0, 0)


def test_a_message_whose_worker_is_killed_comes_back_after_the_visibility_timeout(
    opensearch, settings, sqs, purge_queues, start_worker
):
    url = purge_queues["url"]
    with GeoStandin() as api:
        api.set(delay=60)
        first = start_worker(
            GEO_PROVIDER="rest", GEO_REST_URL=api.url, GEO_REST_READ_TIMEOUT=90
        )
        doc_id = locate(make_sender(settings), opensearch, settings, "81.2.69.142")
        wait_for(lambda: api.calls == 1, what="the task to be running")
        received = api.call_times[0]
        assert queue_depth(sqs, url) == (0, 1, 0)

        first.kill()
        assert queue_depth(sqs, url) == (0, 1, 0)
        wait_for(
            lambda: queue_depth(sqs, url) == (1, 0, 0),
            timeout=QUEUE_VISIBILITY_TIMEOUT * 3,
            what="the unacknowledged message to come back",
        )
        assert time.monotonic() - received >= QUEUE_VISIBILITY_TIMEOUT - 1

        api.set(delay=0)
        start_worker(GEO_PROVIDER="rest", GEO_REST_URL=api.url)
        source = wait_for_final(opensearch, settings, doc_id)

    assert source["geo_status"] == "located"
    assert api.asked == ["81.2.69.142", "81.2.69.142"]
    wait_for(lambda: queue_depth(sqs, url) == (0, 0, 0), what="an empty queue")
    assert queue_depth(sqs, purge_queues["dlq_url"]) == (0, 0, 0)


def test_the_worker_uses_predefined_queues_and_creates_none(
    opensearch, settings, sqs, queues, start_worker
):
    # Names no queue has: asking SQS to create or look up a queue by them
    # would leave a trace in ElasticMQ. Only the URLs point at real queues.
    alias = f"predefined-only-{uuid.uuid4().hex[:8]}"
    aliased = {
        **settings,
        "SQS_QUEUE_NAME": alias,
        "SQS_DEAD_LETTER_QUEUE_NAME": f"{alias}-dlq",
    }
    before = set(sqs.list_queues().get("QueueUrls", []))

    start_worker(SQS_QUEUE_NAME=alias, SQS_DEAD_LETTER_QUEUE_NAME=f"{alias}-dlq")
    doc_id = locate(make_sender(aliased), opensearch, settings, "81.2.69.142")
    source = wait_for_final(opensearch, settings, doc_id)

    assert source["geo_status"] == "located"
    after = set(sqs.list_queues().get("QueueUrls", []))
    assert after == before
    assert not [url for url in after if alias in url]


def test_the_worker_settings_sqs_needs(settings):
    conf = make_celery(load_config(settings)).conf
    options = conf.broker_transport_options

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert options["wait_time_seconds"] == int(settings["SQS_WAIT_TIME_SECONDS"])
    assert 0 < options["polling_interval"] < 1
    assert set(options["predefined_queues"]) == {
        settings["SQS_QUEUE_NAME"],
        settings["SQS_DEAD_LETTER_QUEUE_NAME"],
    }
    assert (
        options["predefined_queues"][settings["SQS_QUEUE_NAME"]]["url"]
        == (settings["SQS_QUEUE_URL"])
    )
    assert conf.task_default_queue == settings["SQS_QUEUE_NAME"]


def test_the_session_queue_passes_the_queue_check(sqs, settings):
    assert queue_problems(sqs, load_config(settings)) == []


def test_a_visibility_timeout_within_the_longest_backoff_is_a_problem(sqs, settings):
    config = load_config(settings, {"GEO_RETRY_BACKOFF_MAX": 60.0})

    (problem,) = queue_problems(sqs, config)

    assert f"for {QUEUE_VISIBILITY_TIMEOUT} s" in problem
    assert "GEO_RETRY_BACKOFF_MAX (60 s)" in problem


def test_rest_lookup_timeouts_count_towards_the_hold(sqs, settings):
    config = load_config(
        settings,
        {
            "GEO_PROVIDER": "rest",
            "GEO_RETRY_BACKOFF_MAX": 1.0,
            "GEO_REST_CONNECT_TIMEOUT": 2.0,
            "GEO_REST_READ_TIMEOUT": 5.0,
        },
    )

    (problem,) = queue_problems(sqs, config)

    assert "GEO_REST_CONNECT_TIMEOUT + GEO_REST_READ_TIMEOUT (8 s)" in problem
    assert queue_problems(sqs, {**config, "GEO_REST_READ_TIMEOUT": 4.5}) == []


def test_a_missing_queue_is_a_problem(sqs, settings):
    url = f"{SQS_ENDPOINT}/000000000000/missing-{uuid.uuid4().hex[:8]}"
    config = load_config(settings, {"SQS_QUEUE_URL": url})

    assert queue_problems(sqs, config) == [f"queue {url} does not exist"]


@pytest.fixture
def bare_queue(sqs):
    """A queue with a long visibility timeout and no redrive policy."""
    url = sqs.create_queue(
        QueueName=f"bare-{uuid.uuid4().hex[:8]}",
        Attributes={"VisibilityTimeout": "300"},
    )["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def test_a_queue_without_a_dead_letter_queue_is_a_problem(sqs, settings, bare_queue):
    config = load_config(settings, {"SQS_QUEUE_URL": bare_queue})

    (problem,) = queue_problems(sqs, config)

    assert "no redrive policy" in problem


def test_dead_letters_sent_to_another_queue_are_a_problem(sqs, settings):
    config = load_config(settings, {"SQS_DEAD_LETTER_QUEUE_NAME": "elsewhere"})

    (problem,) = queue_problems(sqs, config)

    assert "not to SQS_DEAD_LETTER_QUEUE_NAME (elsewhere)" in problem
