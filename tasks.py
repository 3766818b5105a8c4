"""The worker: ``celery -A tasks worker --loglevel=INFO``.

``tasks.get_location`` looks an answer's address up and partially updates the
answer's ``geo`` fields. Tasks can arrive more than once (SQS delivers at least
once), so a repeated run leaves the answer as the first did (``geo_at`` aside),
and a late failure never overwrites a location.
"""

import ipaddress
import logging
import threading

from celery import Task
from celery.exceptions import WorkerShutdown
from celery.signals import setup_logging, worker_ready
from celery.worker.request import Request
from opensearchpy.exceptions import ConnectionError as OpenSearchUnreachable
from opensearchpy.exceptions import TransportError

from config import load_config
from survey import store
from survey.broker import DOC_ID, LOCATE_TASK, describe_args, make_celery
from survey.geolocation import (
    LookupFailed,
    Unlocatable,
    backoff_delay,
    make_geolocator,
)
from survey.logs import configure_logging
from survey.store import GeoStatus

logger = logging.getLogger(__name__)

config = load_config()
celery = make_celery(config, worker=True)
celery.conf.worker_consumer = "survey.consumer:DeadLetteringConsumer"
celery.conf.survey_dead_letter_queue = config["SQS_DEAD_LETTER_QUEUE_NAME"]


@setup_logging.connect
def configure_worker_logging(loglevel=None, **_):
    configure_logging(loglevel or config["LOG_LEVEL"])


class Resources:
    """The OpenSearch client and geolocator, built once per worker process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.client = None
        self.geolocator = None

    def get(self):
        with self.lock:
            if self.geolocator is None:
                client = store.make_client(config)
                self.geolocator = make_geolocator(config)
                self.client = client
        return self.client, self.geolocator


resources = Resources()


@worker_ready.connect
def open_resources(**_):
    """Load the geolocation database at start-up, not on the first task. A
    worker that cannot locate anything stops, rather than dead-letter every
    task it receives."""
    try:
        resources.get()
    except (OSError, ValueError) as error:
        logger.critical("cannot geolocate (%s): stopping the worker", error)
        raise WorkerShutdown(1) from error


class MalformedTask(ValueError):
    """The task's arguments are not a document id and an IP address."""


class GeolocationFailed(RuntimeError):
    """Retries are used up; the failure is recorded on the document."""


class PrivateRequest(Request):
    """A received task whose logged arguments never show the address.

    The sender sets a safe argsrepr, but a retry or a message from another
    sender may carry none, and Celery then logs the arguments themselves.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._argsrepr = describe_args(self._args)
        self._kwargsrepr = "{}" if not self._kwargs else "<arguments withheld>"
        self._request_dict["argsrepr"] = self._argsrepr
        self._request_dict["kwargsrepr"] = self._kwargsrepr


class DeadLetteringTask(Task):
    """A task that failed for good is copied to the dead-letter queue."""

    Request = PrivateRequest

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        queue = config["SQS_DEAD_LETTER_QUEUE_NAME"]
        self.app.send_task(
            self.name,
            args=args,
            kwargs=kwargs,
            task_id=task_id,
            queue=queue,
            argsrepr=describe_args(args),
            kwargsrepr="{}",
            headers={"dead_letter_reason": type(exc).__name__},
        )
        logger.error("task %s moved to the dead-letter queue %s", task_id, queue)


def check_arguments(doc_id, ip):
    if not isinstance(doc_id, str) or not DOC_ID.match(doc_id):
        raise MalformedTask("document id is not an id")
    try:
        ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        raise MalformedTask("address is not an IP address") from None


def location_fields(location):
    return {
        "geo": {"lat": location.lat, "lon": location.lon},
        "geo_city": location.city,
        "geo_country": location.country,
        "geo_source": location.source,
        "geo_status": GeoStatus.LOCATED,
        "geo_error": None,
    }


def outcome_fields(geolocator, ip):
    """The geo fields for `ip`; raises LookupFailed when worth retrying."""
    try:
        return location_fields(geolocator.locate(ip))
    except Unlocatable as why:
        return {
            "geo_status": GeoStatus.UNLOCATABLE,
            "geo_error": str(why),
            "geo_source": geolocator.provider.source,
        }


@celery.task(
    name=LOCATE_TASK,
    bind=True,
    base=DeadLetteringTask,
    max_retries=config["GEO_MAX_RETRIES"],
)
def get_location(self, doc_id, ip):
    """Locate `ip` and record the result on answer `doc_id`."""
    check_arguments(doc_id, ip)
    client, geolocator = resources.get()
    index = config["OPENSEARCH_INDEX"]

    try:
        fields = outcome_fields(geolocator, ip)
    except LookupFailed as failure:
        fields = retry_or_fail(self, failure, doc_id)

    fields["geo_at"] = store.utcnow().isoformat()
    if config["SURVEY_DROP_IP_AFTER_LOCATE"] and fields["geo_status"] in (
        GeoStatus.LOCATED,
        GeoStatus.UNLOCATABLE,
    ):
        fields["client_ip_addr"] = None

    if fields["geo_status"] == GeoStatus.FAILED:
        return record_failure(self, client, index, doc_id, fields)

    write_fields(self, client, index, doc_id, fields)
    return fields["geo_status"]


def record_failure(task, client, index, doc_id, fields):
    """Record a final failure, unless an earlier delivery located the answer.

    SQS may deliver a task again after it succeeded; a provider outage then
    must not turn a located answer into a failed one.
    """
    outcome = write_fields(task, client, index, doc_id, fields, keep_located=True)
    if outcome == "noop":
        logger.info("answer %s in %s was located already: kept", doc_id, index)
        return GeoStatus.LOCATED
    raise GeolocationFailed(fields["geo_error"])


def retry_later(task, error, why, retry_after=None):
    """Raise Celery's Retry after a jittered, growing delay."""
    attempt = task.request.retries
    delay = backoff_delay(
        attempt,
        config["GEO_RETRY_BACKOFF"],
        config["GEO_RETRY_BACKOFF_MAX"],
        retry_after,
    )
    logger.warning("%s; retry %d in %.1f s", why, attempt + 1, delay)
    raise task.retry(
        countdown=delay,
        exc=error,
        argsrepr=describe_args(task.request.args),
        kwargsrepr="{}",
    )


def retry_or_fail(task, failure, doc_id):
    """Schedule a retry, or return the fields that record a final failure."""
    if not failure.permanent and task.request.retries < task.max_retries:
        why = f"lookup for answer {doc_id} failed ({failure.reason})"
        retry_later(task, failure, why, failure.retry_after)

    logger.error("lookup for answer %s failed for good: %s", doc_id, failure.reason)
    return {"geo_status": GeoStatus.FAILED, "geo_error": failure.reason}


def write_fields(task, client, index, doc_id, fields, keep_located=False):
    """Update the answer, retrying the task when OpenSearch fails; returns
    OpenSearch's result ("updated", "noop") or None when there is no answer."""
    try:
        outcome = store.update_answer(
            client, index, doc_id, fields, keep_located=keep_located
        )
    except (OpenSearchUnreachable, TransportError) as error:
        why = f"could not update answer {doc_id} in {index} ({type(error).__name__})"
        retry_later(task, error, why)

    if outcome is None:
        logger.warning("answer %s not found in %s: nothing to update", doc_id, index)
    else:
        logger.info("answer %s in %s: %s", doc_id, index, fields["geo_status"])
    return outcome
