"""The whole path on the real services: quiz, OpenSearch, SQS, worker."""

from conftest import find_answers, submit_answer, wait_for


def test_submission_is_stored_and_located_by_a_real_worker(
    client, app, opensearch, settings, worker
):
    response = submit_answer(client, essay="Blast processing", ip="81.2.69.142")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/thanks")

    def located():
        hits = find_answers(opensearch, settings, geo_status="located")
        return [
            hit
            for hit in hits
            if hit["_source"]["essay_question"] == "Blast processing"
        ]

    (hit,) = wait_for(located, what="the answer to be located")
    source = hit["_source"]
    assert source["geo_city"] == "London"
    assert source["geo_country"] == "GB"
    assert abs(source["geo"]["lat"] - 51.5142) < 0.01
    assert abs(source["geo"]["lon"] - -0.0931) < 0.01
    assert source["client_ip_addr"] == "81.2.69.142"
