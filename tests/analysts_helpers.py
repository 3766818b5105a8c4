"""Shared pieces of the analyst tests: a login, and answers placed in three
known cities (see analysts_fixtures for the index that holds them)."""

import base64
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from conftest import make_app
from werkzeug.security import generate_password_hash

NAME = "ana"
PASSWORD = "a long test password"
ANALYSTS = f"{NAME}:{generate_password_hash(PASSWORD)}"

CITIES = {
    "london": (51.5142, -0.0931, "London", "GB"),
    "milton": (47.2513, -122.3149, "Milton", "US"),
    "linkoping": (58.4167, 15.6167, "Linköping", "SE"),
}
MARKUP_ESSAY = (
    "<script>alert('x')</script> <img src=x onerror=alert(1)> lonely markup & more"
)
# id: (city or None, essay, spam)
PLACED = {
    "lon-1": ("london", "Lonely in the rain, the Genesis kept me company", False),
    "lon-2": ("london", "lonely nights with the Super Nintendo", False),
    "lon-3": ("london", "Hungry for more Sonic", False),
    "lon-4": ("london", MARKUP_ESSAY, False),
    "lon-spam": ("london", "lonely spam spam spam", True),
    "mil-1": ("milton", "Lonely forest, Mario won", False),
    "mil-2": ("milton", "A hungry bear played Zelda", False),
    "lin-1": ("linkoping", "lonely winter evenings of Street Fighter", False),
    "lin-2": ("linkoping", "Happy with both consoles", False),
    "nowhere-1": (None, "lonely and not located yet", False),
}
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def basic(name=NAME, password=PASSWORD):
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def csrf_token(html):
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]*)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, name=NAME, password=PASSWORD, next_path=None):
    """Sign in through the login form; returns the POST's response."""
    page = client.get("/login").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "name": name, "password": password}
    url = "/login" if next_path is None else f"/login?next={next_path}"
    return client.post(url, data=data)


def place_answer(opensearch, index, doc_id, essay, city=None, spam=False, **extra):
    """Store one answer directly, located in `city` when given."""
    from survey import store

    moment = START + timedelta(hours=len(doc_id) + sum(map(ord, doc_id)) % 500)
    fields = {
        "essay_question": essay,
        "email_addr": f"{doc_id}@example.com",
        "client_ip_addr": "81.2.69.142",
        "is_spam": spam,
        "spam_reasons": ["honeypot"] if spam else [],
        "geo_status": "skipped" if spam else "pending",
        "timestamp": moment.isoformat(),
        **extra,
    }
    store.save_answer(opensearch, index, doc_id, fields)
    if city:
        lat, lon, name, country = CITIES[city]
        store.update_answer(
            opensearch,
            index,
            doc_id,
            {
                "geo": {"lat": lat, "lon": lon},
                "geo_city": name,
                "geo_country": country,
                "geo_status": "located",
            },
        )


def placed_ids(predicate):
    """Ids of PLACED whose (city, essay, spam) satisfy `predicate`."""
    return {doc_id for doc_id, entry in PLACED.items() if predicate(*entry)}


def lonely(essay):
    return "lonely" in essay.lower()


def app_on(settings, index, **overrides):
    """An app that reads `index` and knows the test analyst."""
    return make_app(
        settings, OPENSEARCH_INDEX=index, SURVEY_ANALYSTS=ANALYSTS, **overrides
    )


@contextmanager
def fresh_index(opensearch, settings, label):
    """A new answer index named after the session's; deleted afterwards."""
    from survey import store

    index = f"{settings['OPENSEARCH_INDEX']}_{label}_{uuid.uuid4().hex[:6]}"
    store.ensure_index(opensearch, index)
    try:
        yield index
    finally:
        opensearch.indices.delete(index=index, ignore_unavailable=True)
        opensearch.indices.delete_index_template(
            name=store.template_name(index), ignore=[404]
        )
