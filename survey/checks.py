"""Checks of a deployment's settings and connections, in plain words.

Used by `flask check-config` (all of them, for operators) and by `/readyz`
(the two connections, for load balancers and dashboards).
"""

import logging

import boto3
import botocore.config
import botocore.exceptions
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    TransportError,
)

from config import broker_endpoint
from survey import broker, store

logger = logging.getLogger(__name__)

QUICK = botocore.config.Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1}
)


def sqs_client(config):
    """A boto3 SQS client for the broker the settings name."""
    endpoint = broker_endpoint(config["CELERY_BROKER_URL"])
    if endpoint:
        base, key, secret = endpoint
        return boto3.client(
            "sqs",
            endpoint_url=base,
            region_name=config["SQS_REGION"],
            aws_access_key_id=key or "local",
            aws_secret_access_key=secret or "local",
            config=QUICK,
        )
    return boto3.client("sqs", region_name=config["SQS_REGION"], config=QUICK)


def missing_settings(config):
    problems = []
    if not config.get("SECRET_KEY"):
        problems.append("SECRET_KEY is not set: the app will not start")
    if not config.get("SURVEY_ANALYSTS"):
        problems.append(
            "SURVEY_ANALYSTS is not set: nobody can sign in to the analyst pages"
        )
    if config["GEO_PROVIDER"] == "rest" and not config["GEO_REST_URL"]:
        problems.append("GEO_PROVIDER is rest but GEO_REST_URL is not set")
    if not config["SQS_QUEUE_URL"]:
        problems.append(
            "SQS_QUEUE_URL is not set (needed when the broker URL names no host)"
        )
    return problems


def credential_problems(config):
    """Signing needs credentials that are present and not expired."""
    if not config["OPENSEARCH_AWS_REGION"]:
        return []
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        return ["no AWS credentials found (instance role, AWS_PROFILE or keys)"]
    try:
        credentials.get_frozen_credentials()
    except botocore.exceptions.BotoCoreError as error:
        return [f"AWS credentials could not be refreshed: {error}"]
    return []


def opensearch_problems(config, client=None):
    client = client or store.make_client(config)
    url = config["OPENSEARCH_URL"]
    try:
        client.info()
        return store.mapping_problems(client, config["OPENSEARCH_INDEX"])
    except (AuthenticationException, AuthorizationException):
        return [
            f"OpenSearch at {url} refused the credentials (expired, or not allowed)"
        ]
    except ConnectionError:
        return [f"OpenSearch is unreachable at {url}"]
    except TransportError as error:
        return [
            f"OpenSearch at {url} answered with an error (HTTP {error.status_code})"
        ]


def sqs_problems(config, client=None):
    """The task queue's own settings, then that the dead-letter queue exists."""
    client = client or sqs_client(config)
    problems = broker.queue_problems(client, config)
    problem = queue_problem(
        client,
        config["SQS_DEAD_LETTER_QUEUE_NAME"],
        config["SQS_DEAD_LETTER_QUEUE_URL"],
    )
    return problems + ([problem] if problem else [])


def queue_problem(client, name, url):
    if not url:
        return f"queue {name} has no URL"
    return broker.read_queue(client, url, ["QueueArn"])[1]


def all_problems(config):
    """Every problem found, each a sentence an operator can act on."""
    return (
        missing_settings(config)
        + credential_problems(config)
        + opensearch_problems(config)
        + sqs_problems(config)
    )
