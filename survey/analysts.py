"""The analysts' blueprint: sign-in, the search page, the map, the JSON API,
the streamed exports and the erasure of one address's answers.

Every route except /login needs an analyst: pages redirect to /login, the
API answers 401. Query parameters are checked by the forms of
analyst_forms. No response of this blueprint may be kept by a browser or a
proxy: the pages and the API carry email addresses and essays.
"""

import logging
from datetime import UTC, datetime
from itertools import chain

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from opensearchpy.exceptions import TransportError

from survey import auth, errors, privacy, search
from survey.analyst_forms import (
    ApiSearchForm,
    EraseForm,
    LoginForm,
    MapDataForm,
    MapForm,
    SearchForm,
    unknown_parameters,
)
from survey.exports import MEDIA_TYPES, WRITERS
from survey.services import services

logger = logging.getLogger(__name__)

bp = Blueprint("analysts", __name__)

ATTRIBUTION = "IP geolocation by DB-IP"
ATTRIBUTION_URL = "https://db-ip.com"
ATTRIBUTION_LICENCE = "CC BY 4.0"
REJECTED = "q: these words cannot be run as a search; simplify them"
# Parameters the search page keeps when it links to an export or another page.
PAGING = ("page", "size", "format")


@bp.app_context_processor
def analyst_globals():
    return {
        # A function, so pages that never ask do not read the session.
        "current_analyst": auth.session_analyst,
        "attribution": {
            "text": ATTRIBUTION,
            "url": ATTRIBUTION_URL,
            "licence": ATTRIBUTION_LICENCE,
        },
    }


@bp.after_request
def not_stored(response):
    """Keep every answer of this blueprint, errors and redirects too, uncached."""
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- sign-in


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    target = auth.safe_next(request.args.get("next")) or url_for("analysts.answers")
    if request.method == "GET":
        if auth.session_analyst():
            return redirect(target)
        return render_template("analysts/login.html", form=form)

    wait = auth.login_wait()
    if wait:
        page, status = render_login(
            form, 429, "Too many failed sign-ins: please wait and try again."
        )
        return page, status, {"Retry-After": str(wait)}
    if not form.validate():
        return render_login(form, 400, "Enter your name and password.")
    if not auth.attempt_login(form.name.data, form.password.data):
        return render_login(form, 401, "That name and password do not match.")

    auth.start_session(form.name.data)
    return redirect(target, code=303)


def render_login(form, status, message):
    form.password.data = ""
    page = render_template("analysts/login.html", form=form, message=message)
    return page, status


@bp.route("/logout", methods=["POST"])
def logout():
    auth.end_session()
    return redirect(url_for("analysts.login"), code=303)


# ---------------------------------------------------------------- searching


def read_parameters(form_class):
    """The form over the query string, and its problems (empty when valid)."""
    form = form_class(formdata=request.args)
    problems = unknown_parameters(request.args, form)
    if not form.validate():
        problems += form.problems()
    return form, problems


def index_and_client():
    return current_app.config["OPENSEARCH_INDEX"], services().opensearch


@bp.errorhandler(search.SearchRejected)
def rejected_words(error):
    if errors.wants_json():
        return api_problem([REJECTED])
    return errors.render_error(400, REJECTED)


@bp.errorhandler(TransportError)
def opensearch_failed(error):
    """OpenSearch unreachable or failing: 503, without its error text."""
    logger.error(
        "%s on %s: OpenSearch %s",
        request.endpoint,
        current_app.config["OPENSEARCH_INDEX"],
        error.__class__.__name__,
    )
    return errors.render_error(503)


def api_problem(problems, status=400):
    return jsonify(error="; ".join(problems), problems=problems, status=status), status


def kept_parameters(drop=PAGING):
    return {name: value for name, value in request.args.items() if name not in drop}


@bp.route("/answers")
@auth.page_login_required
def answers():
    form, problems = read_parameters(SearchForm)
    if problems:
        return render_answers(form, None, problems, 400)

    index, client = index_and_client()
    results = search.search_answers(client, index, form.criteria())

    for answer in results.answers:
        answer["highlight"] = [Markup(fragment) for fragment in answer["highlight"]]
    return render_answers(form, results, [], 200)


def render_answers(form, results, problems, status):
    page = render_template(
        "analysts/answers.html",
        form=form,
        results=results,
        problems=problems,
        kept=kept_parameters(),
    )
    return page, status


@bp.route("/api/answers")
@auth.api_login_required
def api_answers():
    form, problems = read_parameters(ApiSearchForm)
    if problems:
        return api_problem(problems)

    criteria = form.criteria()
    if form.format.data and form.format.data != "json":
        return export(criteria, form.format.data)

    index, client = index_and_client()
    results = search.search_answers(client, index, criteria)

    return jsonify(
        total=results.total,
        page=results.page,
        size=results.size,
        pages=results.pages,
        answers=results.answers,
        attribution=f"{ATTRIBUTION} ({ATTRIBUTION_LICENCE}), {ATTRIBUTION_URL}",
    )


# ---------------------------------------------------------------- exports


@bp.route("/answers/export.<kind>")
@auth.page_login_required
def export_page(kind):
    if kind not in WRITERS:
        return errors.render_error(404)
    form, problems = read_parameters(SearchForm)
    if problems:
        return errors.render_error(400, "; ".join(problems))
    return export(form.criteria(), kind)


def export(criteria, kind):
    """Stream every matching answer in `kind`; only the first batch is awaited."""
    index, client = index_and_client()
    batch = current_app.config["SURVEY_EXPORT_BATCH"]
    found = search.iterate_answers(client, index, criteria, batch)
    # The first batch is fetched before the response starts, so a query that
    # cannot run still gets a proper status.
    first = next(found, None)

    answers = chain([first], found) if first is not None else iter(())
    body = WRITERS[kind](counted(answers, index, kind, auth.login_tag()))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # content_type, not mimetype: Werkzeug would add a second charset.
    response = Response(body, content_type=MEDIA_TYPES[kind])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="answers-{stamp}.{kind}"'
    )
    return response


def counted(answers, index, kind, login):
    """Pass answers through, logging how many went out and whether all did.

    `login` is read before streaming starts: the session is gone by then.
    """
    count = 0
    try:
        for answer in answers:
            count += 1
            yield answer
    except Exception as error:
        logger.error(
            "%s export from %s (login %s) stopped after %d answers: %s",
            kind,
            index,
            login,
            count,
            error.__class__.__name__,
        )
        raise
    logger.info(
        "%s export from %s (login %s) sent %d answers", kind, index, login, count
    )


# ---------------------------------------------------------------- the map


@bp.route("/map")
@auth.page_login_required
def map_page():
    form, problems = read_parameters(MapForm)
    page = render_template(
        "analysts/map.html", form=form, problems=problems, kept=kept_parameters()
    )
    return page, 400 if problems else 200


@bp.route("/api/map")
@auth.api_login_required
def api_map():
    form, problems = read_parameters(MapDataForm)
    if problems:
        return api_problem(problems)

    index, client = index_and_client()
    max_points = current_app.config["SURVEY_MAP_MAX_POINTS"]
    zoom = form.parsed.get("zoom", 2)
    data = search.map_data(client, index, form.criteria(), zoom, max_points)

    data["attribution"] = f"{ATTRIBUTION} ({ATTRIBUTION_LICENCE})"
    return jsonify(data)


# ---------------------------------------------------------------- erasure


@bp.route("/answers/erase", methods=["GET", "POST"])
@auth.page_login_required
def erase():
    form = EraseForm()
    if request.method == "GET":
        return render_template("analysts/erase.html", form=form)
    if not form.validate():
        return render_template("analysts/erase.html", form=form), 400

    index, client = index_and_client()
    deleted = privacy.erase_answers(client, index, form.email.data)

    logger.info(
        "analyst %s (login %s) erased %d answers of one address from %s",
        auth.session_analyst(),
        auth.login_tag(),
        deleted,
        index,
    )
    noun = "answer" if deleted == 1 else "answers"
    flash(f"Erased {deleted} {noun} of that address.", "success")
    return redirect(url_for("analysts.erase"), code=303)
