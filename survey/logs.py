"""Logging set-up shared by the web app and the worker."""

import logging
import sys

# Libraries that log request bodies or task arguments at DEBUG, which would
# put email addresses, IP addresses and essays into the logs.
CHATTY_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "opensearch",
    "opensearchpy",
    "kombu",
    "amqp",
    "celery.pool",
    "celery.concurrency",
    "celery.bootsteps",
    "werkzeug",
)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level="INFO"):
    """Send the app's logs to stderr at `level`, libraries at WARNING."""
    root = logging.getLogger()
    root.setLevel(level.upper() if isinstance(level, str) else level)
    if not any(getattr(h, "survey_handler", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.survey_handler = True
        root.addHandler(handler)

    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
