"""Helpers for the worker and queue tests: answers stored and tasks sent
directly, raw SQS messages, and the test database's known answers."""

import base64
import json
import uuid

import maxminddb
from conftest import TEST_DB, refresh, wait_for

# Addresses with a city in data/test/GeoIP2-City-Test.mmdb.
KNOWN_ADDRESSES = ("81.2.69.142", "216.160.83.56", "89.160.20.112")

# Loopback, private, link-local, unique-local and documentation addresses.
PRIVATE_ADDRESSES = (
    "10.1.2.3",
    "192.168.1.20",
    "127.0.0.1",
    "169.254.10.20",
    "fc00::1",
    "2001:db8::1",
    "::ffff:10.0.0.1",
)

FINAL_STATUSES = ("located", "unlocatable", "failed")


def known_answers(addresses=KNOWN_ADDRESSES):
    """What a freegeoip-style API would answer, read from the test database."""
    answers = {}
    with maxminddb.open_database(str(TEST_DB)) as reader:
        for address in addresses:
            record = reader.get(address)
            answers[address] = {
                "latitude": record["location"]["latitude"],
                "longitude": record["location"]["longitude"],
                "city": record["city"]["names"]["en"],
                "country_code": record["country"]["iso_code"],
            }
    return answers


def make_sender(settings):
    """A Celery app that only sends, as the web process does."""
    from config import load_config
    from survey.broker import make_celery

    return make_celery(load_config(settings))


def store_answer(opensearch, settings, ip, essay="Stored directly"):
    """Create a pending answer the way the quiz does; returns its id."""
    from survey import store

    doc_id = uuid.uuid4().hex
    fields = {
        "essay_question": essay,
        "email_addr": "direct@example.com",
        "client_ip_addr": ip,
        "is_spam": False,
        "spam_reasons": [],
        "geo_status": "pending",
    }
    assert store.save_answer(opensearch, settings["OPENSEARCH_INDEX"], doc_id, fields)
    return doc_id


def locate(sender, opensearch, settings, ip, essay="Stored directly"):
    """Store a pending answer and enqueue its task; returns the answer id."""
    from survey.broker import enqueue_location

    doc_id = store_answer(opensearch, settings, ip, essay)
    enqueue_location(sender, doc_id, ip)
    return doc_id


def get_answer(opensearch, settings, doc_id):
    from survey import store

    return store.get_answer(opensearch, settings["OPENSEARCH_INDEX"], doc_id)


def wait_for_final(opensearch, settings, doc_id, timeout=30.0):
    """The answer once its geo_status is final."""

    def final():
        source = get_answer(opensearch, settings, doc_id)
        if source and source.get("geo_status") in FINAL_STATUSES:
            return source
        return None

    return wait_for(final, timeout=timeout, what=f"answer {doc_id} to be final")


def count_answers(opensearch, settings, essay):
    refresh(opensearch, settings)
    return opensearch.count(
        index=settings["OPENSEARCH_INDEX"],
        body={"query": {"match_phrase": {"essay_question": essay}}},
    )["count"]


def celery_message(task, args, kwargs=None, task_id=None):
    """An SQS body as kombu encodes a Celery task, minus the sender's argsrepr."""
    task_id = task_id or str(uuid.uuid4())
    body = [args, kwargs or {}, {"callbacks": None, "errbacks": None}]
    envelope = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
            "id": task_id,
            "root_id": task_id,
            "retries": 0,
            "timelimit": [None, None],
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": "survey"},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def decode_message(body):
    """(headers, args) of a kombu SQS body, or (None, raw text) if not one."""
    try:
        envelope = json.loads(base64.b64decode(body, validate=True))
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        return envelope["headers"], args
    except (ValueError, KeyError, TypeError):
        return None, body


def receive_all(sqs, url, expected, timeout=30.0):
    """Receive and delete messages until `expected` have come; returns bodies."""
    bodies = []

    def enough():
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in answer.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= expected

    wait_for(enough, timeout=timeout, interval=0, what=f"{expected} message(s)")
    return bodies


def queue_depth(sqs, url):
    """(visible, in flight, delayed) message counts of a queue."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    values = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return tuple(int(values["Attributes"][name]) for name in names)
