"""A brief SQS outage loses no accepted answer.

The test runs its own ElasticMQ (the session's is shared with other tests),
stops it while a real worker and a web app are using it, starts it again and
re-creates the queues as an operator would. The worker must consume again by
itself, and the same web app must send again without a restart.
"""

import os
import socket
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from analysts_helpers import fresh_index
from conftest import (
    ROOT,
    create_queue_pair,
    find_answers,
    make_app,
    submit_answer,
    wait_for,
)

pytestmark = pytest.mark.slow

# Below Linux's ephemeral range, so no outgoing connection can hold the port.
FIRST_PORT = 19424
OUTAGE_SECONDS = 12
# Longer than the worker's longest pause between failed polls, so at least
# one poll meets the restarted server before its queue is back.
QUEUELESS_SECONDS = 7


def free_port(first=FIRST_PORT, count=200):
    for port in range(first, first + count):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {first}-{first + count - 1}")


class ElasticMQ:
    """An ElasticMQ of this test's own, started and stopped with stack/stack.py."""

    def __init__(self, folder, port):
        for name in ("run", "logs"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "STACK_DIR": str(folder),
            "STACK_ELASTICMQ_PORT": str(port),
            # The queue stack.py configures (and checks health with) is not
            # the test's pair: those come and go with create_queue_pair.
            "SQS_QUEUE_NAME": "outage-health",
        }
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def run(self, command):
        return subprocess.run(
            [sys.executable, str(ROOT / "stack" / "stack.py"), command, "elasticmq"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self):
        """Start and wait until healthy.

        stack.py now and then reports a server that is starting as having
        exited; a second `start` finds it running and waits for its health.
        """
        done = self.run("start")
        if done.returncode:
            done = self.run("start")
        if done.returncode:
            pytest.fail(f"ElasticMQ did not start:\n{done.stderr}")

    def stop(self):
        self.run("stop")


@pytest.fixture
def elasticmq(tmp_path_factory):
    server = ElasticMQ(tmp_path_factory.mktemp("elasticmq"), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def outage_index(opensearch, settings):
    with fresh_index(opensearch, settings, "outage") as index:
        yield index


@pytest.fixture
def outage_settings(settings, elasticmq, outage_index):
    """The session's settings, moved to this test's ElasticMQ and index."""
    name = f"outage-{uuid.uuid4().hex[:8]}"
    url, dead_letters = create_queue_pair(elasticmq.sqs, name)
    port = elasticmq.endpoint.rsplit(":", 1)[1]
    return {
        **settings,
        "OPENSEARCH_INDEX": outage_index,
        "CELERY_BROKER_URL": f"sqs://test:test@127.0.0.1:{port}",
        "SQS_QUEUE_NAME": name,
        "SQS_QUEUE_URL": url,
        "SQS_DEAD_LETTER_QUEUE_NAME": f"{name}-dlq",
        "SQS_DEAD_LETTER_QUEUE_URL": dead_letters,
        "SQS_SEND_TIMEOUT": "2",
    }


def geo_status(opensearch, settings, email):
    hits = find_answers(opensearch, settings, email_addr=email)
    return hits[0]["_source"].get("geo_status") if hits else None


def wait_located(opensearch, settings, email, timeout=60):
    wait_for(
        lambda: geo_status(opensearch, settings, email) == "located",
        timeout=timeout,
        what=f"the answer from {email} to be located",
    )


def test_worker_and_web_carry_on_after_an_sqs_outage(
    opensearch, elasticmq, outage_settings, start_worker
):
    settings = outage_settings
    # DEBUG: each failed poll is logged, and no level may show an address.
    worker = start_worker(loglevel="DEBUG", **settings)
    app = make_app(settings)
    client = app.test_client()

    assert (
        submit_answer(client, email="before@example.com", ip="81.2.69.142").status_code
        == 303
    )
    wait_located(opensearch, settings, "before@example.com")

    elasticmq.stop()
    during = submit_answer(client, email="during@example.com", ip="216.160.83.56")
    assert during.status_code == 303
    assert geo_status(opensearch, settings, "during@example.com") == "pending"
    time.sleep(OUTAGE_SECONDS)

    elasticmq.start()
    time.sleep(QUEUELESS_SECONDS)
    create_queue_pair(elasticmq.sqs, settings["SQS_QUEUE_NAME"])

    after = submit_answer(client, email="after@example.com", ip="89.160.20.112")
    assert after.status_code == 303
    wait_located(opensearch, settings, "after@example.com")

    backfill = app.test_cli_runner().invoke(args=["backfill-locations"])
    assert backfill.exit_code == 0, backfill.output
    assert "enqueued 1 answers, failed 0" in backfill.output
    wait_located(opensearch, settings, "during@example.com")

    log = worker.log()
    assert "Error in timer" not in log
    assert log.count("polling again") == 1, log[-3000:]
    assert "failed (HTTP 400)" in log, "no poll met the missing queue"
    for address in ("81.2.69.142", "216.160.83.56", "89.160.20.112"):
        assert address not in log
