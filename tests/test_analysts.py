"""Analyst sign-in, the pages' protection, bad query parameters, escaping and
the erasure action, on the real OpenSearch."""

import logging
import socket

import pytest
from analysts_helpers import (
    ANALYSTS,
    NAME,
    PASSWORD,
    basic,
    csrf_token,
    login,
    place_answer,
)
from conftest import make_app, refresh
from werkzeug.security import check_password_hash, generate_password_hash

from survey import auth

pytest_plugins = ["analysts_fixtures"]

PAGES = ["/answers", "/map", "/answers/erase", "/answers/export.csv"]
PAGES += ["/answers/export.ndjson", "/answers/export.geojson"]
APIS = ["/api/answers", "/api/map", "/api/answers?format=csv"]


@pytest.fixture
def analyst_app(settings, opensearch):
    return make_app(settings, SURVEY_ANALYSTS=ANALYSTS)


@pytest.fixture
def signed_in(analyst_app):
    client = analyst_app.test_client()
    assert login(client).status_code == 303
    return client


# ---------------------------------------------------------------- protection


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_strangers_to_the_login(analyst_app, path):
    response = analyst_app.test_client().get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", APIS)
@pytest.mark.parametrize(
    "headers",
    [{}, basic(password="wrong password"), basic(name="nobody"), basic("", "")],
)
def test_api_answers_401_without_valid_credentials(analyst_app, path, headers):
    response = analyst_app.test_client().get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.get_json()["status"] == 401


@pytest.mark.parametrize("path", APIS)
def test_api_answers_with_basic_credentials(analyst_app, path):
    response = analyst_app.test_client().get(path, headers=basic())

    assert response.status_code == 200


def test_there_is_no_default_password(settings, opensearch):
    app = make_app(settings, SURVEY_ANALYSTS="")
    client = app.test_client()

    assert client.get("/api/answers", headers=basic()).status_code == 401
    assert login(client).status_code == 401
    assert client.get("/answers").status_code == 302


def test_the_quiz_stays_public(analyst_app):
    assert analyst_app.test_client().get("/").status_code == 200


def test_erase_post_without_a_session_deletes_nothing(
    analyst_app, opensearch, settings
):
    index = settings["OPENSEARCH_INDEX"]
    place_answer(opensearch, index, "keep-me-1", "Keep this one")
    client = analyst_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))

    response = client.post(
        "/answers/erase",
        data={
            "csrf_token": token,
            "email": "keep-me-1@example.com",
            "confirm": "erase",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    refresh(opensearch, settings)
    assert opensearch.exists(index=index, id="keep-me-1")


# ---------------------------------------------------------------- sign-in


def test_login_redirects_to_the_page_asked_for(analyst_app):
    client = analyst_app.test_client()

    response = login(client, next_path="/map%3Fq%3Dlonely")

    assert response.status_code == 303
    assert response.headers["Location"] == "/map?q=lonely"
    assert client.get("/map?q=lonely").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/%5C%5Cevil.example", "map"]
)
def test_login_never_redirects_off_site(analyst_app, target):
    response = login(analyst_app.test_client(), next_path=target)

    assert response.status_code == 303
    assert response.headers["Location"] == "/answers"


def test_login_rotates_the_session(analyst_app):
    client = analyst_app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    login(client)

    with client.session_transaction() as session:
        assert "planted" not in session
        first_login = session["login_id"]
    token = csrf_token(client.get("/answers").get_data(as_text=True))
    client.post(
        "/login", data={"csrf_token": token, "name": NAME, "password": PASSWORD}
    )

    with client.session_transaction() as session:
        assert session["analyst"] == NAME
        assert session["login_id"] != first_login


@pytest.mark.parametrize(
    "name, password, status",
    [(NAME, "wrong password", 401), ("nobody", PASSWORD, 401), (NAME, "", 400)],
)
def test_wrong_credentials_do_not_sign_in(analyst_app, name, password, status):
    client = analyst_app.test_client()

    response = login(client, name, password)

    assert response.status_code == status
    assert 'id="login-form"' in response.get_data(as_text=True)
    assert client.get("/answers").status_code == 302


def test_entries_without_a_hash_never_sign_in(settings, opensearch):
    app = make_app(settings, SURVEY_ANALYSTS=f"{NAME}:{PASSWORD}")

    assert login(app.test_client()).status_code == 401
    assert app.test_client().get("/api/map", headers=basic()).status_code == 401


def test_login_without_csrf_token_is_refused(analyst_app):
    client = analyst_app.test_client()

    response = client.post("/login", data={"name": NAME, "password": PASSWORD})

    assert response.status_code == 400
    assert client.get("/answers").status_code == 302


def test_failed_logins_are_rate_limited(settings, opensearch):
    app = make_app(settings, SURVEY_ANALYSTS=ANALYSTS, SURVEY_LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    for _ in range(3):
        assert login(client, password="wrong password").status_code == 401

    refused = login(client)
    api = client.get("/api/answers", headers=basic())

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert api.status_code == 429
    assert client.get("/answers").status_code == 302

    other_address = app.test_client()
    page = other_address.get("/login").get_data(as_text=True)
    response = other_address.post(
        "/login",
        data={"csrf_token": csrf_token(page), "name": NAME, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "127.0.0.2"},
    )
    assert response.status_code == 303


def test_logout_ends_the_session(signed_in):
    token = csrf_token(signed_in.get("/answers").get_data(as_text=True))

    response = signed_in.post("/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert signed_in.get("/answers").status_code == 302


def test_changing_the_password_ends_existing_sessions(analyst_app, signed_in):
    analyst_app.config["SURVEY_ANALYSTS"] = (
        f"{NAME}:{generate_password_hash('a new long password')}"
    )

    assert signed_in.get("/answers").status_code == 302


def test_hash_password_prints_a_hash_that_checks(analyst_app):
    runner = analyst_app.test_cli_runner()

    result = runner.invoke(args=["hash-password"], input="a new long password\n" * 2)

    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    assert check_password_hash(printed, "a new long password")
    assert "a new long password" not in result.output


def test_hash_password_refuses_a_short_password(analyst_app):
    result = analyst_app.test_cli_runner().invoke(
        args=["hash-password"], input="short\nshort\n"
    )

    assert result.exit_code != 0


# ---------------------------------------------------------------- bad input

BAD_PARAMETERS = [
    ("lat=abc&lon=0&distance=5km", "lat"),
    ("lat=91&lon=0&distance=5km", "lat"),
    ("lat=nan&lon=0&distance=5km", "lat"),
    ("lat=1e5&lon=0&distance=5km", "lat"),
    ("lat=0&lon=181&distance=5km", "lon"),
    ("lat=0&lon=Infinity&distance=5km", "lon"),
    ("lat=0&lon=0&distance=-5km", "distance"),
    ("lat=0&lon=0&distance=5parsecs", "distance"),
    ("lat=0&lon=0&distance=0", "distance"),
    ("lat=0&lon=0&distance=99999km", "distance"),
    ("lat=0&lon=0", "distance"),
    ("bbox=1,2,3", "bbox"),
    ("bbox=0,50,10,40", "bbox"),
    ("bbox=a,b,c,d", "bbox"),
    ("since=2025-13-01", "since"),
    ("since=yesterday", "since"),
    ("until=2025-01-01T25:00:00Z", "until"),
    ("since=2025-02-01&until=2025-01-01", "until"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=two", "page"),
    ("page=600&size=20", "page"),
    ("size=100000", "size"),
    ("size=0", "size"),
    ("spam=maybe", "spam"),
    ("located=perhaps", "located"),
    ("sort=oldest", "sort"),
    ("format=xml", "format"),
    ("q=" + "+".join(["word"] * 60), "q"),
    ("q=" + "x" * 600, "q"),
    ("q=a%00b", "q"),
    ("q=a&q=b", "q"),
    ("colour=red", "colour"),
]


@pytest.mark.parametrize("query, parameter", BAD_PARAMETERS)
def test_api_names_the_bad_parameter(analyst_app, query, parameter):
    response = analyst_app.test_client().get(f"/api/answers?{query}", headers=basic())

    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400
    assert any(problem.startswith(f"{parameter}:") for problem in body["problems"])
    assert "opensearch" not in body["error"].lower()


@pytest.mark.parametrize("query, parameter", BAD_PARAMETERS[:12])
def test_map_api_names_the_bad_parameter(analyst_app, query, parameter):
    response = analyst_app.test_client().get(f"/api/map?{query}", headers=basic())

    assert response.status_code == 400
    assert any(p.startswith(f"{parameter}:") for p in response.get_json()["problems"])


@pytest.mark.parametrize("zoom", ["-1", "21", "x", "1.5"])
def test_map_api_checks_the_zoom(analyst_app, zoom):
    response = analyst_app.test_client().get(f"/api/map?zoom={zoom}", headers=basic())

    assert response.status_code == 400
    assert response.get_json()["problems"][0].startswith("zoom:")


@pytest.mark.parametrize("query, parameter", BAD_PARAMETERS[::3])
def test_search_page_shows_the_bad_parameter(signed_in, query, parameter):
    response = signed_in.get(f"/answers?{query}")

    assert response.status_code == 400
    assert f"{parameter}:" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "words",
    ['"unclosed', "((lonely", "lonely~999", "*", "a AND OR NOT", "-", "\\", "&|+"],
)
def test_odd_query_syntax_is_searched_not_an_error(analyst_app, words):
    response = analyst_app.test_client().get(
        "/api/answers", query_string={"q": words}, headers=basic()
    )

    assert response.status_code == 200
    assert "total" in response.get_json()


def test_valid_parameters_are_accepted_together(analyst_app):
    query = (
        "q=lonely&lat=51.5&lon=-0.1&distance=800m&bbox=-10,40,10,60"
        "&since=2020-01-01&until=2030-01-01T00:00:00%2B01:00&spam=show"
        "&located=yes&sort=relevance&page=2&size=5"
    )

    response = analyst_app.test_client().get(f"/api/answers?{query}", headers=basic())

    assert response.status_code == 200
    assert response.get_json()["page"] == 2


# ---------------------------------------------------------------- the page


def test_search_page_escapes_essays_and_marks_matches(signed_in, city_answers):
    signed_in.application.config["OPENSEARCH_INDEX"] = city_answers

    for query in ("q=markup", "q=alert", "sort=newest"):
        page = signed_in.get(f"/answers?{query}").get_data(as_text=True)
        assert "&lt;script&gt;" in page
        assert "<script>alert" not in page
        assert "<img src=x" not in page and '<img src="x"' not in page

    page = signed_in.get("/answers?q=markup").get_data(as_text=True)
    assert "<mark>markup</mark>" in page
    assert "lon-4@example.com" in page
    assert "IP geolocation by DB-IP" in page


def test_map_page_loads_its_scripts_from_files(signed_in):
    page = signed_in.get("/map").get_data(as_text=True)

    assert "vendor/leaflet/leaflet.js" in page
    assert "js/map.js" in page
    assert "<script>" not in page
    assert "IP geolocation by DB-IP" in page
    for path in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/world-atlas/land-110m.json",
        "/static/vendor/topojson-client/topojson-client.min.js",
        "/static/js/map.js",
    ):
        with signed_in.get(path) as response:
            assert response.status_code == 200


# ---------------------------------------------------------------- erasure


def erase(client, email, confirm="erase"):
    token = csrf_token(client.get("/answers/erase").get_data(as_text=True))
    return client.post(
        "/answers/erase",
        data={"csrf_token": token, "email": email, "confirm": confirm},
        follow_redirects=True,
    )


def test_erase_deletes_every_answer_of_the_address(signed_in, opensearch, settings):
    index = settings["OPENSEARCH_INDEX"]
    for doc_id in ("erase-a", "erase-b"):
        place_answer(
            opensearch, index, doc_id, "To be erased", email_addr="Gone@Example.com"
        )
    place_answer(
        opensearch, index, "erase-keep", "Stays", email_addr="stay@example.com"
    )
    refresh(opensearch, settings)

    response = erase(signed_in, "gone@example.com")

    assert response.status_code == 200
    assert "Erased 2 answers" in response.get_data(as_text=True)
    assert not opensearch.exists(index=index, id="erase-a")
    assert not opensearch.exists(index=index, id="erase-b")
    assert opensearch.exists(index=index, id="erase-keep")
    again = erase(signed_in, "gone@example.com")
    assert "Erased 0 answers" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    "email, confirm",
    [("keep@example.com", ""), ("keep@example.com", "yes"), ("not an email", "erase")],
)
def test_erase_needs_a_valid_address_and_the_confirmation(
    signed_in, opensearch, settings, email, confirm
):
    index = settings["OPENSEARCH_INDEX"]
    place_answer(opensearch, index, "erase-kept", "Kept", email_addr="keep@example.com")
    refresh(opensearch, settings)

    response = erase(signed_in, email, confirm)

    assert response.status_code == 400
    assert opensearch.exists(index=index, id="erase-kept")


def test_erase_without_csrf_token_is_refused(signed_in, opensearch, settings):
    index = settings["OPENSEARCH_INDEX"]
    place_answer(opensearch, index, "erase-csrf", "Kept", email_addr="csrf@example.com")

    response = signed_in.post(
        "/answers/erase", data={"email": "csrf@example.com", "confirm": "erase"}
    )

    assert response.status_code == 400
    assert opensearch.exists(index=index, id="erase-csrf")


# ---------------------------------------------------------------- outages


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "path", ["/api/answers", "/api/map", "/api/answers?format=csv"]
)
def test_api_answers_503_when_opensearch_is_down(settings, closed_port, path):
    app = make_app(
        settings,
        SURVEY_ANALYSTS=ANALYSTS,
        OPENSEARCH_URL=f"http://127.0.0.1:{closed_port}",
        OPENSEARCH_TIMEOUT=1.0,
    )

    response = app.test_client().get(path, headers=basic())

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == 503
    assert "127.0.0.1" not in body["error"] and "Connection" not in body["error"]


def test_search_page_503_when_opensearch_is_down(settings, closed_port):
    app = make_app(
        settings,
        SURVEY_ANALYSTS=ANALYSTS,
        OPENSEARCH_URL=f"http://127.0.0.1:{closed_port}",
        OPENSEARCH_TIMEOUT=1.0,
    )
    client = app.test_client()
    login(client)

    response = client.get("/answers?q=lonely")

    assert response.status_code == 503
    assert "briefly unavailable" in response.get_data(as_text=True)


# ---------------------------------------------------------------- edges

DATE_PATHS = ["/api/answers", "/answers", "/answers/export.csv", "/api/map", "/map"]
OUT_OF_RANGE = [
    ("since=9999-12-31T23:59:59-05:00", "since"),
    ("since=0001-01-01T00:00:00%2B05:00", "since"),
    ("until=9999-12-31T23:59:59-05:00", "until"),
    ("until=0001-01-01T00:00:00%2B05:00", "until"),
    ("until=9999-12-31", "until"),
]


@pytest.mark.parametrize("path", DATE_PATHS)
@pytest.mark.parametrize("query, parameter", OUT_OF_RANGE)
def test_dates_past_the_calendar_edge_are_out_of_range(
    signed_in, path, query, parameter
):
    response = signed_in.get(f"{path}?{query}")

    assert response.status_code == 400
    assert f"{parameter}: is out of range" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["since=0001-01-01", "until=9999-12-30", "since=0001-01-01T05:00:00%2B05:00"],
)
def test_dates_at_the_calendar_edge_are_searched(analyst_app, query):
    response = analyst_app.test_client().get(f"/api/answers?{query}", headers=basic())

    assert response.status_code == 200, response.get_json()


HEADER_TRICKS = [
    "/answers%0d%0aSet-Cookie:x=1",
    "/answers%0aLocation:%20//evil.example",
    "/%09/evil.example",
    "/answers%00",
    "/answers%7f",
    "/answers%c2%85",
    "/map%5C..",
]


@pytest.mark.parametrize("target", HEADER_TRICKS)
def test_login_next_with_control_characters_falls_back(analyst_app, target):
    client = analyst_app.test_client()

    posted = login(client, next_path=target)
    again = client.get(f"/login?next={target}")

    assert posted.status_code == 303
    assert posted.headers["Location"] == "/answers"
    assert again.status_code == 302
    assert again.headers["Location"] == "/answers"
    assert "Set-Cookie: x" not in str(again.headers)


def anonymous_requests(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return {
        "login page": client.get("/login"),
        "failed login": client.post(
            "/login", data={"csrf_token": token, "name": NAME, "password": "no"}
        ),
        "login without token": client.post("/login", data={"name": NAME}),
        "page redirect": client.get("/answers"),
        "api 401": client.get("/api/answers"),
    }


def analyst_requests(client):
    token = csrf_token(client.get("/answers").get_data(as_text=True))
    return {
        "search page": client.get("/answers?q=lonely"),
        "bad search": client.get("/answers?page=0"),
        "map page": client.get("/map"),
        "api": client.get("/api/answers"),
        "api problem": client.get("/api/answers?size=0"),
        "map api": client.get("/api/map"),
        "erase page": client.get("/answers/erase"),
        "export": client.get("/answers/export.csv"),
        "unknown export": client.get("/answers/export.xlsx"),
        "signed in login": client.get("/login"),
        "logout": client.post("/logout", data={"csrf_token": token}),
    }


def test_every_analyst_response_is_not_stored(analyst_app, signed_in):
    responses = anonymous_requests(analyst_app.test_client())
    responses.update(analyst_requests(signed_in))

    stored = {
        name: response.headers.get("Cache-Control")
        for name, response in responses.items()
        if response.headers.get("Cache-Control") != "no-store"
    }
    assert stored == {}


def test_the_quiz_is_not_marked_no_store(analyst_app):
    assert "no-store" not in analyst_app.test_client().get("/").headers.get(
        "Cache-Control", ""
    )


LOOSE_NUMBERS = [
    ("/api/answers?size=%D9%A1%D9%A2", "size"),
    ("/api/answers?size=5%0A", "size"),
    ("/api/answers?size=%205", "size"),
    ("/api/answers?page=%D9%A2", "page"),
    ("/api/answers?page=2%0A", "page"),
    ("/api/map?zoom=%D9%A3", "zoom"),
    ("/api/map?zoom=3%0A", "zoom"),
    ("/api/answers?lat=%D9%A1&lon=0&distance=5km", "lat"),
    ("/api/answers?lat=1&lon=0&distance=%D9%A5km", "distance"),
    ("/api/map?format=json", "format"),
    ("/api/map?located=no", "located"),
]


@pytest.mark.parametrize("path, parameter", LOOSE_NUMBERS)
def test_api_takes_plain_ascii_numbers_and_its_own_parameters(
    analyst_app, path, parameter
):
    response = analyst_app.test_client().get(path, headers=basic())

    assert response.status_code == 400
    assert any(p.startswith(f"{parameter}:") for p in response.get_json()["problems"])


def test_map_api_says_it_shows_located_answers_only(analyst_app):
    response = analyst_app.test_client().get("/api/map?located=no", headers=basic())

    assert "located answers only" in response.get_json()["error"]
    assert analyst_app.test_client().get(
        "/api/map?located=yes", headers=basic()
    ).status_code == (200)


@pytest.mark.parametrize("kind", ["csv", "ndjson", "geojson"])
@pytest.mark.parametrize("value", ["json", "csv", ""])
def test_export_pages_refuse_a_format_parameter(signed_in, kind, value):
    response = signed_in.get(f"/answers/export.{kind}?format={value}")

    assert response.status_code == 400
    assert "format:" in response.get_data(as_text=True)
    assert "attachment" not in response.headers.get("Content-Disposition", "")


@pytest.mark.parametrize("path", ["/answers?format=csv", "/map?format=json"])
def test_pages_refuse_a_format_parameter(signed_in, path):
    response = signed_in.get(path)

    assert response.status_code == 400
    assert "format:" in response.get_data(as_text=True)


# ---------------------------------------------------------------- lockouts


def test_a_full_failure_table_forgets_only_its_oldest_addresses():
    table = auth.FailureLimiter()
    table.record("203.0.113.1")
    for _ in range(3):
        table.record("203.0.113.2")

    for number in range(auth.MAX_ADDRESSES - 1):
        table.record(f"10.{number // 65536}.{number // 256 % 256}.{number % 256}")

    assert len(table.failures) == auth.MAX_ADDRESSES
    assert table.retry_after("203.0.113.1", 1, 600) == 0
    assert table.retry_after("203.0.113.2", 3, 600) > 0
    assert table.retry_after("10.0.0.0", 1, 600) > 0


def test_a_new_failure_makes_an_address_the_newest():
    table = auth.FailureLimiter(capacity=2)
    table.record("first")
    table.record("second")
    table.record("first")

    table.record("third")

    assert list(table.failures) == ["first", "third"]


def test_failed_logins_are_logged_with_route_and_name_digest(analyst_app, caplog):
    caplog.set_level(logging.INFO, logger="survey.auth")
    client = analyst_app.test_client()
    login(client, name="someone.secret", password="wrong password")
    client.get(
        "/api/answers",
        headers=basic("someone.secret", "wrong"),
        environ_base={"REMOTE_ADDR": "192.0.2.77"},
    )
    login(client, name="someone.else", password="wrong password")

    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 3
    assert "/login" in failures[0] and "/api/answers" in failures[1]
    digest = failures[0].rsplit(" ", 1)[-1]
    assert len(digest) >= 8 and failures[1].endswith(digest)
    assert not failures[2].endswith(digest)
    assert "someone" not in caplog.text
    assert "192.0.2.77" not in caplog.text and "127.0.0.1" not in caplog.text


def test_login_id_ties_sign_in_actions_and_sign_out_in_the_log(signed_in, caplog):
    caplog.set_level(logging.INFO)
    with signed_in.session_transaction() as session:
        login_id = session["login_id"]

    signed_in.get("/answers/export.ndjson").get_data()
    erase(signed_in, "nobody-at-all@example.com")
    token = csrf_token(signed_in.get("/answers").get_data(as_text=True))
    signed_in.post("/logout", data={"csrf_token": token})

    tagged = [r.getMessage() for r in caplog.records if login_id in r.getMessage()]
    assert any("export" in message for message in tagged)
    assert any("erased" in message for message in tagged)
    assert any("signed out" in message for message in tagged)


# ---------------------------------------------------------------- SURVEY_ANALYSTS


@pytest.mark.parametrize("mistake", ["hunter2-secret-pw", "bob=secret-pw"])
def test_an_entry_without_a_hash_is_logged_by_position_only(
    settings, opensearch, caplog, mistake
):
    app = make_app(settings, SURVEY_ANALYSTS=f"{ANALYSTS},{mistake}")
    caplog.set_level(logging.DEBUG)
    client = app.test_client()

    assert login(client).status_code == 303
    assert "SURVEY_ANALYSTS entry 2 has no password hash" in caplog.text
    assert "secret" not in caplog.text


def test_an_unknown_hash_method_is_skipped_not_a_500(settings, opensearch, caplog):
    unknown = "alice:bcrypt$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    app = make_app(settings, SURVEY_ANALYSTS=f"{unknown},{ANALYSTS}")
    caplog.set_level(logging.DEBUG)
    client = app.test_client()

    refused = login(client, name="alice", password="anything at all")
    basic_refused = client.get("/api/answers", headers=basic("alice", "anything"))

    assert refused.status_code == 401
    assert basic_refused.status_code == 401
    assert "SURVEY_ANALYSTS entry 1 uses a hash method" in caplog.text
    assert "R9h/cIPz0gi" not in caplog.text
    assert login(client).status_code == 303


def test_the_map_lists_a_cluster_within_the_page_size_limit(settings, opensearch):
    app = make_app(settings, SURVEY_ANALYSTS=ANALYSTS, SURVEY_SEARCH_MAX_PAGE_SIZE=20)
    client = app.test_client()
    assert login(client).status_code == 303

    page = client.get("/map").get_data(as_text=True)
    listed = client.get("/api/answers?located=yes&size=20")

    assert 'data-max-page-size="20"' in page
    assert listed.status_code == 200
