"""The app's connections to OpenSearch and SQS, made on first use."""

import threading

from flask import current_app

from survey import store
from survey.broker import make_celery


class Services:
    """Holds one OpenSearch client and one Celery app for the process."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self._opensearch = None
        self._celery = None

    @property
    def opensearch(self):
        with self.lock:
            if self._opensearch is None:
                self._opensearch = store.make_client(self.config)
            return self._opensearch

    @property
    def celery(self):
        with self.lock:
            if self._celery is None:
                self._celery = make_celery(self.config)
            return self._celery


def services():
    """The Services of the current app."""
    return current_app.extensions["survey"]
