"""The quiz against the real OpenSearch and ElasticMQ: good and bad input."""

import http.client
import io
import re
import time
import uuid
from urllib.parse import urlencode

import pytest
from conftest import answer_id, find_answers, make_app, quiz_form, submit_answer
from quiz_helpers import (
    index_operations,
    old_csrf_token,
    old_form_token,
    queued_tasks,
    stored_count,
    unique_email,
)

pytest_plugins = ["live"]
pytestmark = pytest.mark.usefixtures("empty_queue_afterwards")


LOCATABLE_IP = "81.2.69.142"
DAY = 86400


@pytest.fixture
def count(opensearch, settings):
    return lambda: stored_count(opensearch, settings)


def page_text(response):
    return response.get_data(as_text=True)


def only_answer(opensearch, settings, email):
    (hit,) = find_answers(opensearch, settings, email_addr=email)
    return hit


# ---------------------------------------------------------------- good input


def test_get_shows_the_question_and_the_counter(client):
    response = client.get("/")

    page = page_text(response)
    assert response.status_code == 200
    assert "Which console won the 1991 console war" in page
    assert 'id="essay-counter"' in page
    assert 'data-max-chars="2048"' in page
    # The CSP allows no inline code: every script is a file, no style inline.
    assert not re.search(r"<script(?![^>]*\ssrc=)", page)
    assert " style=" not in page


def test_question_comes_from_configuration(settings, opensearch):
    app = make_app(settings, SURVEY_QUESTION="Mega Drive <or> SNES?")

    page = page_text(app.test_client().get("/"))
    assert "Mega Drive &lt;or&gt; SNES?" in page


def test_valid_answer_is_stored_enqueued_and_redirected(
    client, opensearch, settings, sqs, purge_queues
):
    email = unique_email()
    response = submit_answer(client, "Blast processing", email, ip=LOCATABLE_IP)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/thanks")
    hit = only_answer(opensearch, settings, email)
    source = hit["_source"]
    assert source["essay_question"] == "Blast processing"
    assert source["client_ip_addr"] == LOCATABLE_IP
    assert source["is_spam"] is False
    assert source["geo_status"] == "pending"
    assert source["tags"] == ["v1"]
    assert queued_tasks(sqs, purge_queues) == [
        ("tasks.get_location", [hit["_id"], LOCATABLE_IP])
    ]
    assert "Thank you!" in page_text(client.get(response.headers["Location"]))


def test_a_submission_makes_one_write_and_one_send(
    client, opensearch, settings, sqs, purge_queues
):
    before = index_operations(opensearch, settings)
    response = submit_answer(client, "One of each", unique_email(), ip=LOCATABLE_IP)
    after = index_operations(opensearch, settings)

    assert response.status_code == 303
    writes, gets, searches = (new - old for new, old in zip(after, before, strict=True))
    assert (writes, gets, searches) == (1, 0, 0)
    assert len(queued_tasks(sqs, purge_queues)) == 1


def test_double_post_of_one_form_stores_one_answer(
    client, opensearch, settings, sqs, purge_queues
):
    email = unique_email()
    data = {
        **quiz_form(client),
        "essay_question": "Clicked twice",
        "email_addr": email,
        "website": "",
    }
    environ = {"REMOTE_ADDR": LOCATABLE_IP}

    first = client.post("/", data=data, environ_base=environ)
    second = client.post("/", data=data, environ_base=environ)

    assert (first.status_code, second.status_code) == (303, 303)
    hit = only_answer(opensearch, settings, email)
    assert hit["_id"] == answer_id(data["form_token"], settings["SECRET_KEY"])
    assert queued_tasks(sqs, purge_queues) == [
        ("tasks.get_location", [hit["_id"], LOCATABLE_IP])
    ]


@pytest.mark.parametrize(
    "essay, stored",
    [
        ("a" * 2048, "a" * 2048),
        ("🎮" * 2048, "🎮" * 2048),
        ("x" * 2046 + "\r\n" + "y", "x" * 2046 + "\n" + "y"),
        ("Ünïcödé, 漢字 and ‮right-to-left", "Ünïcödé, 漢字 and ‮right-to-left"),
    ],
    ids=["2048-ascii", "2048-emoji", "2048-with-crlf", "non-latin"],
)
def test_essays_up_to_the_limit_are_stored_as_typed(
    client, opensearch, settings, essay, stored
):
    email = unique_email()
    response = submit_answer(client, essay, email, ip=LOCATABLE_IP)

    assert response.status_code == 303
    assert only_answer(opensearch, settings, email)["_source"]["essay_question"] == (
        stored
    )


def test_email_is_stored_as_typed_and_found_in_any_case(client, opensearch, settings):
    email = f"Mixed.Case-{uuid.uuid4().hex[:8]}@Example.COM"
    response = submit_answer(client, "Case", f"  {email} ", ip=LOCATABLE_IP)

    assert response.status_code == 303
    hit = only_answer(opensearch, settings, email.lower())
    assert hit["_source"]["email_addr"] == email


# ---------------------------------------------------------------- spam signals


def test_filled_honeypot_is_stored_as_spam_and_not_located(
    client, opensearch, settings, sqs, purge_queues
):
    email = unique_email()
    response = submit_answer(
        client, "Buy now", email, ip=LOCATABLE_IP, website="http://spam.example"
    )

    assert response.status_code == 303
    source = only_answer(opensearch, settings, email)["_source"]
    assert source["is_spam"] is True
    assert source["spam_reasons"] == ["honeypot"]
    assert source["geo_status"] == "skipped"
    assert queued_tasks(sqs, purge_queues) == []


def fill_time_app(settings):
    return make_app(settings, SURVEY_MIN_FILL_SECONDS=3.0)


def test_too_fast_form_is_stored_as_spam_and_not_located(
    settings, opensearch, sqs, purge_queues
):
    client = fill_time_app(settings).test_client()
    email = unique_email()
    response = submit_answer(client, "Instant", email, ip=LOCATABLE_IP)

    assert response.status_code == 303
    source = only_answer(opensearch, settings, email)["_source"]
    assert source["is_spam"] is True
    assert source["spam_reasons"] == ["too_fast"]
    assert source["geo_status"] == "skipped"
    assert queued_tasks(sqs, purge_queues) == []


def test_form_filled_at_human_speed_is_not_spam(
    settings, opensearch, sqs, purge_queues
):
    client = fill_time_app(settings).test_client()
    email = unique_email()
    doc_id = uuid.uuid4().hex
    token = old_form_token(settings["SECRET_KEY"], doc_id, seconds=30)
    response = submit_answer(
        client, "Pondered", email, ip=LOCATABLE_IP, form_token=token
    )

    assert response.status_code == 303
    hit = only_answer(opensearch, settings, email)
    assert hit["_id"] == doc_id
    assert hit["_source"]["is_spam"] is False
    assert queued_tasks(sqs, purge_queues) == [
        ("tasks.get_location", [doc_id, LOCATABLE_IP])
    ]


# ---------------------------------------------------------------- bad input


def fresh_fields(client, essay="Some answer", email=None):
    return {
        **quiz_form(client),
        "essay_question": essay,
        "email_addr": email or unique_email(),
        "website": "",
    }


def without(fields, name):
    return {key: value for key, value in fields.items() if key != name}


def stale_csrf(client, fields, settings):
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    return {
        **fields,
        "csrf_token": old_csrf_token(settings["SECRET_KEY"], raw, DAY + 60),
    }


def csrf_of_another_session(client, fields, settings):
    other = client.application.test_client()
    return {**fields, "csrf_token": quiz_form(other)["csrf_token"]}


def forged_form_token(client, fields, settings):
    forged = old_form_token("not-the-secret", uuid.uuid4().hex, seconds=30)
    return {**fields, "form_token": forged}


def stale_form_token(client, fields, settings):
    stale = old_form_token(settings["SECRET_KEY"], uuid.uuid4().hex, DAY + 60)
    return {**fields, "form_token": stale}


def replaced(name, value):
    return lambda client, fields, settings: {**fields, name: value}


def dropped(name):
    return lambda client, fields, settings: without(fields, name)


KEPT_ESSAY = "Kept <b>answer</b>"
EXPIRED = "This form has expired"
NO_ANSWER = "Please write an answer."
TOO_LONG = "Please keep your answer to 2,048 characters (it has 2,049)."
UNKNOWN = "The form contained fields this page does not know."
BAD_FORMS = {
    "missing-csrf": (dropped("csrf_token"), EXPIRED),
    "stale-csrf": (stale_csrf, EXPIRED),
    "csrf-of-another-session": (csrf_of_another_session, EXPIRED),
    "missing-form-token": (dropped("form_token"), EXPIRED),
    "forged-form-token": (forged_form_token, EXPIRED),
    "stale-form-token": (stale_form_token, EXPIRED),
    "empty-essay": (replaced("essay_question", ""), NO_ANSWER),
    "blank-essay": (replaced("essay_question", " \r\n\t "), NO_ANSWER),
    "missing-essay": (dropped("essay_question"), NO_ANSWER),
    "empty-email": (replaced("email_addr", ""), "Please enter your email address."),
    "2049-ascii": (replaced("essay_question", "a" * 2049), TOO_LONG),
    "2049-emoji": (replaced("essay_question", "🎮" * 2049), TOO_LONG),
    "2049-with-crlf": (
        replaced("essay_question", "x" * 2047 + "\r\n" + "y"),
        TOO_LONG,
    ),
    "control-character": (
        replaced("essay_question", "nul\x00byte"),
        "Please remove the control characters from the text.",
    ),
    "c1-control-character": (
        replaced("essay_question", "next\x85line"),
        "Please remove the control characters from the text.",
    ),
    "unexpected-field": (replaced("is_spam", "false"), UNKNOWN),
    "overriding-the-address": (replaced("client_ip_addr", "8.8.8.8"), UNKNOWN),
}
BAD_EMAILS = [
    "not-an-email",
    "two@@example.com",
    "taker@",
    "@example.com",
    "taker@example.com\r\nBcc: victim@example.com",
    "a" * 250 + "@example.com",
]


@pytest.mark.parametrize("case", list(BAD_FORMS), ids=list(BAD_FORMS))
def test_bad_form_is_refused_with_a_message_and_nothing_stored(
    client, settings, count, case
):
    change, message = BAD_FORMS[case]
    fields = change(client, fresh_fields(client, essay=KEPT_ESSAY), settings)
    before = count()

    response = client.post("/", data=fields)

    page = page_text(response)
    assert response.status_code == 400
    assert message in page
    assert count() == before
    if fields.get("essay_question") == KEPT_ESSAY:
        assert "Kept &lt;b&gt;answer&lt;/b&gt;" in page


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_invalid_email_is_refused_and_the_answer_kept(client, count, email):
    fields = fresh_fields(client, essay="Kept answer", email=email)
    before = count()

    response = client.post("/", data=fields)

    page = page_text(response)
    assert response.status_code == 400
    assert (
        "Please enter a valid email address." in page
        or "That email address is too long." in page
    )
    assert "Kept answer" in page
    assert count() == before


def encoded_body(fields, essay_bytes):
    """A urlencoded body whose essay is exactly `essay_bytes`."""
    return urlencode(without(fields, "essay_question")).encode() + (
        b"&essay_question=" + essay_bytes
    )


NOT_UNICODE = "not valid Unicode"
UNKNOWN_FIELDS = "fields this page does not know"
RAW_ESSAYS = {
    "ff-fe": (b"%FF%FE", NOT_UNICODE),
    "latin-1": (b"caf%E9", NOT_UNICODE),
    "surrogate": (b"%ED%A0%80", NOT_UNICODE),
    "overlong": (b"%C0%AF", NOT_UNICODE),
    "raw-bytes": (b"raw\xff\xfebytes", NOT_UNICODE),
    "repeated-field": (b"first&essay_question=second", UNKNOWN_FIELDS),
}


@pytest.mark.parametrize("case", list(RAW_ESSAYS), ids=list(RAW_ESSAYS))
def test_malformed_body_is_refused_and_nothing_stored(client, count, case):
    essay_bytes, message = RAW_ESSAYS[case]
    body = encoded_body(fresh_fields(client), essay_bytes)
    before = count()

    response = client.post(
        "/", data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert message in page_text(response)
    assert count() == before


def test_multipart_body_is_refused(client, count):
    fields = fresh_fields(client, essay="Sent as multipart")
    fields["attachment"] = (io.BytesIO(b"file"), "essay.txt")
    before = count()

    response = client.post("/", data=fields, content_type="multipart/form-data")

    page = page_text(response)
    assert response.status_code == 415
    assert "encoding this page does not accept" in page
    assert "Sent as multipart" in page
    assert count() == before


def test_body_of_megabytes_gets_a_friendly_413(client, count):
    fields = fresh_fields(client, essay="a" * (5 * 1024 * 1024))
    before = count()

    response = client.post("/", data=fields)

    assert response.status_code == 413
    assert "too large for this page" in page_text(response)
    assert count() == before


def test_body_of_megabytes_is_answered_not_reset_by_gunicorn(live_server, count):
    server = live_server()
    port = int(server.url.rsplit(":", 1)[1])
    body = b"essay_question=" + b"a" * (5 * 1024 * 1024)
    before = count()

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        page = response.read().decode()
    finally:
        connection.close()

    assert response.status == 413
    assert "too large for this page" in page
    assert count() == before


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_refused(client, count, method):
    before = count()

    response = client.open("/", method=method, data=fresh_fields(client))

    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {
        "GET",
        "POST",
    }
    assert "does not accept that kind of request" in page_text(response)
    assert count() == before


def test_script_markup_is_escaped_when_the_form_comes_back(client, count):
    essay = "<script>alert('essay')</script>"
    email = '"><script>alert("email")</script>'
    before = count()

    response = client.post("/", data=fresh_fields(client, essay=essay, email=email))

    page = page_text(response)
    assert response.status_code == 400
    assert "&lt;script&gt;alert(&#39;essay&#39;)&lt;/script&gt;" in page
    assert "alert('essay')" not in page
    assert 'alert("email")' not in page
    assert count() == before


def test_error_pages_have_a_strict_content_security_policy(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert "There is no page at this address." in page_text(response)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


# ---------------------------------------------------------------- client IP


@pytest.mark.parametrize(
    "trusted, forwarded_for, stored",
    [
        (0, "216.160.83.56", LOCATABLE_IP),
        (1, "216.160.83.56", "216.160.83.56"),
        (1, "89.160.20.112, 216.160.83.56", "216.160.83.56"),
    ],
    ids=["untrusted-header-ignored", "one-proxy", "forged-then-real"],
)
def test_client_address_honours_only_trusted_proxies(
    settings, opensearch, sqs, purge_queues, trusted, forwarded_for, stored
):
    client = make_app(settings, SURVEY_TRUSTED_PROXIES=trusted).test_client()
    email = unique_email()
    data = fresh_fields(client, essay="Where am I", email=email)

    response = client.post(
        "/",
        data=data,
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": LOCATABLE_IP},
    )

    assert response.status_code == 303
    hit = only_answer(opensearch, settings, email)
    assert hit["_source"]["client_ip_addr"] == stored
    assert queued_tasks(sqs, purge_queues) == [
        ("tasks.get_location", [hit["_id"], stored])
    ]


def test_loopback_address_is_stored_but_not_located(
    client, opensearch, settings, sqs, purge_queues
):
    email = unique_email()
    response = submit_answer(client, "From here", email, ip="127.0.0.1")

    assert response.status_code == 303
    source = only_answer(opensearch, settings, email)["_source"]
    assert source["client_ip_addr"] == "127.0.0.1"
    assert source["geo_status"] == "unlocatable"
    assert queued_tasks(sqs, purge_queues) == []


@pytest.mark.parametrize("with_token", [True, False], ids=["csrf-header", "no-csrf"])
@pytest.mark.parametrize("body", ['{"essay_question": "x"}', "{not json"])
def test_json_body_is_refused_with_415(client, count, body, with_token):
    headers = {"X-CSRFToken": fresh_fields(client)["csrf_token"]} if with_token else {}
    before = count()

    response = client.post(
        "/", data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 415
    assert "encoding this page does not accept" in page_text(response)
    assert count() == before


def test_head_of_the_quiz_answers_like_get(client):
    response = client.head("/")

    assert response.status_code == 200
    assert response.get_data() == b""


def test_a_form_sent_again_requeues_an_answer_still_pending(
    settings, opensearch, sqs, purge_queues
):
    client = make_app(settings, SQS_SEND_TIMEOUT=0.2).test_client()
    data = {
        **quiz_form(client),
        "essay_question": "Sent again after a lost task",
        "email_addr": unique_email(),
        "website": "",
    }
    environ = {"REMOTE_ADDR": LOCATABLE_IP}
    client.post("/", data=data, environ_base=environ)
    sqs.purge_queue(QueueUrl=purge_queues["url"])
    time.sleep(0.5)

    again = client.post("/", data=data, environ_base=environ)

    doc_id = answer_id(data["form_token"], settings["SECRET_KEY"])
    assert again.status_code == 303
    assert queued_tasks(sqs, purge_queues) == [
        ("tasks.get_location", [doc_id, LOCATABLE_IP])
    ]


def test_dropping_addresses_covers_answers_that_cannot_be_located(
    settings, opensearch, sqs, purge_queues
):
    client = make_app(settings, SURVEY_DROP_IP_AFTER_LOCATE=True).test_client()
    email = unique_email()

    response = submit_answer(client, "From a private network", email, ip="10.1.2.3")

    source = only_answer(opensearch, settings, email)["_source"]
    assert response.status_code == 303
    assert source["geo_status"] == "unlocatable"
    assert source["client_ip_addr"] is None
    assert queued_tasks(sqs, purge_queues) == []
