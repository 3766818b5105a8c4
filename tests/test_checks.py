"""`flask check-config`, `/healthz` and `/readyz` against the real services."""

import pytest
from conftest import make_app

CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def good_settings(settings):
    return {**settings, "SURVEY_ANALYSTS": "analyst:pbkdf2:sha256:1$x$y"}


def run_check(settings, **overrides):
    app = make_app(settings, **overrides)
    return app.test_cli_runner().invoke(args=["check-config"])


def test_check_config_reports_all_good_on_the_local_stack(good_settings, opensearch):
    result = run_check(good_settings)

    assert result.exit_code == 0, result.stderr
    assert "all good" in result.output


def test_check_config_names_each_problem(good_settings, opensearch):
    result = run_check(
        good_settings,
        OPENSEARCH_URL=CLOSED_PORT,
        SQS_QUEUE_URL=good_settings["SQS_QUEUE_URL"] + "-missing",
        SURVEY_ANALYSTS="",
    )

    assert result.exit_code == 1
    assert f"OpenSearch is unreachable at {CLOSED_PORT}" in result.stderr
    missing_queue = good_settings["SQS_QUEUE_URL"] + "-missing"
    assert f"queue {missing_queue} does not exist" in result.stderr
    assert "SURVEY_ANALYSTS is not set" in result.stderr


def test_check_config_finds_a_geo_field_that_is_not_a_geo_point(
    good_settings, opensearch
):
    index = good_settings["OPENSEARCH_INDEX"] + "-badgeo"
    opensearch.indices.create(
        index=index, body={"mappings": {"properties": {"geo": {"type": "keyword"}}}}
    )
    try:
        result = run_check(good_settings, OPENSEARCH_INDEX=index)
    finally:
        opensearch.indices.delete(index=index)

    assert result.exit_code == 1
    assert "geo is mapped as keyword, not geo_point" in result.stderr


def test_healthz_answers_without_touching_services(settings):
    app = make_app(settings, OPENSEARCH_URL=CLOSED_PORT)

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_service(settings, opensearch):
    ready = make_app(settings).test_client().get("/readyz")
    broken = make_app(settings, OPENSEARCH_URL=CLOSED_PORT).test_client().get("/readyz")

    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "opensearch": "ok", "sqs": "ok"}
    assert broken.status_code == 503
    assert broken.get_json()["opensearch"] == "failing"
    assert broken.get_json()["sqs"] == "ok"


def test_init_index_adds_fields_missing_from_an_existing_index(settings, opensearch):
    from survey import store

    index = settings["OPENSEARCH_INDEX"] + "-older"
    body = store.index_body()
    del body["mappings"]["properties"]["geo_enqueued_at"]
    opensearch.indices.create(index=index, body=body)
    try:
        app = make_app(settings, OPENSEARCH_INDEX=index)
        result = app.test_cli_runner().invoke(args=["init-index"])
        found = opensearch.indices.get_mapping(index=index)[index]["mappings"]
    finally:
        opensearch.indices.delete(index=index)
        opensearch.indices.delete_index_template(
            name=store.template_name(index), ignore=[404]
        )

    assert result.exit_code == 0, result.output
    assert found["properties"]["geo_enqueued_at"]["type"] == "date"
