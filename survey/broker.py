"""The Celery app over SQS, shared by the web process (which only sends) and
the worker (which also consumes)."""

import json
import logging
import re
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from celery import Celery

logger = logging.getLogger(__name__)

LOCATE_TASK = "tasks.get_location"
DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SQS_TRANSPORT = "survey.sqs_transport:Transport"


def broker_transport(url):
    """The kombu transport for a broker URL: ours for sqs://, which keeps
    polling through an outage; None lets any other scheme choose its own."""
    return SQS_TRANSPORT if urlparse(url).scheme == "sqs" else None


def client_config(config, worker):
    """botocore limits. A web request spends at most SQS_SEND_TIMEOUT on a
    send: one attempt, half for connecting and half for the answer. The
    worker's acknowledgements may take longer and are worth retrying."""
    if worker:
        return {
            "connect_timeout": 5,
            "read_timeout": 10,
            "retries": {"total_max_attempts": 3, "mode": "standard"},
        }
    half = config["SQS_SEND_TIMEOUT"] / 2
    return {
        "connect_timeout": half,
        "read_timeout": half,
        "retries": {"total_max_attempts": 1},
    }


def transport_options(config, worker=False):
    """kombu SQS options: predefined queues, so nothing is listed or created."""
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
        "client-config": client_config(config, worker),
    }


def make_celery(config, worker=False):
    """A Celery app configured from the settings mapping; `worker` for the
    process that consumes, rather than one that only sends."""
    url = config["CELERY_BROKER_URL"]
    celery = Celery("tasks", broker=url)
    celery.conf.update(
        # kombu reads the host and credentials from the URL, whatever the
        # transport; naming it here changes no process-wide alias table.
        broker_transport=broker_transport(url),
        broker_transport_options=transport_options(config, worker),
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


def describe_args(args):
    """What Celery may log for a task's arguments: the answer id, no address."""
    if args and isinstance(args[0], str) and DOC_ID.match(args[0]):
        return f"('{args[0]}', '<address>')"
    return "<arguments withheld>"


def enqueue_location(celery, doc_id, ip):
    """Send `tasks.get_location` for one answer, keeping the address out of logs."""
    celery.send_task(
        LOCATE_TASK,
        args=[doc_id, ip],
        argsrepr=describe_args([doc_id, ip]),
        kwargsrepr="{}",
        # The queue is predefined: declaring it would only cost a fresh
        # connection a GetQueueAttributes call before its first send.
        declare=[],
    )


def read_queue(sqs_client, url, names):
    """(the queue's attributes, None), or (None, what is wrong) in plain words."""
    try:
        found = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        # The JSON protocol says QueueDoesNotExist, the query protocol
        # AWS.SimpleQueueService.NonExistentQueue.
        if code == "QueueDoesNotExist" or code.endswith("NonExistentQueue"):
            return None, f"queue {url} does not exist"
        return None, f"queue {url} cannot be read ({code or 'client error'})"
    except BotoCoreError as error:
        return None, f"queue {url} cannot be reached ({type(error).__name__})"
    return found["Attributes"], None


def queue_problems(sqs_client, config):
    """What is wrong with the task queue for this worker, in plain words.

    Looks the queue up by its configured URL only (a predefined queue needs
    no permission to list or create queues). Messages must stay invisible
    through the longest retry delay, and failures need somewhere to go.
    """
    url = config["SQS_QUEUE_URL"]
    if not url:
        return ["SQS_QUEUE_URL is not set"]
    attributes, problem = read_queue(
        sqs_client, url, ["VisibilityTimeout", "RedrivePolicy"]
    )
    if problem:
        return [problem]

    problems = []
    visibility = int(attributes.get("VisibilityTimeout", 0))
    longest, settings = longest_hold(config)
    if visibility <= longest:
        problems.append(
            f"queue {url} hides a received message for {visibility} s, not "
            f"longer than a retry can hold it, {settings} ({longest:g} s): "
            "waiting retries would be delivered twice"
        )

    dead_letters = config["SQS_DEAD_LETTER_QUEUE_NAME"]
    policy = attributes.get("RedrivePolicy")
    problems.extend(redrive_problems(url, policy, dead_letters))
    return problems


def longest_hold(config):
    """Seconds a worker may hold a retry's message, and the settings that say so.

    A retry waits in the worker until its countdown ends, then looks the
    address up; only then is the message deleted.
    """
    names = ["GEO_RETRY_BACKOFF_MAX"]
    if config["GEO_PROVIDER"] == "rest":
        names += ["GEO_REST_CONNECT_TIMEOUT", "GEO_REST_READ_TIMEOUT"]
    return sum(config[name] for name in names), " + ".join(names)


def redrive_problems(url, policy_text, dead_letters):
    """Problems with a queue's redrive policy (its dead-letter queue)."""
    if not policy_text:
        return [
            f"queue {url} has no redrive policy: a message no worker can "
            "finish is received again forever"
        ]
    try:
        policy = json.loads(policy_text)
        target = policy["deadLetterTargetArn"]
    except (ValueError, KeyError, TypeError):
        return [f"queue {url} has a redrive policy that does not parse"]
    if not target.endswith(f":{dead_letters}"):
        return [
            f"queue {url} sends dead letters to {target or 'nowhere'}, not to "
            f"SQS_DEAD_LETTER_QUEUE_NAME ({dead_letters})"
        ]
    return []
