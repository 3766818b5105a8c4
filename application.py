"""The web app: the public quiz, and the app factory.

Elastic Beanstalk and gunicorn import ``application``. Building it talks to no
service; OpenSearch and SQS are reached when a request needs them.
"""

import logging
import sys
import uuid
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_bootstrap import Bootstrap5
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from opensearchpy.exceptions import ConnectionError as OpenSearchUnreachable
from opensearchpy.exceptions import TransportError
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ConfigError, load_config, require
from forms import QuizForm
from survey import errors, store
from survey.broker import enqueue_location
from survey.geolocation import is_locatable, parse_address
from survey.logs import configure_logging
from survey.privacy import stored_address
from survey.services import Services, services
from survey.store import GeoStatus

logger = logging.getLogger(__name__)

bp = Blueprint("quiz", __name__)

FORM_TOKEN_SALT = "quiz-form"
URLENCODED = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024


def max_form_bytes(essay_max_chars):
    """Room for the longest essay percent-encoded (up to 12 bytes a
    character: 4 UTF-8 bytes, 3 characters each) and the other fields."""
    return max(MAX_FORM_BYTES, 12 * essay_max_chars + 4096)


def create_app(overrides=None):
    """Build the app: defaults, then the environment, then `overrides`."""
    config = load_config(overrides=overrides)
    require(config, "SECRET_KEY")
    configure_logging(config["LOG_LEVEL"])

    app = Flask(__name__)
    app.config.update(config)
    app.config.update(
        MAX_CONTENT_LENGTH=max_form_bytes(config["SURVEY_ESSAY_MAX_CHARS"]),
        WTF_CSRF_TIME_LIMIT=config["SURVEY_FORM_MAX_AGE"],
        BOOTSTRAP_SERVE_LOCAL=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config["SURVEY_SECURE_COOKIES"],
    )

    proxies = config["SURVEY_TRUSTED_PROXIES"]
    if proxies:
        # Each proxy appends to X-Forwarded-For; only the load balancer sets
        # X-Forwarded-Proto, so one value of it is trusted.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=1)

    Bootstrap5(app)
    # Keep the quiz's raw body before CSRFProtect parses the form: the view
    # checks it for invalid UTF-8, which form parsing would paper over.
    app.before_request(keep_raw_quiz_body)
    CSRFProtect(app)
    app.extensions["survey"] = Services(config)
    app.register_blueprint(bp)
    errors.register(app)
    app.register_error_handler(CSRFError, handle_csrf_error)
    register_extensions(app)
    return app


def register_extensions(app):
    """Blueprints and commands that live in their own modules."""
    from survey import analysts, commands, health

    app.register_blueprint(health.bp)
    app.register_blueprint(analysts.bp)
    commands.register(app)


def keep_raw_quiz_body():
    if request.method == "POST" and request.endpoint == "quiz.take_test":
        request.get_data(cache=True)


def handle_csrf_error(error):
    """A missing or stale CSRF token: show the quiz again with the answers."""
    if request.endpoint != "quiz.take_test":
        return errors.render_error(400, "This form has expired. Please reload it.")
    form = new_quiz_form(meta={"csrf": True})
    form.form_token.data = None
    # A body that cannot be parsed also has no readable token: say what is
    # really wrong with it.
    problem = form_body_problem(form)
    if problem:
        return render_quiz(form, *problem)
    return render_quiz(
        form,
        400,
        "This form has expired or was not sent from this site. "
        "Please check your answer and send it again.",
    )


# ---------------------------------------------------------------- form tokens


def token_serializer():
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=FORM_TOKEN_SALT
    )


def issue_form_token():
    """A signed id for the answer this form will create, stamped with the time."""
    return token_serializer().dumps(uuid.uuid4().hex)


def read_form_token(token):
    """(answer id, seconds since the form was shown), or None when not valid."""
    max_age = current_app.config["SURVEY_FORM_MAX_AGE"]
    try:
        doc_id, issued = token_serializer().loads(
            token or "", max_age=max_age, return_timestamp=True
        )
    except (BadSignature, SignatureExpired):
        return None
    age = (store.utcnow() - issued).total_seconds()
    return doc_id, age


# ---------------------------------------------------------------- views


def new_quiz_form(**kwargs):
    # Flask-WTF would parse a JSON body and raise on a bad one, even inside
    # an error handler; such bodies are refused with 415 instead.
    if request.method == "POST" and request.is_json:
        kwargs.setdefault("formdata", None)
    return QuizForm(
        essay_max_chars=current_app.config["SURVEY_ESSAY_MAX_CHARS"], **kwargs
    )


def render_quiz(form, status=200, message=None):
    if not form.form_token.data or read_form_token(form.form_token.data) is None:
        form.form_token.data = issue_form_token()
    return (
        render_template(
            "quiz.html",
            form=form,
            question=current_app.config["SURVEY_QUESTION"],
            message=message,
        ),
        status,
    )


@bp.route("/", methods=["GET", "POST"], provide_automatic_options=False)
def take_test():
    form = new_quiz_form()
    if request.method in ("GET", "HEAD"):
        return render_quiz(form)

    problem = form_body_problem(form)
    if problem:
        return render_quiz(form, *problem)
    if not form.validate():
        return render_quiz(form, 400, "Please correct the marked fields.")

    token = read_form_token(form.form_token.data)
    if token is None:
        form.form_token.data = None
        return render_quiz(
            form,
            400,
            "This form has expired. Please check your answer and send it again.",
        )

    doc_id, seconds_to_fill = token
    return store_submission(form, doc_id, seconds_to_fill)


def form_body_problem(form):
    """(status, why) when the raw body is not a quiz submission, else None."""
    if request.mimetype != URLENCODED:
        return 415, "The form was sent in an encoding this page does not accept."
    try:
        pairs = parse_qsl(
            request.get_data(cache=True).decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=len(form.field_names) + 1,
        )
    except (UnicodeDecodeError, ValueError):
        return 400, (
            "The form contained text that is not valid Unicode, or too many fields."
        )

    names = [name for name, _ in pairs]
    if set(names) - form.field_names or len(names) != len(set(names)):
        return 400, "The form contained fields this page does not know."
    return None


def spam_reasons(form, seconds_to_fill):
    reasons = []
    if form.website.data:
        reasons.append("honeypot")
    if seconds_to_fill < current_app.config["SURVEY_MIN_FILL_SECONDS"]:
        reasons.append("too_fast")
    return reasons


def store_submission(form, doc_id, seconds_to_fill):
    """One OpenSearch write and one SQS send, then a redirect."""
    config = current_app.config
    reasons = spam_reasons(form, seconds_to_fill)
    address = stored_address(request.remote_addr, config)
    if reasons:
        status = GeoStatus.SKIPPED
    elif address and is_locatable(parse_address(address)):
        status = GeoStatus.PENDING
    else:
        status = GeoStatus.UNLOCATABLE
        if config["SURVEY_DROP_IP_AFTER_LOCATE"]:
            address = None

    fields = {
        "essay_question": form.essay_question.data,
        "email_addr": form.email_addr.data,
        "client_ip_addr": address,
        "is_spam": bool(reasons),
        "spam_reasons": reasons,
        "geo_status": status,
    }
    index = config["OPENSEARCH_INDEX"]
    client = services().opensearch
    try:
        created = store.save_answer(client, index, doc_id, fields)
        # A form sent again after a failed or lost answer finds its answer
        # stored: queue it again unless the first request can still be doing so.
        needs_task = status == GeoStatus.PENDING and (
            created
            or store.awaits_location(client, index, doc_id, config["SQS_SEND_TIMEOUT"])
        )
    except (OpenSearchUnreachable, TransportError) as error:
        logger.error(
            "could not store answer %s in %s: %s",
            doc_id,
            index,
            error.__class__.__name__,
        )
        return render_quiz(
            form,
            503,
            "We could not save your answer just now. Nothing was lost: please "
            "send it again in a moment.",
        )

    if needs_task:
        send_location_task(doc_id, address)
    return redirect(url_for("quiz.thanks"), code=303)


def send_location_task(doc_id, address):
    """Enqueue geolocation; a failure leaves the answer for the backfill."""
    try:
        enqueue_location(services().celery, doc_id, address)
    except Exception as error:
        logger.warning(
            "could not enqueue geolocation of answer %s (%s); "
            "`flask backfill-locations` will pick it up",
            doc_id,
            error.__class__.__name__,
        )


@bp.route("/thanks")
def thanks():
    return render_template("thanks.html")


def build_application():
    """The module's app; a missing or bad setting ends the process with its name."""
    try:
        return create_app()
    except ConfigError as error:
        sys.exit(f"survey: cannot start: {error}")


application = build_application()
