"""Fixtures on the real services: OpenSearch, ElasticMQ and worker processes.

`make test` starts the test stack (see the Makefile's TEST_ENV) before pytest.
Each test session gets its own index and its own pair of queues, so sessions
and the dev stack never see each other's documents or messages.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEST_DB = ROOT / "data" / "test" / "GeoIP2-City-Test.mmdb"

OPENSEARCH_PORT = int(os.environ.get("STACK_OPENSEARCH_PORT", "19200"))
ELASTICMQ_PORT = int(os.environ.get("STACK_ELASTICMQ_PORT", "19324"))
OPENSEARCH_URL = f"http://127.0.0.1:{OPENSEARCH_PORT}"
SQS_ENDPOINT = f"http://127.0.0.1:{ELASTICMQ_PORT}"

# The app module builds `application` at import, which needs a secret.
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

# Short timings so retries and redeliveries fit in a test run.
QUEUE_VISIBILITY_TIMEOUT = 8
QUEUE_MAX_RECEIVES = 2


def sqs_client():
    return boto3.client(
        "sqs",
        endpoint_url=SQS_ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="session")
def sqs():
    return sqs_client()


def create_queue_pair(sqs, name):
    """Queue `name` and its dead-letter queue; returns their URLs."""
    dead_letters = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=dead_letters, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    redrive = (
        f'{{"deadLetterTargetArn":"{dead_letter_arn}",'
        f'"maxReceiveCount":"{QUEUE_MAX_RECEIVES}"}}'
    )
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(QUEUE_VISIBILITY_TIMEOUT),
            "RedrivePolicy": redrive,
        },
    )["QueueUrl"]
    return url, dead_letters


@pytest.fixture(scope="session")
def queues(sqs):
    """A fresh queue and dead-letter queue for this session."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    url, dead_letters = create_queue_pair(sqs, name)
    yield {"name": name, "url": url, "dlq_name": f"{name}-dlq", "dlq_url": dead_letters}
    for queue_url in (url, dead_letters):
        sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture(scope="session")
def index_name():
    return f"test_survey_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def settings(queues, index_name):
    """Settings every test app and worker shares, as environment strings."""
    return {
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "OPENSEARCH_URL": OPENSEARCH_URL,
        "OPENSEARCH_INDEX": index_name,
        "CELERY_BROKER_URL": f"sqs://test:test@127.0.0.1:{ELASTICMQ_PORT}",
        "SQS_QUEUE_NAME": queues["name"],
        "SQS_QUEUE_URL": queues["url"],
        "SQS_DEAD_LETTER_QUEUE_NAME": queues["dlq_name"],
        "SQS_DEAD_LETTER_QUEUE_URL": queues["dlq_url"],
        "SQS_WAIT_TIME_SECONDS": "1",
        "SQS_VISIBILITY_TIMEOUT": str(QUEUE_VISIBILITY_TIMEOUT),
        "SURVEY_MIN_FILL_SECONDS": "0",
        "GEO_PROVIDER": "mmdb",
        "GEO_MMDB_PATH": str(TEST_DB),
        "GEO_RETRY_BACKOFF": "0.2",
        "GEO_RETRY_BACKOFF_MAX": "1",
        "GEO_MAX_RETRIES": "3",
        "GEO_DB_MAX_AGE_DAYS": "100000",
    }


@pytest.fixture(scope="session")
def opensearch(settings):
    from config import load_config
    from survey import store

    client = store.make_client(load_config(settings))
    if not client.ping():
        pytest.fail(
            f"OpenSearch is not answering at {OPENSEARCH_URL}: "
            "run the tests with `make test`, which starts it"
        )
    store.ensure_index(client, settings["OPENSEARCH_INDEX"])
    yield client
    client.indices.delete(index=settings["OPENSEARCH_INDEX"], ignore_unavailable=True)
    client.indices.delete_index_template(
        name=store.template_name(settings["OPENSEARCH_INDEX"]), ignore=[404]
    )


def make_app(settings, **overrides):
    from application import create_app
    from config import load_config

    values = load_config(settings)
    values.update(overrides)
    return create_app({**values, "TESTING": True})


@pytest.fixture
def app(settings, opensearch):
    return make_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


def hidden_value(html, name):
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in the page"
    return match.group(1)


def quiz_form(client):
    """The hidden fields of a freshly rendered quiz."""
    page = client.get("/").get_data(as_text=True)
    return {
        "csrf_token": hidden_value(page, "csrf_token"),
        "form_token": hidden_value(page, "form_token"),
    }


def submit_answer(
    client, essay="An answer", email="taker@example.com", ip=None, **extra
):
    """Post a valid quiz form the way a browser would; returns the response."""
    data = {**quiz_form(client), "essay_question": essay, "email_addr": email}
    data["website"] = ""
    data.update(extra)
    environ = {"REMOTE_ADDR": ip} if ip else {}
    return client.post("/", data=data, environ_base=environ)


def answer_id(form_token, secret):
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret, salt="quiz-form").loads(form_token)


def refresh(opensearch, settings):
    opensearch.indices.refresh(index=settings["OPENSEARCH_INDEX"])


def find_answers(opensearch, settings, **terms):
    """Stored answers whose keyword fields equal the given values."""
    refresh(opensearch, settings)
    filters = [{"term": {name: value}} for name, value in terms.items()]
    result = opensearch.search(
        index=settings["OPENSEARCH_INDEX"],
        body={"query": {"bool": {"filter": filters}}, "size": 100},
    )
    return result["hits"]["hits"]


def wait_for(condition, timeout=30.0, interval=0.2, what="condition"):
    """Poll until `condition()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


class WorkerProcess:
    """A real `celery -A tasks worker` process with its own settings."""

    def __init__(self, env, log_path, concurrency=4, loglevel="INFO"):
        self.log_path = log_path
        command = [
            str(BIN / "celery"),
            "-A",
            "tasks",
            "worker",
            f"--loglevel={loglevel}",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
        self.log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: "ready." in self.log() or self.process.poll() is not None,
            timeout=60,
            what="the worker to start",
        )
        if self.process.poll() is not None:
            pytest.fail(f"worker exited at start-up:\n{self.log()[-3000:]}")

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def kill(self):
        """SIGKILL: no acknowledgement, no clean-up, like a crashed host."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log_file.close()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_file.close()


@pytest.fixture
def start_worker(settings, opensearch, tmp_path):
    """Start workers with extra settings; all are stopped after the test."""
    workers = []

    def start(concurrency=4, loglevel="INFO", **extra):
        env = {**settings, **{key: str(value) for key, value in extra.items()}}
        log_path = tmp_path / f"worker-{len(workers)}.log"
        worker = WorkerProcess(env, log_path, concurrency, loglevel)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()


@pytest.fixture
def purge_queues(sqs, queues):
    """Empty both queues before a test that counts messages."""
    for url in (queues["url"], queues["dlq_url"]):
        sqs.purge_queue(QueueUrl=url)
    return queues


@pytest.fixture
def empty_queue_afterwards(sqs, queues):
    """Tasks a test enqueued and did not read must not reach later workers."""
    yield
    sqs.purge_queue(QueueUrl=queues["url"])
