"""Logging set-up shared by the web app and the worker.

Nothing the app logs names a person; `RedactingFilter` is the second line of
defence for what a library might log anyway.
"""

import ipaddress
import logging
import re
import sys

# Libraries that log request bodies or task arguments at DEBUG, which would
# put email addresses, IP addresses and essays into the logs.
CHATTY_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "requests",
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

EMAIL_MARK = "[email]"
IP_MARK = "[ip]"

# `%40` is an `@` in a URL that was logged without decoding.
# The domain must end in letters, so `user:**@127.0.0.1` (a masked broker
# URL) is left to the IP check, which keeps loopback. `=` is left out of the
# local part, so a logged query string keeps its parameter name.
EMAIL = re.compile(
    r"[\w.!#$%&'*+/?^`{|}~-]+(?:@|%40)(?:[\w-]+\.)+[^\W\d_][\w-]*",
    re.IGNORECASE,
)
# Broad candidates; `ipaddress` decides which ones are addresses.
IPV6 = re.compile(r"(?<![\w:.])[0-9a-f.]*:[0-9a-f.]*:[0-9a-f:.]*", re.IGNORECASE)
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")


def is_personal_address(text):
    """True when `text` is an IP address other than loopback or unspecified."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def redact_address(match):
    candidate = match.group(0)
    # A sentence or a `host:port` can end right after the address, and an
    # IPv6 address can itself end in `::`.
    for address in (candidate, candidate.rstrip("."), candidate.rstrip(":.")):
        if is_personal_address(address):
            return IP_MARK + candidate[len(address) :]
    return candidate


def redact(text):
    """`text` with email and IP addresses replaced by markers."""
    if "@" in text or "%40" in text:
        text = EMAIL.sub(EMAIL_MARK, text)
    if ":" in text:
        text = IPV6.sub(redact_address, text)
    if "." in text:
        text = IPV4.sub(redact_address, text)
    return text


class RedactingFilter(logging.Filter):
    """Replaces email and IP addresses in a record before a handler writes it.

    The message is formatted here and its arguments dropped, so what reaches
    the handler is plain text; tracebacks and Celery's `data` extra are
    cleaned the same way.
    """

    formatter = logging.Formatter()

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:
            message = f"unformattable log message from {record.name}"
        record.msg = redact(message)
        record.args = None

        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)

        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.data = {key: redact(str(value)) for key, value in data.items()}
        return True


def configure_logging(level="INFO"):
    """Send the app's logs to stderr at `level`, libraries at WARNING."""
    root = logging.getLogger()
    root.setLevel(level.upper() if isinstance(level, str) else level)
    if not any(getattr(h, "survey_handler", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RedactingFilter())
        handler.survey_handler = True
        root.addHandler(handler)

    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
