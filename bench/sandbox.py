"""A private index and queue pair on the dev stack for one benchmark.

Each benchmark gets names of its own, so nothing it stores or sends mixes
with `make run` data, and everything is deleted afterwards.
"""

import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import load_config  # noqa: E402
from survey import store  # noqa: E402
from survey.store import GeoStatus  # noqa: E402

logger = logging.getLogger(__name__)

OPENSEARCH_URL = "http://127.0.0.1:9200"
SQS_ENDPOINT = "http://127.0.0.1:9324"
OFFLINE_DB = ROOT / "data" / "dbip-city-lite.mmdb"
SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "bench-secret-" + uuid.uuid4().hex)
VISIBILITY_TIMEOUT = 10
MAX_RECEIVES = 5


def sqs_client():
    return boto3.client(
        "sqs",
        endpoint_url=SQS_ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


class Sandbox:
    """An index and a queue with its dead-letter queue, named after a benchmark."""

    def __init__(self, name, visibility_timeout=VISIBILITY_TIMEOUT):
        self.visibility_timeout = visibility_timeout
        suffix = uuid.uuid4().hex[:8]
        self.index = f"bench_{name}_{suffix}"
        self.queue = f"bench-{name}-{suffix}"
        self.dead_letters = f"{self.queue}-dlq"
        self.sqs = sqs_client()

    def settings(self, **extra):
        """Environment strings for the web app and the worker of this sandbox."""
        values = {
            "SECRET_KEY": SECRET_KEY,
            "OPENSEARCH_URL": OPENSEARCH_URL,
            "OPENSEARCH_INDEX": self.index,
            "CELERY_BROKER_URL": "sqs://bench:bench@127.0.0.1:9324",
            "SQS_QUEUE_NAME": self.queue,
            "SQS_DEAD_LETTER_QUEUE_NAME": self.dead_letters,
            "SQS_VISIBILITY_TIMEOUT": str(self.visibility_timeout),
            "SQS_WAIT_TIME_SECONDS": "1",
            "SURVEY_MIN_FILL_SECONDS": "0",
            "SURVEY_TRUSTED_PROXIES": "1",
            "GEO_PROVIDER": "mmdb",
            "GEO_MMDB_PATH": str(OFFLINE_DB),
            "GEO_DB_MAX_AGE_DAYS": "100000",
            "LOG_LEVEL": "WARNING",
        }
        values.update({key: str(value) for key, value in extra.items()})
        return values

    def config(self, **extra):
        return load_config(self.settings(**extra))

    def create(self):
        self.create_queues()
        self.client = store.make_client(self.config())
        store.ensure_index(self.client, self.index)
        return self

    def create_queues(self):
        """The queue pair with a redrive policy (again after ElasticMQ restarts)."""
        dead_url = self.sqs.create_queue(QueueName=self.dead_letters)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(
            QueueUrl=dead_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": arn, "maxReceiveCount": str(MAX_RECEIVES)}
        self.sqs.create_queue(
            QueueName=self.queue,
            Attributes={
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
            },
        )

    def delete(self):
        self.client.indices.delete(index=self.index, ignore_unavailable=True)
        self.client.indices.delete_index_template(
            name=store.template_name(self.index), ignore=[404]
        )
        for name in (self.queue, self.dead_letters):
            try:
                url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
                self.sqs.delete_queue(QueueUrl=url)
            except self.sqs.exceptions.QueueDoesNotExist:
                pass

    def documents(self, ids=None):
        """Stored answers by id: all of them, or those of `ids` that exist."""
        self.client.indices.refresh(index=self.index)
        if ids is not None:
            found = {}
            ids = list(ids)
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                reply = self.client.mget(index=self.index, body={"ids": chunk})
                for doc in reply["docs"]:
                    if doc.get("found"):
                        found[doc["_id"]] = doc["_source"]
            return found
        return {hit["_id"]: hit["_source"] for hit in self.scan()}

    def scan(self):
        from opensearchpy.helpers import scan

        return scan(self.client, index=self.index, query={"query": {"match_all": {}}})

    def count(self, **terms):
        filters = [{"term": {name: value}} for name, value in terms.items()]
        body = {"query": {"bool": {"filter": filters}}}
        self.client.indices.refresh(index=self.index)
        return self.client.count(index=self.index, body=body)["count"]

    def wait_located(self, ids, seconds):
        """The documents of `ids` once all are located, or after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.documents(ids)
            if located_count(found) == len(ids) or time.monotonic() > deadline:
                return found
            time.sleep(1)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.delete()


def located_count(found):
    """How many of the documents in `found` (id: source) are located."""
    return sum(1 for d in found.values() if d["geo_status"] == GeoStatus.LOCATED)
