"""No email address, IP address or essay text in any log, at DEBUG, on the
happy path and on the error paths, in the app, under gunicorn and in the worker."""

import base64
import http.cookiejar
import logging
import socket
import sys
import urllib.parse
import urllib.request
import uuid

import pytest
from conftest import (
    find_answers,
    hidden_value,
    make_app,
    submit_answer,
    wait_for,
)
from geo_standin import GeoStandin
from live import live_server  # noqa: F401

from config import load_config
from survey.broker import LOCATE_TASK, make_celery
from survey.logs import EMAIL_MARK, IP_MARK, RedactingFilter, redact


class Taker:
    """Distinctive personal data for one submission, easy to look for in logs."""

    def __init__(self, ip):
        tag = uuid.uuid4().hex[:10]
        self.email = f"pii-{tag}@leak-probe.example"
        self.essay = f"Quokka essay {tag} about blast processing"
        self.ip = ip

    def values(self):
        return (self.email, self.essay, self.ip)


def closed_port():
    """A loopback port nothing listens on: bound by us, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_personal_data(text, takers):
    for taker in takers:
        for value in taker.values():
            assert value.lower() not in text.lower()

    # The filter is only a second line of defence: nothing should reach it.
    assert EMAIL_MARK not in text
    assert IP_MARK not in text


def find_by_essay(opensearch, settings, essay, status):
    hits = find_answers(opensearch, settings, geo_status=status)
    return [hit for hit in hits if hit["_source"]["essay_question"] == essay]


def post_through_gunicorn(server, taker):
    """GET then POST the quiz like a browser behind one proxy."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
    )
    with opener.open(server.url + "/", timeout=10) as page:
        html = page.read().decode()

    form = {
        "csrf_token": hidden_value(html, "csrf_token"),
        "form_token": hidden_value(html, "form_token"),
        "essay_question": taker.essay,
        "email_addr": taker.email,
        "website": "",
    }
    request = urllib.request.Request(
        server.url + "/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"X-Forwarded-For": taker.ip},
    )
    with opener.open(request, timeout=10) as response:
        return response.status, response.url


def send_malformed_messages(settings, sqs, queue_url, taker):
    """An undecodable SQS body and a task whose arguments are not valid."""
    garbage = f"not a task: {taker.email} {taker.ip} {taker.essay}"
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=base64.b64encode(garbage.encode()).decode()
    )

    celery = make_celery(load_config(settings))
    result = celery.send_task(LOCATE_TASK, args=["not an id!", taker.email])
    return result.id


@pytest.mark.usefixtures("purge_queues")
def test_no_personal_data_in_any_log_at_debug(
    settings,
    opensearch,
    sqs,
    queues,
    start_worker,
    live_server,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    located = Taker("216.160.83.56")
    failing = Taker("89.160.20.112")
    malformed = Taker("2001:218::4")
    no_search = Taker("81.2.69.142")
    no_queue = Taker("81.2.69.160")
    proxied = Taker("216.160.83.61")
    takers = [located, failing, malformed, no_search, no_queue, proxied]

    with GeoStandin() as geo_api:
        worker = start_worker(
            loglevel="DEBUG",
            LOG_LEVEL="DEBUG",
            GEO_PROVIDER="rest",
            GEO_REST_URL=geo_api.url,
        )
        client = make_app(settings, LOG_LEVEL="DEBUG").test_client()

        response = submit_answer(client, located.essay, located.email, located.ip)
        assert response.status_code == 303
        wait_for(
            lambda: find_by_essay(opensearch, settings, located.essay, "located"),
            what="the answer to be located",
        )

        geo_api.set(mode="error")
        response = submit_answer(client, failing.essay, failing.email, failing.ip)
        assert response.status_code == 303
        wait_for(
            lambda: find_by_essay(opensearch, settings, failing.essay, "failed"),
            timeout=60,
            what="the lookup to fail for good",
        )

        task_id = send_malformed_messages(settings, sqs, queues["url"], malformed)
        wait_for(
            lambda: (
                "survey.consumer: moved a" in worker.log()
                and f"task {task_id} moved" in worker.log()
            ),
            timeout=60,
            what="the worker to set both malformed messages aside",
        )

    down = str(closed_port())
    search_down = make_app(
        settings, LOG_LEVEL="DEBUG", OPENSEARCH_URL=f"http://127.0.0.1:{down}"
    ).test_client()
    response = submit_answer(
        search_down, no_search.essay, no_search.email, no_search.ip
    )
    assert response.status_code == 503

    queue_down = make_app(
        settings,
        LOG_LEVEL="DEBUG",
        CELERY_BROKER_URL=f"sqs://test:test@127.0.0.1:{down}",
        SQS_QUEUE_URL=f"http://127.0.0.1:{down}/000000000000/{queues['name']}",
        SQS_SEND_TIMEOUT=1.0,
    ).test_client()
    response = submit_answer(queue_down, no_queue.essay, no_queue.email, no_queue.ip)
    assert response.status_code == 303

    server = live_server(LOG_LEVEL="DEBUG", SURVEY_TRUSTED_PROXIES=1)
    status, landed = post_through_gunicorn(server, proxied)
    assert (status, landed) == (200, server.url + "/thanks")
    (stored,) = find_by_essay(opensearch, settings, proxied.essay, "pending")
    assert stored["_source"]["client_ip_addr"] == proxied.ip

    logs = {"app": caplog.text, "worker": worker.log(), "gunicorn": server.log()}
    assert "could not store answer" in logs["app"]
    assert "could not enqueue geolocation" in logs["app"]
    assert "failed for good" in logs["worker"]
    assert f"{task_id}] received" in logs["worker"]
    for name, text in logs.items():
        assert text, f"nothing was logged by the {name}"
        assert_no_personal_data(text, takers)


# ---------------------------------------------------------------- the filter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 81.2.69.142:443", "from [ip]:443"),
        ("lookup of 2001:218:1234::9 failed", "lookup of [ip] failed"),
        ("peer [2001:db8::1]:80", "peer [[ip]]:80"),
        ("net 2001:218:1234::/48.", "net [ip]/48."),
        ("mapped ::ffff:81.2.69.142", "mapped [ip]"),
        ("GET /json/89.160.20.112 HTTP/1.1", "GET /json/[ip] HTTP/1.1"),
        ("to Ann.Lee+quiz@Mail.Example.co.uk.", "to [email]."),
        ("q=ann%40example.com&x=1", "q=[email]&x=1"),
        ("loopback 127.0.0.1 and ::1 stay", "loopback 127.0.0.1 and ::1 stay"),
        ("at 12:34:56.789 v1.2.3", "at 12:34:56.789 v1.2.3"),
        ("celery@worker-1 ready", "celery@worker-1 ready"),
        ("sqs://user:**@127.0.0.1:9324//", "sqs://user:**@127.0.0.1:9324//"),
        ("sqs://user:**@10.0.0.7:9324//", "sqs://user:**@[ip]:9324//"),
        ("ann@xn--bcher-kva.example", "[email]"),
        ("mac aa:bb:cc:dd:ee:ff", "mac aa:bb:cc:dd:ee:ff"),
        ("version 1.2.3.4.5", "version 1.2.3.4.5"),
    ],
)
def test_redact_replaces_addresses_only(text, expected):
    assert redact(text) == expected


def test_the_filter_cleans_message_arguments_traceback_and_celery_data():
    try:
        raise ValueError("bad address 81.2.69.142 for ann@example.com")
    except ValueError:
        record = logging.LogRecord(
            "probe",
            logging.ERROR,
            __file__,
            1,
            "task %(id)s for %(ip)s",
            ({"id": "abc", "ip": "2001:218::4"},),
            exc_info=sys.exc_info(),
        )
    record.data = {"args": "('abc', '81.2.69.142')"}

    assert RedactingFilter().filter(record) is True

    formatted = logging.Formatter().format(record)
    assert "task abc for [ip]" in formatted
    assert "bad address [ip] for [email]" in formatted
    assert record.data == {"args": "('abc', '[ip]')"}
    assert record.args is None


def test_the_filter_survives_a_message_that_does_not_format():
    record = logging.makeLogRecord(
        {"name": "probe", "msg": "%d items for ann@example.com", "args": ("x",)}
    )

    assert RedactingFilter().filter(record) is True
    assert "ann@example.com" not in logging.Formatter().format(record)
