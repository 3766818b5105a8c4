"""`flask` commands that erase personal data: on request, and by age."""

import logging
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext
from opensearchpy.exceptions import ConnectionError as OpenSearchUnreachable
from opensearchpy.exceptions import NotFoundError, TransportError

from survey import privacy
from survey.services import services

logger = logging.getLogger(__name__)


def address_reference(email):
    """A keyed digest that names an address in a log without revealing it.

    Keyed with SECRET_KEY: an unkeyed hash would let anyone holding the log
    confirm a guessed address.
    """
    normalised = email.strip().lower()
    return privacy.keyed_digest(normalised, current_app.config["SECRET_KEY"])


@contextmanager
def reporting_search_errors(index):
    """Turn OpenSearch failures into a one-line error and exit status 1."""
    try:
        yield
    except privacy.ErasureIncomplete as error:
        raise click.ClickException(f"{error}: nothing is lost, run it again") from None
    except NotFoundError:
        raise click.ClickException(
            f"index {index} does not exist (run `flask init-index`)"
        ) from None
    except (OpenSearchUnreachable, TransportError) as error:
        raise click.ClickException(
            f"OpenSearch failed on {index}: {type(error).__name__}; "
            "it may have stopped part way: run it again"
        ) from None


@click.command("erase-email")
@with_appcontext
@click.argument("email")
def erase_email(email):
    """Delete every answer sent from EMAIL (any letter case); safe to rerun."""
    index = current_app.config["OPENSEARCH_INDEX"]
    with reporting_search_errors(index):
        deleted = privacy.erase_answers(services().opensearch, index, email)

    logger.info(
        "erase-email: %d answers of address #%s deleted from %s",
        deleted,
        address_reference(email),
        index,
    )
    click.echo(f"deleted {deleted} answers from {index}")


@click.command("purge-old")
@with_appcontext
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Age in days past which answers go (default: SURVEY_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Count the answers; delete nothing.")
def purge_old(days, dry_run):
    """Delete answers older than the retention period."""
    days = days or current_app.config["SURVEY_RETENTION_DAYS"]
    if not days or days < 1:
        raise click.UsageError(
            "no retention period: set SURVEY_RETENTION_DAYS or pass --days"
        )

    index = current_app.config["OPENSEARCH_INDEX"]
    client = services().opensearch
    with reporting_search_errors(index):
        if dry_run:
            count = privacy.count_older_than(client, index, days)
            verb = "would delete"
        else:
            count = privacy.purge_older_than(client, index, days)
            verb = "deleted"

    logger.info("purge-old: %s %d answers older than %d days", verb, count, days)
    click.echo(f"{verb} {count} answers older than {days} days from {index}")


def register(app):
    app.cli.add_command(erase_email)
    app.cli.add_command(purge_old)
