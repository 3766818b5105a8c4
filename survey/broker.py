"""The Celery app over SQS, shared by the web process (which only sends) and
the worker (which also consumes)."""

import logging

from celery import Celery

logger = logging.getLogger(__name__)

LOCATE_TASK = "tasks.get_location"


def transport_options(config, send_timeout=None):
    """kombu SQS options: predefined queues, so nothing is listed or created."""
    timeout = send_timeout or config["SQS_SEND_TIMEOUT"]
    queues = {
        config["SQS_QUEUE_NAME"]: {"url": config["SQS_QUEUE_URL"]},
        config["SQS_DEAD_LETTER_QUEUE_NAME"]: {
            "url": config["SQS_DEAD_LETTER_QUEUE_URL"]
        },
    }
    return {
        "region": config["SQS_REGION"],
        "predefined_queues": queues,
        "visibility_timeout": config["SQS_VISIBILITY_TIMEOUT"],
        "wait_time_seconds": config["SQS_WAIT_TIME_SECONDS"],
        # kombu's default of 1 s also applies whenever the prefetch window
        # is full, which caps a worker at a few tasks a second.
        "polling_interval": 0.05,
        "client-config": {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"total_max_attempts": 2, "mode": "standard"},
        },
    }


def make_celery(config, send_timeout=None):
    """A Celery app configured from the settings mapping."""
    celery = Celery("tasks", broker=config["CELERY_BROKER_URL"])
    celery.conf.update(
        broker_transport_options=transport_options(config, send_timeout),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=config["SQS_SEND_TIMEOUT"],
        task_default_queue=config["SQS_QUEUE_NAME"],
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        # The web request must not wait through kombu's publish retries.
        task_publish_retry=False,
        # SQS delivers at least once: acknowledge after the work is done, and
        # give a task back to the queue when its worker dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # SQS has no broadcast queues for remote control or events.
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return celery


def enqueue_location(celery, doc_id, ip):
    """Send `tasks.get_location` for one answer, keeping the address out of logs."""
    celery.send_task(
        LOCATE_TASK,
        args=[doc_id, ip],
        argsrepr=f"('{doc_id}', '<address>')",
        kwargsrepr="{}",
    )
