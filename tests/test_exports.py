"""Streamed exports: each format parses and holds what the search finds."""

import csv
import io
import json
from datetime import timedelta

import pytest
from analysts_helpers import START, app_on, basic, fresh_index, login
from opensearchpy.helpers import bulk

from survey.exports import safe_cell, write_csv

pytest_plugins = ["analysts_fixtures"]

QUERIES = ["q=lonely", "bbox=-10,45,20,62", "spam=show", "q=nothing-matches-this"]


def searched_ids(client, query):
    body = client.get(f"/api/answers?size=100&{query}", headers=basic()).get_json()
    return {answer["id"] for answer in body["answers"]}


def ndjson_ids(text):
    return [json.loads(line)["id"] for line in text.splitlines()]


def csv_ids(text):
    return [row["id"] for row in csv.DictReader(io.StringIO(text))]


def geojson_ids(text):
    collection = json.loads(text)
    assert collection["type"] == "FeatureCollection"
    for feature in collection["features"]:
        if feature["geometry"] is not None:
            lon, lat = feature["geometry"]["coordinates"]
            assert -180 <= lon <= 180 and -90 <= lat <= 90
    return [feature["id"] for feature in collection["features"]]


PARSERS = {"ndjson": ndjson_ids, "csv": csv_ids, "geojson": geojson_ids}


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("query", QUERIES)
def test_api_export_holds_the_searched_answers(city_app, kind, query):
    client = city_app.test_client()

    response = client.get(f"/api/answers?format={kind}&{query}", headers=basic())

    assert response.status_code == 200
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    ids = PARSERS[kind](response.get_data(as_text=True))
    assert len(ids) == len(set(ids))
    assert set(ids) == searched_ids(client, query)


@pytest.mark.parametrize("kind", PARSERS)
def test_page_export_links_work_for_a_signed_in_analyst(city_app, kind):
    client = city_app.test_client()
    login(client)

    response = client.get(f"/answers/export.{kind}?q=lonely")

    assert response.status_code == 200
    ids = PARSERS[kind](response.get_data(as_text=True))
    assert set(ids) == searched_ids(client, "q=lonely")


def test_geojson_places_answers_at_their_city(city_app):
    client = city_app.test_client()

    response = client.get("/api/answers?format=geojson&q=forest", headers=basic())

    (feature,) = json.loads(response.get_data(as_text=True))["features"]
    assert feature["geometry"]["coordinates"] == [-122.3149, 47.2513]
    assert feature["properties"]["city"] == "Milton"
    assert feature["properties"]["email"] == "mil-1@example.com"


def test_unknown_export_kind_is_not_found(city_app):
    client = city_app.test_client()
    login(client)

    assert client.get("/answers/export.xlsx").status_code == 404


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("plain words", "plain words"),
        (-0.0931, -0.0931),
        (["honeypot", "too_fast"], "honeypot too_fast"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert safe_cell(value) == cell


def test_csv_export_of_a_formula_essay_reads_back_as_text(opensearch, settings):
    rows = list(csv.reader(io.StringIO("".join(write_csv([{"essay": "=1+2"}])))))

    assert rows[1][2] == "'=1+2"


def many_actions(index, count):
    """Bulk actions for `count` located answers."""
    for number in range(count):
        source = {
            "essay_question": f"answer number {number}",
            "email_addr": f"many{number}@example.com",
            "is_spam": False,
            "@timestamp": (START + timedelta(seconds=number)).isoformat(),
            "geo": {"lat": number % 80, "lon": number % 170},
            "geo_status": "located",
        }
        yield {"_index": index, "_id": f"many-{number}", "_source": source}


@pytest.fixture(scope="module")
def many_answers(opensearch, settings):
    """An index of 1,500 answers, more than several export batches."""
    with fresh_index(opensearch, settings, "many") as index:
        bulk(opensearch, many_actions(index, 1500), refresh=True)
        yield index


@pytest.mark.parametrize("kind", PARSERS)
def test_export_of_more_than_a_page_streams_every_answer(settings, many_answers, kind):
    app = app_on(settings, many_answers, SURVEY_EXPORT_BATCH=200)
    client = app.test_client()

    response = client.get(f"/api/answers?format={kind}", headers=basic())

    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) > 3
    ids = PARSERS[kind](
        "".join(chunk if isinstance(chunk, str) else chunk.decode() for chunk in chunks)
    )
    assert len(ids) == 1500
    assert set(ids) == {f"many-{number}" for number in range(1500)}
    response.close()


MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "geojson": "application/geo+json",
}


@pytest.mark.parametrize("kind", MEDIA)
def test_exports_name_their_media_type_once(city_app, kind):
    client = city_app.test_client()
    api = client.get(f"/api/answers?format={kind}", headers=basic())
    login(client)
    page = client.get(f"/answers/export.{kind}")

    assert api.headers["Content-Type"] == MEDIA[kind]
    assert page.headers["Content-Type"] == MEDIA[kind]


@pytest.mark.parametrize(
    "value",
    [
        " =1+1",
        "  +1+1",
        "\t -2+3",
        " \u00a0@SUM(A1)",
        "\uff1d1+1",
        "\uff0b1+1",
        "\uff0d2+3",
        "\uff20SUM(A1)",
        "  \uff1dHYPERLINK(0)",
        "\u3000=1+1",
    ],
)
def test_csv_cells_with_hidden_formula_starts_read_as_text(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["a = b", "1 + 1", "x@example.com", " plain"])
def test_csv_cells_with_signs_inside_stay_as_they_are(value):
    assert safe_cell(value) == value
