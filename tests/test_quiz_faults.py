"""The quiz when its services fail, and the checks that stop a bad start."""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from conftest import BIN, ROOT, find_answers, make_app, submit_answer
from quiz_helpers import (
    closed_port,
    queued_tasks,
    stored_count,
    unique_email,
)

from survey import store

pytest_plugins = ["live"]
pytestmark = pytest.mark.usefixtures("empty_queue_afterwards")


LOCATABLE_IP = "81.2.69.142"
SEND_TIMEOUT = 2.0


class SilentServer:
    """A loopback TCP server that accepts connections and never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.listener.close()
        self.thread.join(timeout=5)
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent_port():
    server = SilentServer()
    yield server.port
    server.close()


def broker_at(port):
    """Settings that send the queue's messages to 127.0.0.1:<port>."""
    base = f"http://127.0.0.1:{port}/000000000000"
    return {
        "CELERY_BROKER_URL": f"sqs://test:test@127.0.0.1:{port}",
        "SQS_QUEUE_URL": f"{base}/dead-queue",
        "SQS_DEAD_LETTER_QUEUE_URL": f"{base}/dead-queue-dlq",
        "SQS_SEND_TIMEOUT": SEND_TIMEOUT,
    }


# ---------------------------------------------------------------- OpenSearch


@pytest.fixture
def read_only_index(opensearch, settings):
    """An index of the right shape that refuses writes."""
    index = f"{settings['OPENSEARCH_INDEX']}_ro_{uuid.uuid4().hex[:6]}"
    store.ensure_index(opensearch, index)
    opensearch.indices.put_settings(
        index=index, body={"index": {"blocks": {"write": True}}}
    )
    yield index
    opensearch.indices.put_settings(
        index=index, body={"index": {"blocks": {"write": False}}}
    )
    opensearch.indices.delete(index=index)
    opensearch.indices.delete_index_template(name=store.template_name(index))


def opensearch_failures():
    return {
        "unreachable": lambda index: {
            "OPENSEARCH_URL": f"http://127.0.0.1:{closed_port()}"
        },
        "refusing-writes": lambda index: {"OPENSEARCH_INDEX": index},
    }


@pytest.mark.parametrize("failure", list(opensearch_failures()))
def test_opensearch_failure_shows_503_and_keeps_the_answers(
    settings, opensearch, read_only_index, sqs, purge_queues, failure
):
    overrides = opensearch_failures()[failure](read_only_index)
    client = make_app(settings, **overrides).test_client()
    email = unique_email()
    before = stored_count(opensearch, settings)

    response = submit_answer(client, "Kept <i>while</i> down", email, ip=LOCATABLE_IP)

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "We could not save your answer just now" in page
    assert "Kept &lt;i&gt;while&lt;/i&gt; down" in page
    assert f'value="{email}"' in page
    assert stored_count(opensearch, settings) == before
    opensearch.indices.refresh(index=read_only_index)
    assert opensearch.count(index=read_only_index)["count"] == 0
    assert queued_tasks(sqs, purge_queues) == []


def test_the_503_form_can_be_sent_again_once_opensearch_is_back(settings, opensearch):
    down = make_app(
        settings, OPENSEARCH_URL=f"http://127.0.0.1:{closed_port()}"
    ).test_client()
    email = unique_email()
    failed = submit_answer(down, "Second try", email, ip=LOCATABLE_IP)
    assert failed.status_code == 503

    up = make_app(settings).test_client()
    retried = submit_answer(up, "Second try", email, ip=LOCATABLE_IP)
    assert retried.status_code == 303
    assert len(find_answers(opensearch, settings, email_addr=email)) == 1


# ---------------------------------------------------------------- SQS


@pytest.mark.parametrize("broker", ["closed-port", "never-answers"])
def test_unreachable_queue_still_stores_and_redirects_in_bounded_time(
    settings, opensearch, silent_port, caplog, broker
):
    port = closed_port() if broker == "closed-port" else silent_port
    client = make_app(settings, **broker_at(port)).test_client()
    email = unique_email()

    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        response = submit_answer(client, "Queue is down", email, ip=LOCATABLE_IP)
        elapsed = time.monotonic() - started

    assert response.status_code == 303
    # Generous: botocore makes two attempts, each up to SEND_TIMEOUT, with a
    # backoff of up to a second between them; a hang would take minutes.
    assert elapsed < 3 * SEND_TIMEOUT
    (hit,) = find_answers(opensearch, settings, email_addr=email)
    assert hit["_source"]["geo_status"] == "pending"

    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name == "application"
    ]
    assert len(warnings) == 1
    assert hit["_id"] in warnings[0].getMessage()
    assert "backfill" in warnings[0].getMessage()
    for record in caplog.records:
        text = record.getMessage() + str(record.exc_text or "")
        assert LOCATABLE_IP not in text
        assert email not in text


# ---------------------------------------------------------------- start-up


@pytest.fixture
def geo_keyword_index(opensearch, settings):
    """An index whose `geo` is a keyword, as a hand-made index might have it."""
    index = f"{settings['OPENSEARCH_INDEX']}_bad_{uuid.uuid4().hex[:6]}"
    opensearch.indices.create(
        index=index, body={"mappings": {"properties": {"geo": {"type": "keyword"}}}}
    )
    yield index
    opensearch.indices.delete(index=index)
    opensearch.indices.delete_index_template(
        name=store.template_name(index), ignore=[404]
    )


def run(command, env, timeout=90):
    """Run a command from the repository root; (exit status, its output)."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{command[0]} still running after {timeout} s:\n{output!r}")
    return process.returncode, output.decode(errors="replace")


def environment(settings, **overrides):
    return {**os.environ, **settings, **overrides}


GEO_PROBLEM = "field geo is mapped as keyword, not geo_point"


def test_gunicorn_refuses_an_index_whose_geo_is_not_a_geo_point(
    settings, geo_keyword_index
):
    env = environment(settings, OPENSEARCH_INDEX=geo_keyword_index)
    command = [str(BIN / "gunicorn"), "--bind", "127.0.0.1:0"]

    status, output = run([*command, "application:application"], env)

    assert status != 0
    assert f"index {geo_keyword_index}: {GEO_PROBLEM}" in output
    assert "Booting worker" not in output


def test_init_index_refuses_an_index_whose_geo_is_not_a_geo_point(
    settings, geo_keyword_index
):
    env = environment(settings, OPENSEARCH_INDEX=geo_keyword_index)
    command = [str(BIN / "flask"), "--app", "application", "init-index"]

    status, output = run(command, env)

    assert status != 0
    assert GEO_PROBLEM in output
    assert "Traceback" not in output


def test_gunicorn_starts_and_warns_while_opensearch_is_unreachable(live_server):
    server = live_server(OPENSEARCH_URL=f"http://127.0.0.1:{closed_port()}")

    assert "could not check the index mapping" in server.log()
    assert "starting anyway" in server.log()


def test_gunicorn_starts_against_a_good_index(live_server):
    server = live_server()

    assert "refusing" not in server.log()
    assert "could not check" not in server.log()


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-c", "import application"],
        [str(BIN / "gunicorn"), "--bind", "127.0.0.1:0", "application:application"],
    ],
    ids=["import", "gunicorn"],
)
def test_app_refuses_to_start_without_a_secret_key(settings, command):
    env = environment(settings)
    env.pop("SECRET_KEY")

    status, output = run(command, env)

    assert status != 0
    assert "missing required setting(s): SECRET_KEY" in output
    assert "Traceback" not in output
