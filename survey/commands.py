"""`flask` commands for operators."""

import logging

import click
from flask import current_app

from survey import store
from survey.services import services

logger = logging.getLogger(__name__)


@click.command("init-index")
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


def register(app):
    app.cli.add_command(init_index)
