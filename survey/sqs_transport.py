"""kombu's SQS transport, made to keep polling a queue through an SQS outage.

The worker polls each queue with a chain of callbacks on kombu's event loop:
a receive is sent, its answer is handed to the consumer, and the next receive
is scheduled. In kombu 5.7 a failed receive breaks that chain for good. The
asynchronous client answers a connection error, a timeout or a 5xx with an
empty list where a parsed answer (a dict) is expected, and raises for any
other status (a queue that does not exist yet, for instance); nothing catches
either, so the worker stays up but never receives again.

Here a failed receive counts as an empty poll: the next one follows after a
growing delay, and the normal polling interval returns with the first answer.
"""

import logging
import re
from functools import partial

from kombu.transport import SQS
from vine import ensure_promise, promise

logger = logging.getLogger(__name__)

# How kombu's asynchronous client words an HTTP status it does not expect.
HTTP_STATUS = re.compile(r"^Request .*?HTTP (\d{3}) ")


class ReceiveFailed:
    """The answer to a receive that raised instead of answering."""

    def __init__(self, error):
        self.error = error


def describe_failure(answer):
    """A failed receive in a few words, without what the error may quote.

    An error can quote the response body, and a body that failed to parse
    may hold messages, so only a status or the error's type is told.
    """
    if not isinstance(answer, ReceiveFailed):
        return "no answer: connection error, timeout or server error"

    match = HTTP_STATUS.match(str(answer.error))
    if match:
        return f"HTTP {match.group(1)}"
    return type(answer.error).__name__


class Channel(SQS.Channel):
    """An SQS channel whose polling survives failed receives."""

    #: Seconds before the poll after a first failed receive; doubled after
    #: each further failure, up to failed_poll_delay_max.
    failed_poll_delay = 0.5
    failed_poll_delay_max = 5.0

    def __init__(self, *args, **kwargs):
        # Consecutive failed receives, by queue name.
        self._failed_polls = {}
        super().__init__(*args, **kwargs)

    def _get_from_sqs(self, queue_name, queue_url, connection, count=1, callback=None):
        """Receive, handing an error raised on the answer on as a ReceiveFailed."""
        callback = ensure_promise(callback)
        guarded = promise(callback, on_error=partial(self._on_receive_error, callback))
        return super()._get_from_sqs(
            queue_name, queue_url, connection, count=count, callback=guarded
        )

    def _on_receive_error(self, callback, error):
        callback(ReceiveFailed(error))

    def _on_messages_ready(self, queue, qname, messages):
        if not isinstance(messages, dict):
            self._note_failed_poll(qname, messages)
            return 0

        self._note_answered_poll(qname)
        try:
            return super()._on_messages_ready(queue, qname, messages)
        except Exception as error:
            # Whatever was not handed over stays in SQS and comes back after
            # the visibility timeout; polling must go on either way.
            logger.error(
                "could not hand over messages received from queue %s (%s)",
                qname,
                type(error).__name__,
            )
            return 0

    def _schedule_queue(self, queue):
        try:
            super()._schedule_queue(queue)
        except Exception as error:
            # Raised before a request went out (credentials, for instance), so
            # no answer will come to schedule the next poll.
            self._note_failed_poll(queue, ReceiveFailed(error))
            self._loop1(queue)

    def _loop1(self, queue, messages_fetched=None):
        failures = self._failed_polls.get(queue, 0)
        if not failures:
            super()._loop1(queue, messages_fetched)
            return

        self.hub.call_later(self.retry_delay(failures), self._schedule_queue, queue)

    def retry_delay(self, failures):
        """Seconds before the next poll after `failures` failed receives in a row."""
        doublings = min(failures - 1, 16)
        return min(self.failed_poll_delay * 2**doublings, self.failed_poll_delay_max)

    def _note_failed_poll(self, queue, answer):
        failures = self._failed_polls.get(queue, 0) + 1
        self._failed_polls[queue] = failures
        if failures == 1:
            logger.warning(
                "receiving from queue %s failed (%s); polling again, at most "
                "every %g s, until it answers",
                queue,
                describe_failure(answer),
                self.failed_poll_delay_max,
            )
        else:
            logger.debug(
                "receive %d from queue %s failed (%s)",
                failures,
                queue,
                describe_failure(answer),
            )

    def _note_answered_poll(self, queue):
        failures = self._failed_polls.pop(queue, 0)
        if failures:
            logger.info(
                "queue %s answers again after %d failed receives", queue, failures
            )


class Transport(SQS.Transport):
    """kombu's SQS transport with a Channel that keeps polling."""

    Channel = Channel
