"""A Celery consumer that moves messages it cannot run to the dead-letter
queue instead of deleting them (Celery's default) or logging their bodies."""

import logging

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


def dead_letter_raw(message, dead_letter_queue):
    """Copy a message's SQS body, as received, to the dead-letter queue."""
    delivery = message.delivery_info
    body = delivery["sqs_message"]["Body"]
    client = message.channel.sqs(queue=dead_letter_queue)
    url = message.channel.predefined_queues[dead_letter_queue]["url"]
    client.send_message(QueueUrl=url, MessageBody=body)


def pin_routing_key(message):
    """Name the queue a message was received from as its routing key.

    kombu acknowledges an SQS message through the queue its body's
    routing_key names; a body naming any other queue (a foreign or forged
    message) could then never be deleted, and the failed ack stops the
    consumer. The queue it really came from is the one that counts.
    """
    delivery = message.delivery_info
    received_from = delivery.get("sqs_queue")
    for name, queue in message.channel.predefined_queues.items():
        if queue["url"] == received_from:
            delivery["routing_key"] = name
            return


class DeadLetteringConsumer(Consumer):
    """Unreadable and unknown messages go to the dead-letter queue."""

    def create_task_handler(self, *args, **kwargs):
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message):
            pin_routing_key(message)
            return handle(message)

        return on_task_received

    def set_aside(self, message, why):
        queue = self.app.conf.survey_dead_letter_queue
        try:
            dead_letter_raw(message, queue)
        except Exception:
            logger.exception("could not move a message (%s) to %s", why, queue)
            message.reject(requeue=True)
            return
        message.ack()
        logger.error("moved a message (%s) to the dead-letter queue %s", why, queue)

    def on_decode_error(self, message, exc):
        self.set_aside(message, "undecodable")

    def on_unknown_message(self, body, message):
        self.set_aside(message, "unrecognised")

    def on_unknown_task(self, body, message, exc):
        self.set_aside(message, "unknown-task")

    def on_invalid_task(self, body, message, exc):
        self.set_aside(message, "invalid-task")
