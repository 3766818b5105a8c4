"""Helpers for the quiz tests: what got stored, what got queued, old tokens."""

import base64
import json
import socket
import time
import uuid

from conftest import refresh
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

FORM_TOKEN_SALT = "quiz-form"
CSRF_SALT = "wtf-csrf-token"


def unique_email():
    """An address no other test uses, to find exactly this test's answers."""
    return f"taker-{uuid.uuid4().hex[:12]}@example.com"


def stored_count(opensearch, settings):
    """How many answers the session's index holds."""
    refresh(opensearch, settings)
    return opensearch.count(index=settings["OPENSEARCH_INDEX"])["count"]


def index_operations(opensearch, settings):
    """(documents indexed, gets, searches) the index has served so far."""
    refresh(opensearch, settings)
    stats = opensearch.indices.stats(index=settings["OPENSEARCH_INDEX"])
    total = stats["_all"]["primaries"]
    return (
        total["indexing"]["index_total"],
        total["get"]["total"],
        total["search"]["query_total"],
    )


def queued_tasks(sqs, queues, wait_seconds=1):
    """(task name, args) of every message now in the session queue.

    The messages are deleted as they are read: a worker started by a later
    test must not find them.
    """
    tasks = []
    for _ in range(20):
        received = sqs.receive_message(
            QueueUrl=queues["url"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not received:
            return tasks

        for message in received:
            envelope = json.loads(base64.b64decode(message["Body"]))
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            tasks.append((envelope["headers"]["task"], args))
            sqs.delete_message(
                QueueUrl=queues["url"], ReceiptHandle=message["ReceiptHandle"]
            )
    return tasks


def closed_port():
    """A loopback port that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def issued_seconds_ago(seconds):
    """A TimestampSigner class that dates its signatures `seconds` back."""

    class BackdatedSigner(TimestampSigner):
        def get_timestamp(self):
            return int(time.time() - seconds)

    return BackdatedSigner


def old_form_token(secret, doc_id, seconds):
    """A genuine form token for `doc_id`, issued `seconds` ago."""
    serializer = URLSafeTimedSerializer(
        secret, salt=FORM_TOKEN_SALT, signer=issued_seconds_ago(seconds)
    )
    return serializer.dumps(doc_id)


def old_csrf_token(secret, raw_token, seconds):
    """A CSRF field value for the session's raw token, issued `seconds` ago."""
    serializer = URLSafeTimedSerializer(
        secret, salt=CSRF_SALT, signer=issued_seconds_ago(seconds)
    )
    return serializer.dumps(raw_token)
