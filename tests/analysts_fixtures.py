"""Fixtures of the analyst tests: the answers of analysts_helpers.PLACED in an
index of their own, so counts are exact.

A test module gets them with ``pytest_plugins = ["analysts_fixtures"]``.
"""

import pytest
from analysts_helpers import PLACED, app_on, fresh_index, place_answer


@pytest.fixture(scope="module")
def city_answers(opensearch, settings):
    """An index holding PLACED; yields its name."""
    with fresh_index(opensearch, settings, "cities") as index:
        for doc_id, (city, essay, spam) in PLACED.items():
            place_answer(opensearch, index, doc_id, essay, city, spam)
        opensearch.indices.refresh(index=index)
        yield index


@pytest.fixture
def city_app(settings, city_answers):
    return app_on(settings, city_answers)
