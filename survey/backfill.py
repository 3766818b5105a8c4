"""`flask backfill-locations`: enqueue geolocation for answers that lack it.

Safe while the app is live and safe to repeat: each answer it enqueues gets
``geo_enqueued_at``, and answers enqueued less than --min-age seconds ago are
left alone, so a second run does not queue the same work again.
"""

import logging
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from opensearchpy.exceptions import ConnectionError as OpenSearchUnreachable
from opensearchpy.exceptions import TransportError
from opensearchpy.helpers import bulk

from survey import search, store
from survey.broker import enqueue_location
from survey.services import services

logger = logging.getLogger(__name__)


def default_min_age(config):
    """Twice the visibility timeout: by then a delivered task has run or returned."""
    return 2 * config["SQS_VISIBILITY_TIMEOUT"]


def batches(items, size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def mark_enqueued(client, index, doc_ids, moment):
    """Record `geo_enqueued_at` on each answer before its task is sent."""
    actions = (
        {
            "_op_type": "update",
            "_index": index,
            "_id": doc_id,
            "doc": {"geo_enqueued_at": moment},
            "retry_on_conflict": 5,
        }
        for doc_id in doc_ids
    )
    # wait_for: a second run right after this one already sees the marks.
    _, failures = bulk(client, actions, raise_on_error=False, refresh="wait_for")
    failed = {failure["update"]["_id"] for failure in failures}
    return [doc_id for doc_id in doc_ids if doc_id not in failed]


def enqueue_batch(client, celery, index, batch):
    """(enqueued, failed, still marked) for a batch of (document id, address).

    "Still marked" counts failed answers whose mark could not be taken back:
    the next run leaves them alone until --min-age has passed.
    """
    moment = store.utcnow().isoformat()
    addresses = dict(batch)
    marked = mark_enqueued(client, index, list(addresses), moment)
    failed = len(batch) - len(marked)

    enqueued = stuck = 0
    for doc_id in marked:
        try:
            enqueue_location(celery, doc_id, addresses[doc_id])
            enqueued += 1
        except Exception as error:
            failed += 1
            logger.warning(
                "could not enqueue answer %s: %s", doc_id, error.__class__.__name__
            )
            stuck += not clear_mark(client, index, doc_id)
    return enqueued, failed, stuck


def clear_mark(client, index, doc_id):
    """Take back the enqueued mark of an answer whose task was not sent."""
    try:
        store.update_answer(client, index, doc_id, {"geo_enqueued_at": None})
    except (OpenSearchUnreachable, TransportError) as error:
        logger.warning(
            "could not clear the enqueued mark of answer %s: %s",
            doc_id,
            error.__class__.__name__,
        )
        return False
    return True


@click.command("backfill-locations")
@with_appcontext
@click.option(
    "--dry-run", is_flag=True, help="Count what would be enqueued; send nothing."
)
@click.option(
    "--min-age",
    type=click.IntRange(min=0),
    default=None,
    help="Skip answers enqueued less than this many seconds ago "
    "(default: twice SQS_VISIBILITY_TIMEOUT).",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True
)
def backfill_locations(dry_run, min_age, batch_size):
    """Enqueue tasks.get_location for answers never located or whose lookup failed."""
    config = current_app.config
    index = config["OPENSEARCH_INDEX"]
    client = services().opensearch
    min_age = default_min_age(config) if min_age is None else min_age
    cutoff = store.utcnow() - timedelta(seconds=min_age)

    total = search.count_unlocated(client, index, cutoff)
    recent = search.count_unlocated(client, index, None) - total
    if dry_run:
        click.echo(
            f"dry run: would enqueue {total} answers from {index}; "
            f"{recent} enqueued in the last {min_age} s are left alone"
        )
        return

    found = search.iterate_unlocated(client, index, cutoff, batch_size)
    enqueued = failed = stuck = 0
    with click.progressbar(length=total, label="enqueueing") as bar:
        for batch in batches(found, batch_size):
            counts = enqueue_batch(client, services().celery, index, batch)
            enqueued += counts[0]
            failed += counts[1]
            stuck += counts[2]
            bar.update(len(batch))

    logger.info(
        "backfill on %s enqueued %d, failed %d, %d still marked",
        index,
        enqueued,
        failed,
        stuck,
    )
    click.echo(
        f"enqueued {enqueued} answers, failed {failed}, from {index}; "
        f"{recent} enqueued in the last {min_age} s were left alone"
    )
    if stuck:
        click.echo(
            f"{stuck} failed answers are still marked as enqueued: "
            f"run again with --min-age 0 once OpenSearch is well"
        )
    if failed:
        raise SystemExit(1)


def register(app):
    app.cli.add_command(backfill_locations)
