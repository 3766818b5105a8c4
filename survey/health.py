"""Health endpoints: `/healthz` for the load balancer, `/readyz` for operators."""

import logging
import time

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


READINESS_TTL = 5.0


@bp.route("/readyz")
def readyz():
    """Whether OpenSearch and SQS answer; 503 when either does not. Answers
    are reused for a few seconds, so callers cannot make the app hammer them."""
    cached = current_app.extensions.get("survey_readiness")
    if cached and cached[0] > time.monotonic():
        return cached[1]

    response = readiness()
    current_app.extensions["survey_readiness"] = (
        time.monotonic() + READINESS_TTL,
        response,
    )
    return response


def readiness():
    config = current_app.config
    parts = {
        "opensearch": checks.opensearch_problems(config, services().opensearch),
        "sqs": checks.sqs_problems(config, services().sqs),
    }
    for name, problems in parts.items():
        if problems:
            logger.warning("readiness: %s has %d problem(s)", name, len(problems))

    body = {
        name: "ok" if not problems else "failing" for name, problems in parts.items()
    }
    ready = not any(parts.values())
    return jsonify(status="ok" if ready else "failing", **body), 200 if ready else 503
