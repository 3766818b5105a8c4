"""`flask` commands for operators."""

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from survey import auth, backfill, checks, privacy_commands, store
from survey.services import services

logger = logging.getLogger(__name__)


@click.command("init-index")
@with_appcontext
def init_index():
    """Create the answer index and its template, or check an existing one."""
    client = services().opensearch
    index = current_app.config["OPENSEARCH_INDEX"]
    store.ensure_index(client, index)

    problems = store.mapping_problems(client, index)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"index {index} is ready")


@click.command("check-config")
@with_appcontext
def check_config():
    """Check settings, credentials, OpenSearch and the queues; say what is wrong."""
    problems = checks.all_problems(current_app.config)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("configuration and connections are all good")


def register(app):
    app.cli.add_command(init_index)
    app.cli.add_command(check_config)
    privacy_commands.register(app)
    backfill.register(app)
    auth.register(app)
