"""Personal data on the real stack: truncation, dropping, erasure, retention."""

import base64
import hashlib
import json
import threading
import uuid
from datetime import timedelta

import pytest
from conftest import find_answers, make_app, refresh, submit_answer, wait_for
from geo_standin import GeoStandin

from survey import store
from survey.privacy import erase_answers, keyed_digest

TRUNCATED = [
    ("81.2.69.142", "81.2.69.0"),
    ("2001:218:1234:5678::9", "2001:218:1234::"),
]


def index_answer(opensearch, index, email="someone@example.com", age_days=0):
    """Store one answer directly, `age_days` old; returns its id."""
    doc_id = uuid.uuid4().hex
    stamp = store.utcnow() - timedelta(days=age_days)
    body = {
        "essay_question": "Stored for a privacy test",
        "email_addr": email,
        "client_ip_addr": "81.2.69.0",
        "is_spam": False,
        "tags": ["v1"],
        "geo_status": "located",
        "@timestamp": stamp.isoformat(),
    }
    opensearch.index(index=index, id=doc_id, body=body)
    return doc_id


def task_arguments(sqs_message):
    """[args, kwargs, embed] and the headers of a Celery message read from SQS."""
    envelope = json.loads(base64.b64decode(sqs_message["Body"]))
    body = json.loads(base64.b64decode(envelope["body"]))
    return body, envelope["headers"]


def receive_one(sqs, url):
    def received():
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        return answer.get("Messages")

    (message,) = wait_for(received, timeout=15, what="the task message")
    return message


# ---------------------------------------------------------------- truncation


@pytest.mark.parametrize(("address", "network"), TRUNCATED)
def test_truncation_keeps_the_full_address_out_of_store_queue_and_lookup(
    settings, opensearch, sqs, purge_queues, start_worker, address, network
):
    app = make_app(settings, SURVEY_TRUNCATE_IP=True)
    client = app.test_client()
    essay = f"Truncated {uuid.uuid4().hex}"
    response = submit_answer(client, essay=essay, ip=address)
    assert response.status_code == 303

    hits = find_answers(opensearch, settings, geo_status="pending")
    (hit,) = [h for h in hits if h["_source"]["essay_question"] == essay]
    assert hit["_source"]["client_ip_addr"] == network

    message = receive_one(sqs, purge_queues["url"])
    assert address not in base64.b64decode(message["Body"]).decode()
    (args, kwargs, _), headers = task_arguments(message)
    assert args == [hit["_id"], network]
    assert address not in json.dumps(headers)

    # Hand the message back untouched, for the worker to run.
    sqs.change_message_visibility(
        QueueUrl=purge_queues["url"],
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    with GeoStandin() as geo_api:
        start_worker(GEO_PROVIDER="rest", GEO_REST_URL=geo_api.url)
        done = wait_for_location(opensearch, settings, hit["_id"])

    assert done["_source"]["geo_source"] == "rest"
    assert geo_api.asked == [network]


def wait_for_location(opensearch, settings, doc_id):
    def located():
        found = find_answers(opensearch, settings, geo_status="located")
        return [hit for hit in found if hit["_id"] == doc_id]

    (hit,) = wait_for(located, what=f"answer {doc_id} to be located")
    return hit


def test_address_is_dropped_once_located_and_the_place_is_kept(
    app, client, opensearch, settings, start_worker
):
    start_worker(SURVEY_DROP_IP_AFTER_LOCATE="true")
    essay = f"Dropped {uuid.uuid4().hex}"
    response = submit_answer(client, essay=essay, ip="81.2.69.142")
    assert response.status_code == 303

    def located():
        found = find_answers(opensearch, settings, geo_status="located")
        return [h for h in found if h["_source"]["essay_question"] == essay]

    (hit,) = wait_for(located, what="the answer to be located")
    source = hit["_source"]
    assert source.get("client_ip_addr") is None
    assert source["geo_city"] == "London"
    assert abs(source["geo"]["lat"] - 51.5142) < 0.01


def test_without_truncation_the_address_is_kept_whole(client, opensearch, settings):
    essay = f"Whole {uuid.uuid4().hex}"
    submit_answer(client, essay=essay, ip="89.160.20.112")

    hits = find_answers(opensearch, settings)
    (hit,) = [h for h in hits if h["_source"]["essay_question"] == essay]
    assert hit["_source"]["client_ip_addr"] == "89.160.20.112"


# ---------------------------------------------------------------- erasure


def test_erasure_removes_exactly_one_address_in_any_case(opensearch, settings):
    index = settings["OPENSEARCH_INDEX"]
    tag = uuid.uuid4().hex[:8]
    gone = f"erase-me-{tag}@example.com"
    kept = f"keep-me-{tag}@example.com"
    for email in (gone, gone.upper(), f"Erase-Me-{tag}@Example.com"):
        index_answer(opensearch, index, email)
    kept_id = index_answer(opensearch, index, kept)
    refresh(opensearch, settings)

    assert erase_answers(opensearch, index, gone.upper()) == 3
    assert find_answers(opensearch, settings, email_addr=gone) == []
    (hit,) = find_answers(opensearch, settings, email_addr=kept)
    assert hit["_id"] == kept_id

    assert erase_answers(opensearch, index, gone) == 0


def test_erase_email_command_reports_the_count_and_logs_no_address(
    app, client, opensearch, settings, caplog
):
    email = f"Cli-Erase-{uuid.uuid4().hex[:8]}@example.org"
    for spelling in (email, email.lower()):
        response = submit_answer(client, email=spelling, ip="81.2.69.142")
        assert response.status_code == 303, response.get_data(as_text=True)
    runner = app.test_cli_runner()

    caplog.set_level("DEBUG")
    first = runner.invoke(args=["erase-email", email])
    again = runner.invoke(args=["erase-email", email])

    assert first.exit_code == 0, first.output
    assert "deleted 2 answers" in first.output
    assert again.exit_code == 0, again.output
    assert "deleted 0 answers" in again.output
    assert find_answers(opensearch, settings, email_addr=email) == []
    assert email.lower() not in caplog.text.lower()
    assert "erase-email" in caplog.text


def test_erase_email_command_fails_cleanly_without_the_index(settings, opensearch):
    app = make_app(settings, OPENSEARCH_INDEX=f"missing_{uuid.uuid4().hex[:8]}")
    result = app.test_cli_runner().invoke(args=["erase-email", "a@example.com"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- retention


@pytest.fixture
def retention_index(opensearch):
    """An index of its own, so other tests' answers never count as old."""
    index = f"test_retention_{uuid.uuid4().hex[:10]}"
    store.ensure_index(opensearch, index)
    yield index
    opensearch.indices.delete(index=index, ignore_unavailable=True)
    opensearch.indices.delete_index_template(
        name=store.template_name(index), ignore=[404]
    )


def remaining_ids(opensearch, index):
    opensearch.indices.refresh(index=index)
    hits = opensearch.search(index=index, body={"size": 100})["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def test_purge_old_removes_exactly_the_old_answers(
    settings, opensearch, retention_index
):
    ages = {"years": 400, "month": 31, "weeks": 29, "today": 0}
    ids = {
        name: index_answer(opensearch, retention_index, age_days=days)
        for name, days in ages.items()
    }
    app = make_app(settings, OPENSEARCH_INDEX=retention_index, SURVEY_RETENTION_DAYS=30)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["purge-old", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 answers older than 30 days" in dry.output
    assert remaining_ids(opensearch, retention_index) == set(ids.values())

    year = runner.invoke(args=["purge-old", "--days", "365"])
    assert "deleted 1 answers older than 365 days" in year.output
    assert remaining_ids(opensearch, retention_index) == set(ids.values()) - {
        ids["years"]
    }

    configured = runner.invoke(args=["purge-old"])
    assert configured.exit_code == 0, configured.output
    assert "deleted 1 answers older than 30 days" in configured.output
    assert remaining_ids(opensearch, retention_index) == {ids["weeks"], ids["today"]}

    again = runner.invoke(args=["purge-old"])
    assert "deleted 0 answers" in again.output


@pytest.mark.parametrize("days", [None, "0", "-3", "soon"])
def test_purge_old_refuses_without_a_period(
    settings, opensearch, retention_index, days
):
    old = index_answer(opensearch, retention_index, age_days=4000)
    app = make_app(settings, OPENSEARCH_INDEX=retention_index, SURVEY_RETENTION_DAYS=0)
    args = ["purge-old"] if days is None else ["purge-old", "--days", days]

    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert remaining_ids(opensearch, retention_index) == {old}


def keep_updating(opensearch, index, doc_id, started, limit=40):
    """Update one answer over and over, as the worker's geo update would."""
    for round_number in range(limit):
        if not store.update_answer(
            opensearch, index, doc_id, {"geo_city": f"City {round_number}"}
        ):
            return
        started.set()


def test_erasure_outlasts_updates_landing_during_it(opensearch, settings):
    index = settings["OPENSEARCH_INDEX"]
    email = f"raced-{uuid.uuid4().hex[:8]}@example.com"
    doc_id = index_answer(opensearch, index, email)
    refresh(opensearch, settings)
    started = threading.Event()
    updater = threading.Thread(
        target=keep_updating, args=(opensearch, index, doc_id, started)
    )
    updater.start()
    assert started.wait(timeout=10)

    try:
        deleted = erase_answers(opensearch, index, email)
    finally:
        updater.join(timeout=30)

    assert deleted == 1
    assert store.get_answer(opensearch, index, doc_id) is None


def test_erase_email_logs_a_keyed_digest_not_a_plain_hash(app, settings, caplog):
    email = f"digest-{uuid.uuid4().hex[:8]}@example.org"
    plain = hashlib.sha256(email.encode()).hexdigest()
    caplog.set_level("DEBUG")

    result = app.test_cli_runner().invoke(args=["erase-email", email.upper()])

    assert result.exit_code == 0, result.output
    assert keyed_digest(email, settings["SECRET_KEY"]) in caplog.text
    assert plain[:8] not in caplog.text
