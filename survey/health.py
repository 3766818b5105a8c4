"""Health endpoints: `/healthz` for the load balancer, `/readyz` for operators."""

import logging

from flask import Blueprint, current_app, jsonify

from survey import checks
from survey.services import services

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """The process serves requests. Touches no service, so an outage of
    OpenSearch, SQS or geolocation never takes instances out of rotation."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """Whether OpenSearch and SQS answer; 503 when either does not."""
    config = current_app.config
    parts = {
        "opensearch": checks.opensearch_problems(config, services().opensearch),
        "sqs": checks.sqs_problems(config),
    }
    for name, problems in parts.items():
        if problems:
            logger.warning("readiness: %s has %d problem(s)", name, len(problems))

    body = {
        name: "ok" if not problems else "failing" for name, problems in parts.items()
    }
    ready = not any(parts.values())
    return jsonify(status="ok" if ready else "failing", **body), 200 if ready else 503
