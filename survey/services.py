"""The app's connections to OpenSearch and SQS, made on first use."""

import threading

from flask import current_app

from survey import store
from survey.broker import make_celery


class Services:
    """Holds one OpenSearch client, one Celery app and one SQS client for the
    process."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self._opensearch = None
        self._celery = None
        self._sqs = None

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

    @property
    def sqs(self):
        """A plain SQS client, for checks; tasks go through `celery`."""
        from survey.checks import sqs_client

        with self.lock:
            if self._sqs is None:
                self._sqs = sqs_client(self.config)
            return self._sqs


def services():
    """The Services of the current app."""
    return current_app.extensions["survey"]
