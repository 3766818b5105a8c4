"""Settings for the web app and the worker, read from the environment.

Every setting is declared once in ``SETTINGS`` with its default and what it
means; ``load_config()`` reads them all, and the README's table lists them.
Defaults point at loopback services only. Secrets have no default.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_QUESTION = (
    "Which console won the 1991 console war, the Sega Genesis or the Super "
    "Nintendo, and why?"
)


class ConfigError(RuntimeError):
    """A setting is missing or does not parse; the message names it."""


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    doc: str
    parse: Callable[[str], Any] = str
    secret: bool = False


SETTINGS = [
    # The web app
    Setting(
        "SECRET_KEY", None, "Signs sessions and CSRF tokens. Required.", secret=True
    ),
    Setting("SURVEY_QUESTION", DEFAULT_QUESTION, "The essay question shown to takers."),
    Setting("SURVEY_ESSAY_MAX_CHARS", 2048, "Longest essay, in characters.", int),
    Setting(
        "SURVEY_MIN_FILL_SECONDS",
        3.0,
        "A form sent back faster than this is stored as spam.",
        float,
    ),
    Setting(
        "SURVEY_FORM_MAX_AGE",
        86400,
        "Seconds a rendered quiz form stays valid (CSRF and fill-time token).",
        int,
    ),
    Setting(
        "SURVEY_TRUSTED_PROXIES",
        0,
        "Proxies in front of the app whose X-Forwarded-For entry is trusted "
        "(2 on Elastic Beanstalk: its load balancer, then its nginx).",
        int,
    ),
    Setting(
        "SURVEY_TRUNCATE_IP",
        False,
        "Store and locate only the network part of an address (/24, /48).",
        parse_bool,
    ),
    Setting(
        "SURVEY_DROP_IP_AFTER_LOCATE",
        False,
        "Remove the address from a document once it has been located.",
        parse_bool,
    ),
    Setting(
        "SURVEY_RETENTION_DAYS",
        0,
        "Age in days past which `flask purge-old` deletes answers (0: keep).",
        int,
    ),
    Setting(
        "SURVEY_ANALYSTS",
        "",
        "Analyst logins: comma-separated name:password-hash pairs "
        "(hashes from `flask hash-password`).",
        secret=True,
    ),
    Setting(
        "SURVEY_LOGIN_MAX_FAILURES",
        10,
        "Failed analyst logins from one address, per web process, before it "
        "must wait out SURVEY_LOGIN_WINDOW.",
        int,
    ),
    Setting(
        "SURVEY_LOGIN_WINDOW",
        300,
        "Seconds over which failed analyst logins are counted.",
        int,
    ),
    Setting(
        "SURVEY_ANALYST_SESSION_HOURS",
        12.0,
        "Hours an analyst stays signed in on the pages.",
        float,
    ),
    Setting(
        "SURVEY_SEARCH_MAX_PAGE_SIZE",
        100,
        "Most answers one search page or API call returns.",
        int,
    ),
    Setting(
        "SURVEY_MAP_MAX_POINTS",
        200,
        "Up to this many located answers the map shows each one; above it, "
        "grid clusters.",
        int,
    ),
    Setting(
        "SURVEY_EXPORT_BATCH",
        500,
        "Answers fetched from OpenSearch per round trip of a streamed export.",
        int,
    ),
    Setting(
        "SURVEY_SECURE_COOKIES",
        False,
        "Send session cookies only over HTTPS (set true behind TLS).",
        parse_bool,
    ),
    # OpenSearch
    Setting("OPENSEARCH_URL", "http://127.0.0.1:9200", "OpenSearch endpoint."),
    Setting("OPENSEARCH_INDEX", "big_survey", "Index that holds the answers."),
    Setting(
        "OPENSEARCH_AWS_REGION",
        "",
        "When set, requests are signed with SigV4 for this region using the "
        "boto3 credential chain (instance role on AWS).",
    ),
    Setting(
        "OPENSEARCH_AWS_SERVICE",
        "es",
        "SigV4 service name: es for managed domains, aoss for serverless.",
    ),
    Setting(
        "OPENSEARCH_TIMEOUT", 5.0, "Seconds before an OpenSearch call fails.", float
    ),
    # SQS through Celery
    Setting(
        "CELERY_BROKER_URL",
        "sqs://local:local@127.0.0.1:9324",
        "Broker URL. Locally the host and port of ElasticMQ; on AWS `sqs://` "
        "(credentials from the instance role).",
        secret=True,
    ),
    Setting("SQS_REGION", "us-east-1", "AWS region of the queue."),
    Setting("SQS_QUEUE_NAME", "survey", "Queue that carries geolocation tasks."),
    Setting(
        "SQS_QUEUE_URL",
        "",
        "URL of that queue (default: derived from the broker URL for ElasticMQ).",
    ),
    Setting(
        "SQS_DEAD_LETTER_QUEUE_NAME",
        "",
        "Queue that receives tasks that failed for good (default: <queue>-dlq).",
    ),
    Setting(
        "SQS_DEAD_LETTER_QUEUE_URL",
        "",
        "URL of the dead-letter queue (default: derived like SQS_QUEUE_URL).",
    ),
    Setting(
        "SQS_SEND_TIMEOUT",
        3.0,
        "Seconds the web request may spend enqueueing before it gives up.",
        float,
    ),
    Setting(
        "SQS_WAIT_TIME_SECONDS",
        10,
        "SQS long-poll wait of the worker (0-20).",
        int,
    ),
    Setting(
        "SQS_VISIBILITY_TIMEOUT",
        120,
        "Visibility timeout of the queue, in seconds; must exceed the longest "
        "task run including retries.",
        int,
    ),
    # Geolocation (worker)
    Setting(
        "GEO_PROVIDER",
        "mmdb",
        "mmdb (offline MaxMind-format database) or rest (freegeoip-style API).",
    ),
    Setting(
        "GEO_MMDB_PATH",
        "data/dbip-city-lite.mmdb",
        "Path of the MaxMind-format city database.",
    ),
    Setting(
        "GEO_REST_URL",
        "",
        "Base URL of the REST API; the worker asks <base>/json/<ip>.",
    ),
    Setting("GEO_REST_LAT_FIELD", "latitude", "Latitude field in its answer."),
    Setting("GEO_REST_LON_FIELD", "longitude", "Longitude field in its answer."),
    Setting("GEO_REST_CITY_FIELD", "city", "City field in its answer (may be absent)."),
    Setting(
        "GEO_REST_COUNTRY_FIELD",
        "country_code",
        "Country code field in its answer (may be absent).",
    ),
    Setting("GEO_REST_CONNECT_TIMEOUT", 2.0, "Connect timeout, seconds.", float),
    Setting("GEO_REST_READ_TIMEOUT", 5.0, "Read timeout, seconds.", float),
    Setting(
        "GEO_REST_RATE_LIMIT",
        0.0,
        "Most calls per second from one worker process (0: no limit).",
        float,
    ),
    Setting(
        "GEO_MAX_RETRIES",
        8,
        "Retries of a failed lookup before it is recorded as failed.",
        int,
    ),
    Setting(
        "GEO_RETRY_BACKOFF",
        2.0,
        "First retry delay in seconds; it doubles each time, with jitter.",
        float,
    ),
    Setting(
        "GEO_RETRY_BACKOFF_MAX",
        60.0,
        "Longest delay between retries, in seconds.",
        float,
    ),
    Setting("GEO_CACHE_SIZE", 10000, "Recent lookups kept in memory.", int),
    Setting("GEO_CACHE_TTL", 3600.0, "Seconds a cached lookup is reused.", float),
    Setting(
        "GEO_DB_MAX_AGE_DAYS",
        365,
        "Warn at start-up when the offline database is older than this.",
        int,
    ),
    # Logging
    Setting("LOG_LEVEL", "INFO", "Level of the app's and the worker's logs."),
]

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def load_config(environ=None, overrides=None):
    """Build the settings mapping: defaults, then the environment, then overrides."""
    environ = os.environ if environ is None else environ
    config = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None or (raw == "" and setting.default is not None):
            config[setting.name] = setting.default
            continue
        try:
            config[setting.name] = setting.parse(raw)
        except ValueError as error:
            raise ConfigError(f"{setting.name}: {error}") from None

    config.update(overrides or {})
    derive_queue_urls(config)
    return config


def derive_queue_urls(config):
    """Fill in the queue URLs ElasticMQ would give when they are not set."""
    if not config["SQS_DEAD_LETTER_QUEUE_NAME"]:
        config["SQS_DEAD_LETTER_QUEUE_NAME"] = f"{config['SQS_QUEUE_NAME']}-dlq"

    base = local_queue_base(config["CELERY_BROKER_URL"])
    for name_key, url_key in (
        ("SQS_QUEUE_NAME", "SQS_QUEUE_URL"),
        ("SQS_DEAD_LETTER_QUEUE_NAME", "SQS_DEAD_LETTER_QUEUE_URL"),
    ):
        if not config[url_key] and base:
            config[url_key] = f"{base}/000000000000/{config[name_key]}"


def broker_endpoint(broker_url):
    """(`http://host:port`, key, secret) of a broker URL that names a host
    (ElasticMQ locally), else None (AWS: the region's endpoint)."""
    parts = urlsplit(broker_url)
    if not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    key, secret = unquote(parts.username or ""), unquote(parts.password or "")
    return f"http://{parts.hostname}{port}", key, secret


def local_queue_base(broker_url):
    """`http://host:port` for a broker URL that names a host, else None."""
    endpoint = broker_endpoint(broker_url)
    return endpoint[0] if endpoint else None


def require(config, *names):
    """Raise ConfigError naming every listed setting that is empty."""
    missing = [name for name in names if not config.get(name)]
    if missing:
        raise ConfigError(
            "missing required setting(s): "
            + ", ".join(missing)
            + " (set them in the environment)"
        )
