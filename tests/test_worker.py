"""The worker process on the real stack: `celery -A tasks worker` against
OpenSearch and ElasticMQ, with the REST provider played by the loopback
stand-in (tests/geo_standin.py)."""

import pytest
from conftest import answer_id, quiz_form, refresh, submit_answer, wait_for
from geo_standin import GeoStandin, default_answer
from worker_helpers import (
    PRIVATE_ADDRESSES,
    celery_message,
    count_answers,
    decode_message,
    get_answer,
    known_answers,
    locate,
    make_sender,
    queue_depth,
    receive_all,
    wait_for_final,
)

from survey.broker import LOCATE_TASK, enqueue_location

READ_TIMEOUT = 0.5


@pytest.fixture
def rest_api():
    """The stand-in, answering the test database's known addresses."""
    with GeoStandin(known_answers()) as standin:
        yield standin


@pytest.fixture
def rest_worker(start_worker, rest_api):
    return start_worker(
        GEO_PROVIDER="rest",
        GEO_REST_URL=rest_api.url,
        GEO_REST_READ_TIMEOUT=READ_TIMEOUT,
    )


@pytest.fixture
def sender(settings):
    return make_sender(settings)


def submit(client, settings, ip, essay):
    """Post the quiz from `ip`; returns the answer's id."""
    form = quiz_form(client)
    response = submit_answer(client, essay=essay, ip=ip, **form)
    assert response.status_code == 303
    return answer_id(form["form_token"], settings["SECRET_KEY"])


def assert_located_as(source, answer):
    assert source["geo_status"] == "located"
    assert source["geo"] == {"lat": answer["latitude"], "lon": answer["longitude"]}
    assert source["geo_city"] == answer["city"]
    assert source["geo_country"] == answer["country_code"]
    assert source["geo_source"] == "rest"
    assert source.get("geo_error") is None
    assert source["geo_at"]


def test_a_submission_is_located_through_the_rest_provider(
    client, opensearch, settings, rest_api, rest_worker
):
    doc_id = submit(client, settings, "216.160.83.56", "Located over REST")

    source = wait_for_final(opensearch, settings, doc_id)

    assert_located_as(source, known_answers()["216.160.83.56"])
    assert (source["geo_city"], source["geo_country"]) == ("Milton", "US")
    assert source["geo"]["lat"] == pytest.approx(47.2513)
    assert source["geo"]["lon"] == pytest.approx(-122.3149)
    assert rest_api.asked == ["216.160.83.56"]


def test_an_ipv6_submission_is_located(
    client, opensearch, settings, rest_api, rest_worker
):
    doc_id = submit(client, settings, "2001:218::7", "Located from IPv6")

    source = wait_for_final(opensearch, settings, doc_id)

    assert_located_as(source, default_answer("2001:218::7"))
    assert rest_api.asked == ["2001:218::7"]


def test_private_addresses_end_unlocatable_with_no_provider_call(
    client, opensearch, settings, sender, rest_api, rest_worker
):
    submitted = [
        submit(client, settings, ip, f"Private {ip}") for ip in PRIVATE_ADDRESSES
    ]
    # The quiz already marks these; tasks sent anyway (a backfill, another
    # sender) must be refused by the worker too.
    sent = [locate(sender, opensearch, settings, ip) for ip in PRIVATE_ADDRESSES]

    for doc_id in submitted + sent:
        source = wait_for_final(opensearch, settings, doc_id)
        assert source["geo_status"] == "unlocatable"
        assert "geo" not in source or source["geo"] is None
    for doc_id in sent:
        assert get_answer(opensearch, settings, doc_id)["geo_error"] == (
            "not a public address"
        )
    assert rest_api.calls == 0


@pytest.mark.parametrize("mode", ["timeout", "error", "ratelimit", "garbage"])
def test_a_provider_that_recovers_is_retried_until_it_answers(
    opensearch, settings, sender, rest_api, rest_worker, mode
):
    rest_api.set(mode=mode, retry_after=0, fail_times=2)

    doc_id = locate(sender, opensearch, settings, "81.2.69.142")
    source = wait_for_final(opensearch, settings, doc_id)

    assert_located_as(source, known_answers()["81.2.69.142"])
    assert rest_api.asked == ["81.2.69.142"] * 3


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("timeout", "timeout"),
        ("error", "http 500"),
        ("ratelimit", "rate limited"),
        ("garbage", "unusable answer"),
        ("fieldless", "unusable answer"),
    ],
)
def test_a_provider_that_keeps_failing_is_recorded_and_dead_lettered(
    opensearch, settings, sqs, purge_queues, sender, rest_api, rest_worker, mode, reason
):
    rest_api.set(mode=mode, retry_after=0)

    doc_id = locate(sender, opensearch, settings, "89.160.20.112")
    source = wait_for_final(opensearch, settings, doc_id)
    (dead,) = receive_all(sqs, purge_queues["dlq_url"], expected=1)

    assert source["geo_status"] == "failed"
    assert source["geo_error"] == reason
    assert "geo" not in source
    retries = int(settings["GEO_MAX_RETRIES"])
    assert rest_api.asked == ["89.160.20.112"] * (retries + 1)
    headers, args = decode_message(dead)
    assert headers["task"] == LOCATE_TASK
    assert headers["dead_letter_reason"] == "GeolocationFailed"
    assert args == [doc_id, "89.160.20.112"]
    assert "89.160.20.112" not in headers["argsrepr"]

    rest_api.set(mode="ok")
    later = locate(sender, opensearch, settings, "81.2.69.142")
    assert wait_for_final(opensearch, settings, later)["geo_status"] == "located"
    assert rest_worker.process.poll() is None


@pytest.mark.parametrize(
    ("retry_after", "ceiling", "least"),
    [(1, 3.0, 1.0), (5, 1.5, 1.5)],
)
def test_retry_after_is_honoured_up_to_the_longest_backoff(
    opensearch, settings, sender, start_worker, rest_api, retry_after, ceiling, least
):
    start_worker(
        GEO_PROVIDER="rest",
        GEO_REST_URL=rest_api.url,
        GEO_RETRY_BACKOFF_MAX=ceiling,
    )
    rest_api.set(mode="ratelimit", retry_after=retry_after, fail_times=2)

    doc_id = locate(sender, opensearch, settings, "81.2.69.142")
    source = wait_for_final(opensearch, settings, doc_id)

    assert source["geo_status"] == "located"
    times = rest_api.call_times
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert len(gaps) == 2
    # The jittered backoff alone would wait 0.2-0.4 s (GEO_RETRY_BACKOFF=0.2).
    assert all(least <= gap < least + 2.5 for gap in gaps), gaps
    assert all(gap < retry_after + 2.5 for gap in gaps), gaps


def test_malformed_messages_go_to_the_dead_letter_queue_and_work_goes_on(
    opensearch, settings, sqs, purge_queues, sender, start_worker
):
    worker = start_worker()
    url = purge_queues["url"]
    unreadable = [
        celery_message(LOCATE_TASK, ["answer-1", "81.2.69.142", "extra"]),
        celery_message(LOCATE_TASK, ["../not an id", "81.2.69.142"]),
        celery_message(LOCATE_TASK, ["answer-2", "not an address"]),
        celery_message("tasks.no_such_task", ["answer-3", "81.2.69.142"]),
        "this is not JSON {",
        '{"json": "but not a Celery message"}',
    ]
    for body in unreadable:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    doc_id = locate(sender, opensearch, settings, "81.2.69.142")

    assert wait_for_final(opensearch, settings, doc_id)["geo_status"] == "located"
    # Set aside at once, not after visibility timeouts and redrive.
    dead = receive_all(sqs, purge_queues["dlq_url"], expected=len(unreadable))
    assert len(dead) == len(unreadable)
    assert "this is not JSON {" in dead
    assert '{"json": "but not a Celery message"}' in dead
    reasons = sorted(
        headers.get("dead_letter_reason", "raw")
        for headers, _ in map(decode_message, dead)
        if headers
    )
    assert reasons == ["MalformedTask", "MalformedTask", "TypeError", "raw"]
    # The worker moved the unreadable ones itself, not the queue's redrive.
    log = worker.log()
    assert log.count("moved a message (unrecognised) to the dead-letter") == 2
    assert log.count("moved a message (unknown-task) to the dead-letter") == 1
    wait_for(lambda: queue_depth(sqs, url) == (0, 0, 0), what="an empty queue")
    assert worker.process.poll() is None


def test_running_a_task_twice_gives_the_same_document(
    opensearch, settings, sender, worker
):
    doc_id = locate(sender, opensearch, settings, "81.2.69.142")
    first = wait_for_final(opensearch, settings, doc_id)

    enqueue_location(sender, doc_id, "81.2.69.142")
    second = wait_for(
        lambda: changed(get_answer(opensearch, settings, doc_id), first),
        what="the second run",
    )

    assert without_time(second) == without_time(first)
    assert second["geo_at"] > first["geo_at"]
    assert count_answers(opensearch, settings, "Stored directly") >= 1


def changed(source, before):
    return source if source["geo_at"] != before["geo_at"] else None


def without_time(source):
    return {name: value for name, value in source.items() if name != "geo_at"}


def test_a_later_failing_delivery_keeps_a_located_answer(
    opensearch, settings, sqs, purge_queues, sender, start_worker, rest_api
):
    worker = start_worker(
        GEO_PROVIDER="rest", GEO_REST_URL=rest_api.url, GEO_CACHE_SIZE=0
    )
    doc_id = locate(sender, opensearch, settings, "216.160.83.56")
    located = wait_for_final(opensearch, settings, doc_id)

    # SQS delivers the same task again while the provider is down.
    rest_api.set(mode="error")
    enqueue_location(sender, doc_id, "216.160.83.56")
    wait_for(
        lambda: "was located already: kept" in worker.log(),
        what="the worker to keep the located answer",
    )

    assert get_answer(opensearch, settings, doc_id) == located
    assert rest_api.calls == 1 + int(settings["GEO_MAX_RETRIES"]) + 1
    assert queue_depth(sqs, purge_queues["dlq_url"]) == (0, 0, 0)


def test_a_task_for_a_missing_answer_is_logged_and_acknowledged(
    sqs, purge_queues, sender, worker
):
    enqueue_location(sender, "no-such-answer-42", "81.2.69.142")

    wait_for(
        lambda: "answer no-such-answer-42 not found" in worker.log(),
        what="the worker to report the missing answer",
    )
    wait_for(
        lambda: queue_depth(sqs, purge_queues["url"]) == (0, 0, 0),
        what="the task to be acknowledged",
    )
    assert queue_depth(sqs, purge_queues["dlq_url"]) == (0, 0, 0)
    assert "81.2.69.142" not in worker.log()


def test_the_worker_logs_no_address_even_at_debug(
    opensearch, settings, sqs, purge_queues, sender, start_worker, rest_api
):
    worker = start_worker(
        loglevel="DEBUG", GEO_PROVIDER="rest", GEO_REST_URL=rest_api.url
    )
    rest_api.set(mode="error", fail_times=1)
    retried = locate(sender, opensearch, settings, "81.2.69.142")
    wait_for_final(opensearch, settings, retried)

    rest_api.set(mode="error")
    failed = locate(sender, opensearch, settings, "216.160.83.56")
    wait_for_final(opensearch, settings, failed)
    receive_all(sqs, purge_queues["dlq_url"], expected=1)
    rest_api.set(mode="ok")

    sqs.send_message(
        QueueUrl=purge_queues["url"],
        MessageBody=celery_message(LOCATE_TASK, ["answer-9", "89.160.20.112", 3]),
    )
    receive_all(sqs, purge_queues["dlq_url"], expected=1)
    enqueue_location(sender, "no-such-answer-43", "2001:218::9")
    wait_for(lambda: "no-such-answer-43 not found" in worker.log(), what="the end")

    log = worker.log()
    assert f"{retried}" in log and "retry" in log.lower()
    for address in ("81.2.69.142", "216.160.83.56", "89.160.20.112", "2001:218::9"):
        assert address not in log


def test_an_old_database_is_named_with_a_warning_at_start(start_worker):
    worker = start_worker(GEO_DB_MAX_AGE_DAYS=1)

    log = worker.log()
    assert "geolocation database mmdb:GeoIP2-City:" in log
    assert "WARNING survey.geolocation: geolocation database is" in log


def test_a_worker_killed_mid_batch_leaves_every_answer_located_once(
    client, opensearch, settings, purge_queues, start_worker
):
    with GeoStandin() as api:
        api.set(delay=0.4)
        first = start_worker(GEO_PROVIDER="rest", GEO_REST_URL=api.url)
        addresses = [f"81.2.{i}.{i + 1}" for i in range(60)]
        ids = {
            submit(client, settings, ip, f"Drill answer {ip}"): ip for ip in addresses
        }

        wait_for(
            lambda: located_count(opensearch, settings) >= 8,
            timeout=60,
            what="the batch to be under way",
        )
        first.kill()
        start_worker(GEO_PROVIDER="rest", GEO_REST_URL=api.url)

        wait_for(
            lambda: located_count(opensearch, settings) >= len(ids),
            timeout=120,
            what="every answer of the batch to be located",
        )

    for doc_id, ip in ids.items():
        source = get_answer(opensearch, settings, doc_id)
        assert_located_as(source, default_answer(ip))
        assert source["client_ip_addr"] == ip
        assert count_answers(opensearch, settings, f"Drill answer {ip}") == 1
    assert set(api.asked) == set(addresses)
    # Tasks in flight at the kill came back and were asked about again.
    assert len(api.asked) > len(addresses)


def located_count(opensearch, settings):
    refresh(opensearch, settings)
    query = {
        "bool": {
            "filter": [
                {"term": {"geo_status": "located"}},
                {"match_phrase": {"essay_question": "Drill answer"}},
            ]
        }
    }
    index = settings["OPENSEARCH_INDEX"]
    return opensearch.count(index=index, body={"query": query})["count"]
