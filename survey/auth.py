"""Who may see the analyst pages and API, and how they prove it.

Pages use a login form and the Flask session; ``/api/`` accepts that session
or HTTP Basic credentials, so scripts and curl work. Users come from
SURVEY_ANALYSTS as ``name:hash`` pairs; there is no default password.
"""

import functools
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import urlsplit

import click
from flask import current_app, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from survey import errors, privacy

logger = logging.getLogger(__name__)

REALM = 'Basic realm="survey analysts", charset="UTF-8"'
# Addresses the failure table remembers; past this the oldest are forgotten.
MAX_ADDRESSES = 10000
# Control characters (C0, DEL, C1) and backslashes never belong in a local
# path, and urlsplit drops tab, CR and LF before looking at one.
UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


class Analysts:
    """The configured logins, parsed once per value of SURVEY_ANALYSTS."""

    def __init__(self, value):
        self.hashes = parse_analysts(value)
        # Checked when the name is unknown, so a wrong name costs the same time.
        self.decoy = generate_password_hash(secrets.token_urlsafe(16))

    def check(self, name, password):
        """True when `name` is configured and `password` matches its hash."""
        stored = self.hashes.get(name)
        matches = check_password_hash(stored or self.decoy, password or "")
        return stored is not None and matches

    def fingerprint(self, name):
        """A short digest of the user's hash; changing the password changes it."""
        stored = self.hashes.get(name)
        if stored is None:
            return None
        return hashlib.sha256(stored.encode()).hexdigest()[:16]


def parse_analysts(value):
    """``{name: hash}`` from ``name:hash,name:hash`` (a hash holds colons).

    An entry is logged by its position only: a mistyped one may hold a
    plain password.
    """
    hashes = {}
    entries = [entry.strip() for entry in (value or "").split(",")]
    for position, entry in enumerate(entries, start=1):
        name, _, hashed = entry.partition(":")
        if not entry:
            continue
        if not name or "$" not in hashed:
            logger.warning(
                "SURVEY_ANALYSTS entry %d has no password hash; ignored", position
            )
        elif not known_method(hashed):
            logger.warning(
                "SURVEY_ANALYSTS entry %d uses a hash method werkzeug cannot "
                "check; ignored",
                position,
            )
        else:
            hashes[name] = hashed
    return hashes


def known_method(hashed):
    """True when werkzeug can check a password against `hashed`.

    Tried once here, so an unknown method costs a warning at start-up
    rather than a ValueError on every sign-in.
    """
    try:
        check_password_hash(hashed, "")
    except ValueError:
        return False
    return True


def analysts():
    """The Analysts of the current app."""
    value = current_app.config.get("SURVEY_ANALYSTS", "")
    cached = current_app.extensions.get("survey_analysts")
    if cached is None or cached[0] != value:
        cached = (value, Analysts(value))
        current_app.extensions["survey_analysts"] = cached
    return cached[1]


class FailureLimiter:
    """Counts failed logins per client address within a sliding window.

    At most `capacity` addresses are kept: a new one pushes out the address
    that failed least recently, never every lockout at once.
    """

    def __init__(self, capacity=MAX_ADDRESSES):
        self.lock = threading.Lock()
        self.capacity = capacity
        self.failures = OrderedDict()

    def retry_after(self, key, limit, window):
        """Seconds until `key` may try again, or 0."""
        now = time.monotonic()
        with self.lock:
            recent = self.failures.get(key)
            if not recent:
                return 0
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) < limit:
                return 0
            return max(1, int(recent[0] + window - now) + 1)

    def record(self, key):
        with self.lock:
            recent = self.failures.setdefault(key, deque())
            recent.append(time.monotonic())
            self.failures.move_to_end(key)
            while len(self.failures) > self.capacity:
                self.failures.popitem(last=False)

    def forget(self, key):
        with self.lock:
            self.failures.pop(key, None)


def limiter():
    return current_app.extensions.setdefault("survey_login_limiter", FailureLimiter())


def login_wait():
    """Seconds this client must wait before another attempt, or 0."""
    config = current_app.config
    return limiter().retry_after(
        request.remote_addr,
        config["SURVEY_LOGIN_MAX_FAILURES"],
        config["SURVEY_LOGIN_WINDOW"],
    )


def attempt_login(name, password):
    """Check credentials, counting a failure against this client's address."""
    if analysts().check(name, password):
        limiter().forget(request.remote_addr)
        return True

    limiter().record(request.remote_addr)
    logger.warning(
        "failed analyst login on %s %s, name digest %s",
        request.method,
        request.url_rule.rule,
        name_digest(name),
    )
    return False


def name_digest(name):
    """A short keyed digest of a submitted name, to audit guessing without it.

    Keyed with SECRET_KEY, so the log alone cannot be matched to a list of
    names; the same name always gives the same digest.
    """
    return privacy.keyed_digest(name, current_app.config["SECRET_KEY"])


def start_session(name):
    """Replace whatever the session held with a fresh signed-in one."""
    session.clear()
    session["analyst"] = name
    session["analyst_key"] = analysts().fingerprint(name)
    session["login_id"] = secrets.token_hex(8)
    session["login_at"] = time.time()
    logger.info("analyst %s signed in (login %s)", name, session["login_id"])


def end_session():
    name, login_id = session.get("analyst"), login_tag()
    session.clear()
    if name:
        logger.info("analyst %s signed out (login %s)", name, login_id)


def login_tag():
    """The id of this sign-in, for the log lines of what the analyst did.

    It ties a sign-in, its actions and its sign-out together in the log;
    "basic" for HTTP Basic requests, which have no sign-in.
    """
    return session.get("login_id") or "basic"


def session_analyst():
    """The signed-in analyst's name, or None when the session is not valid."""
    name = session.get("analyst")
    if not name:
        return None

    key = analysts().fingerprint(name)
    lifetime = current_app.config["SURVEY_ANALYST_SESSION_HOURS"] * 3600
    fresh = time.time() - session.get("login_at", 0) < lifetime
    if (
        key is None
        or not fresh
        or not hmac.compare_digest(key, session.get("analyst_key") or "")
    ):
        session.clear()
        return None
    return name


def basic_analyst():
    """The analyst named by valid HTTP Basic credentials, or None."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    if attempt_login(credentials.username, credentials.password):
        return credentials.username
    return None


def too_many_attempts(wait):
    response, code = errors.render_error(
        429, "Too many failed sign-ins: please wait and try again."
    )
    response.headers["Retry-After"] = str(wait)
    return response, code


def unauthorized():
    response, code = errors.render_error(
        401, "Sign in with an analyst name and password (HTTP Basic)."
    )
    response.headers["WWW-Authenticate"] = REALM
    return response, code


def page_login_required(view):
    """Send visitors who are not signed in to the login page."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if session_analyst() is None:
            target = request.full_path.rstrip("?")
            return redirect(url_for("analysts.login", next=target))
        return view(*args, **kwargs)

    return guarded


def api_login_required(view):
    """Answer 401 unless the session or HTTP Basic names an analyst."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if session_analyst() is not None:
            return view(*args, **kwargs)
        if request.authorization is None:
            return unauthorized()

        wait = login_wait()
        if wait:
            return too_many_attempts(wait)
        if basic_analyst() is None:
            return unauthorized()
        return view(*args, **kwargs)

    return guarded


def safe_next(target):
    """`target` when it is a path on this site, safe in a header, else None."""
    target = target or ""
    if UNSAFE_IN_PATH.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


@click.command("hash-password")
def hash_password():
    """Prompt for a password and print its hash for SURVEY_ANALYSTS."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="password")
    click.echo(generate_password_hash(password))


def register(app):
    """Add the `flask hash-password` command."""
    app.cli.add_command(hash_password)
