"""The inline baseline: the normal app, except that a submission waits for the
REST geolocation provider before it is stored, as the seed app did.

Storage, page and redirect are the normal app's own. The inline variant is
favoured slightly: it still enqueues the task and does not write the location
it waited for, so one OpenSearch update is missing from its cost.
"""

import logging

from flask import request

from application import create_app
from survey.geolocation import LookupFailed, RestProvider, Unlocatable, parse_address

logger = logging.getLogger(__name__)


def create_inline_app(overrides=None):
    """The app with its quiz view wrapped in a synchronous REST lookup."""
    app = create_app(overrides)
    provider = RestProvider(app.config)
    submit = app.view_functions["quiz.take_test"]

    def take_test_inline():
        if request.method == "POST":
            locate_now(provider, request.remote_addr)
        return submit()

    app.view_functions["quiz.take_test"] = take_test_inline
    return app


def locate_now(provider, remote_addr):
    """One lookup while the request waits; its outcome is not needed here."""
    try:
        return provider.lookup(parse_address(remote_addr))
    except (LookupFailed, Unlocatable, ValueError):
        return None


application = create_inline_app()
