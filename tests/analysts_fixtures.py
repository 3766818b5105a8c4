"""Fixtures of the analyst tests: the answers of analysts_helpers.PLACED in an
index of their own, so counts are exact.

A test module gets them with ``pytest_plugins = ["analysts_fixtures"]``.
"""

import uuid

import pytest
from analysts_helpers import ANALYSTS, PLACED, place_answer
from conftest import make_app


@pytest.fixture(scope="module")
def city_answers(opensearch, settings):
    """An index holding PLACED; yields its name."""
    from survey import store

    index = f"{settings['OPENSEARCH_INDEX']}_cities_{uuid.uuid4().hex[:6]}"
    store.ensure_index(opensearch, index)
    for doc_id, (city, essay, spam) in PLACED.items():
        place_answer(opensearch, index, doc_id, essay, city, spam)
    opensearch.indices.refresh(index=index)
    yield index
    opensearch.indices.delete(index=index, ignore_unavailable=True)
    opensearch.indices.delete_index_template(
        name=store.template_name(index), ignore=[404]
    )


@pytest.fixture
def city_app(settings, city_answers):
    return make_app(settings, OPENSEARCH_INDEX=city_answers, SURVEY_ANALYSTS=ANALYSTS)
