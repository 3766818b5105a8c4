"""Error pages: a clear message and the right status, never a stack trace."""

import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

# A 413 reads and discards up to this much of the refused body first: a server
# that closes a connection with unread data resets it, and the sender then
# sees "connection reset" instead of the page. Past this, it is reset anyway.
DRAIN_LIMIT = 16 * 1024 * 1024
DRAIN_CHUNK = 64 * 1024

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in to see this page.",
    403: "You are not allowed to do that.",
    404: "There is no page at this address.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is too large for this page. If it was your answer, "
    "please shorten it and send it again.",
    415: "What you sent is in a format this page does not accept.",
    429: "Too many requests: please wait a moment and try again.",
    500: "Something went wrong on our side. Please try again.",
    503: "The service is briefly unavailable. Please try again in a moment.",
}


def wants_json():
    return request.path.startswith("/api/")


def render_error(code, message=None):
    message = message or MESSAGES.get(code, "The request failed.")
    if wants_json():
        return jsonify(error=message, status=code), code
    return render_template("error.html", code=code, message=message), code


def handle_http_error(error):
    if error.code == 413:
        drain_body()
    response = make_response(
        render_error(error.code, getattr(error, "survey_message", None))
    )
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def drain_body():
    """Read what is left of the request body, up to DRAIN_LIMIT bytes."""
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return

    remaining = min(request.content_length or DRAIN_LIMIT, DRAIN_LIMIT)
    try:
        while remaining > 0:
            chunk = stream.read(min(DRAIN_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError) as error:
        logger.info("gave up reading a refused body: %s", type(error).__name__)


def handle_unexpected(error):
    original = getattr(error, "original_exception", None) or error
    logger.error(
        "unhandled %s on %s %s",
        type(original).__name__,
        request.method,
        request.endpoint,
        exc_info=original,
    )
    return render_error(500)


def register(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.after_request(set_security_headers)


def set_security_headers(response):
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response
