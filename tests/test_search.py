"""Searching and mapping answers placed in three known cities, on the real
OpenSearch, through the JSON API."""

import pytest
from analysts_helpers import PLACED, app_on, basic, lonely, placed_ids

pytest_plugins = ["analysts_fixtures"]


def api_ids(client, query):
    response = client.get(f"/api/answers?size=100&{query}", headers=basic())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["answers"])
    return {answer["id"] for answer in body["answers"]}


def test_keyword_and_radius_return_exactly_that_citys_matching_answers(city_app):
    client = city_app.test_client()

    found = api_ids(client, "q=lonely&lat=51.5&lon=-0.1&distance=50km")

    expected = placed_ids(
        lambda city, essay, spam: city == "london" and lonely(essay) and not spam
    )
    assert found == expected == {"lon-1", "lon-2", "lon-4"}


def test_radius_in_miles_reaches_the_same_answers(city_app):
    client = city_app.test_client()

    found = api_ids(client, "q=hungry&lat=47.3&lon=-122.3&distance=20mi")

    assert found == {"mil-2"}


def test_rectangle_returns_what_lies_inside(city_app):
    client = city_app.test_client()

    found = api_ids(client, "bbox=-10,45,20,62")

    expected = placed_ids(
        lambda city, essay, spam: city in ("london", "linkoping") and not spam
    )
    assert found == expected
    assert "mil-1" not in found


def test_spam_is_hidden_unless_asked_for(city_app):
    client = city_app.test_client()

    assert "lon-spam" not in api_ids(client, "q=spam")
    assert api_ids(client, "q=spam&spam=show") == {"lon-spam"}
    assert api_ids(client, "spam=only") == {"lon-spam"}


def test_located_filter_splits_the_answers(city_app):
    client = city_app.test_client()

    located = api_ids(client, "located=yes")
    unlocated = api_ids(client, "located=no")

    assert unlocated == {"nowhere-1"}
    assert located | unlocated == placed_ids(lambda city, essay, spam: not spam)


def test_time_range_keeps_answers_inside_it(city_app, opensearch, city_answers):
    client = city_app.test_client()
    answers = client.get("/api/answers?size=100", headers=basic()).get_json()
    times = sorted(answer["time"] for answer in answers["answers"])
    middle = times[len(times) // 2]

    later = api_ids(client, f"since={middle.replace('+00:00', 'Z')}")

    assert later == {a["id"] for a in answers["answers"] if a["time"] >= middle}
    assert 0 < len(later) < len(times)


def test_newest_first_and_relevance_orders(city_app):
    client = city_app.test_client()

    newest = client.get("/api/answers?q=lonely", headers=basic()).get_json()
    times = [answer["time"] for answer in newest["answers"]]
    assert times == sorted(times, reverse=True)

    relevance = client.get(
        "/api/answers?q=lonely&sort=relevance", headers=basic()
    ).get_json()
    assert {a["id"] for a in relevance["answers"]} == {
        a["id"] for a in newest["answers"]
    }


def test_pages_do_not_overlap_and_cover_everything(city_app):
    client = city_app.test_client()
    every = api_ids(client, "spam=show")

    seen = []
    for page in (1, 2, 3, 4):
        body = client.get(
            f"/api/answers?spam=show&size=3&page={page}", headers=basic()
        ).get_json()
        assert body["pages"] == 4
        seen += [answer["id"] for answer in body["answers"]]

    assert len(seen) == len(set(seen)) == len(PLACED)
    assert set(seen) == every


def test_highlight_marks_the_words_and_escapes_the_essay(city_app):
    client = city_app.test_client()

    body = client.get("/api/answers?q=markup", headers=basic()).get_json()

    (answer,) = body["answers"]
    fragment = " ".join(answer["highlight"])
    assert "<mark>markup</mark>" in fragment
    assert "<script>" not in fragment and "<img" not in fragment
    assert "&lt;script&gt;" in fragment


@pytest.mark.parametrize("zoom", [1, 3, 8])
def test_map_clusters_add_up_to_the_total(settings, city_answers, zoom):
    app = app_on(settings, city_answers, SURVEY_MAP_MAX_POINTS=2)
    client = app.test_client()

    body = client.get(f"/api/map?zoom={zoom}", headers=basic()).get_json()

    located = placed_ids(lambda city, essay, spam: city and not spam)
    assert body["points"] == []
    assert body["total"] == len(located)
    assert sum(cluster["count"] for cluster in body["clusters"]) == body["total"]
    assert len(body["clusters"]) == 3
    for cluster in body["clusters"]:
        west, south, east, north = cluster["bbox"]
        assert west <= cluster["lon"] <= east
        assert south <= cluster["lat"] <= north


def test_cluster_rectangle_lists_its_answers(settings, city_answers):
    app = app_on(settings, city_answers, SURVEY_MAP_MAX_POINTS=0)
    client = app.test_client()
    clusters = client.get("/api/map?zoom=4", headers=basic()).get_json()["clusters"]
    london = max(clusters, key=lambda cluster: cluster["count"])

    bbox = ",".join(f"{value:.6f}" for value in london["bbox"])
    found = api_ids(client, f"bbox={bbox}")

    assert len(found) == london["count"]
    assert found == placed_ids(lambda city, essay, spam: city == "london" and not spam)


def test_map_shows_points_when_few_with_the_same_filters(city_app):
    client = city_app.test_client()

    body = client.get(
        "/api/map?zoom=2&q=lonely&bbox=-180,-90,180,90", headers=basic()
    ).get_json()

    assert body["clusters"] == []
    assert {point["id"] for point in body["points"]} == placed_ids(
        lambda city, essay, spam: city and lonely(essay) and not spam
    )
    assert "DB-IP" in body["attribution"]
