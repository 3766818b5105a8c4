"""Error pages: a clear message and the right status, never a stack trace."""

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in to see this page.",
    403: "You are not allowed to do that.",
    404: "There is no page at this address.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is too large.",
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
    response = render_error(error.code, getattr(error, "survey_message", None))
    if error.code == 405 and error.valid_methods:
        response[0].headers["Allow"] = ", ".join(error.valid_methods)
    return response


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
