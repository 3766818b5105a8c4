"""gunicorn settings; gunicorn reads this file from its working directory.

Bind address, workers and threads come from the command line (see the
Procfile). Here: a start-up check of the settings and the answer index,
before any worker.
"""

import sys

# The control socket's default path is shared by every gunicorn of the user;
# nothing here uses it.
control_socket_disable = True


def on_starting(server):
    """Refuse to start without the required settings, or against an index
    whose `geo` is not a geo_point.

    Checked here, in the master, because a worker that fails to load the app
    is only replaced by another that fails the same way. An unreachable
    OpenSearch only warns: a brief outage must not stop a deploy, and the
    quiz answers 503 until it is back.
    """
    problems = startup_problems(server.log)
    if problems:
        for problem in problems:
            server.log.error("refusing to start: %s", problem)
        sys.exit("survey: refusing to start: " + "; ".join(problems))


def startup_problems(log):
    """Problems with the settings or the index's mapping; empty when none known."""
    from opensearchpy.exceptions import OpenSearchException

    from config import ConfigError, load_config, require
    from survey import store
    from survey.awsauth import MissingCredentials

    try:
        config = load_config()
        require(config, "SECRET_KEY")
        client = store.make_client(config)
        index = config["OPENSEARCH_INDEX"]
        if not client.indices.exists(index=index):
            log.warning("index %s does not exist yet: run `flask init-index`", index)
            return []
        return store.mapping_problems(client, index)
    except (ConfigError, MissingCredentials) as error:
        return [str(error)]
    except OpenSearchException as error:
        log.warning(
            "could not check the index mapping (%s); starting anyway",
            type(error).__name__,
        )
        return []


def post_fork(server, worker):
    """gunicorn's own error log does not pass through the app's handlers: give
    it the same redaction, since it can quote a request's address and query."""
    from survey.logs import RedactingFilter

    for handler in server.log.error_log.handlers:
        handler.addFilter(RedactingFilter())
