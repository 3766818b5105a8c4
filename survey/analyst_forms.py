"""Forms of the analyst pages: the search parameters, the login, the erasure.

``SearchForm`` checks the query string of the search page and the exports,
``ApiSearchForm`` adds the JSON API's ``format``, ``MapForm`` and
``MapDataForm`` keep the map to located answers; each turns the parameters
into a ``search.Criteria``, and every message names the parameter it is about.
Numbers take ASCII digits only: a regular expression's digit class and
``int`` also accept other scripts' digits, and ``$`` lets a final newline in.
"""

import re
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from survey.search import MAX_RESULT_WINDOW, Criteria

NUMBER = re.compile(r"[+-]?([0-9]{1,12}(\.[0-9]{0,15})?|\.[0-9]{1,15})")
WHOLE = re.compile(r"[0-9]{1,9}")
DISTANCE = re.compile(r"([0-9]{1,8}(?:\.[0-9]{1,6})?) *(km|m|mi)?", re.IGNORECASE)
KM_PER_UNIT = {"km": 1.0, "m": 0.001, "mi": 1.609344}
HALF_EARTH_KM = 20038.0
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_QUERY_WORDS = 40

SPAM_CHOICES = ("hide", "show", "only")
LOCATED_CHOICES = ("any", "yes", "no")
SORT_CHOICES = ("newest", "relevance")
FORMAT_CHOICES = ("json", "ndjson", "csv", "geojson")
# Why a parameter some other address takes is unknown here.
ELSEWHERE = {
    "format": "is a parameter of /api/answers only; an export's address ends "
    "in its format",
}


def parse_number(text, low, high):
    """A float within [low, high] from plain decimal text."""
    text = (text or "").strip()
    if not NUMBER.fullmatch(text):
        raise ValidationError(f"must be a number between {low:g} and {high:g}")
    value = float(text)
    if not low <= value <= high:
        raise ValidationError(f"must be between {low:g} and {high:g}")
    return value


def parse_moment(text, end_of_day=False):
    """An aware UTC datetime from an ISO 8601 date or date and time.

    With `end_of_day`, a bare date means the midnight that ends it.
    """
    text = (text or "").strip()
    try:
        moment = read_moment(text)
        if end_of_day and len(text) == 10:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)
    except ValueError:
        raise ValidationError(
            "must be a date (2025-01-31) or a date and time (2025-01-31T18:00:00Z)"
        ) from None
    except OverflowError:
        # A zone offset or the day added can move a moment past year 1 or 9999.
        raise ValidationError(
            "is out of range: moments run from 0001-01-01 to 9999-12-31 in UTC"
        ) from None


def read_moment(text):
    """The datetime `text` spells, in UTC when it names no zone."""
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if len(text) > 35 or "T" not in text.upper():
        raise ValueError(text)
    moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def one_of(choices):
    def check(form, field):
        if field.data and field.data not in choices:
            raise ValidationError("must be one of: " + ", ".join(choices))

    return check


class SearchForm(FlaskForm):
    """The query parameters of the search page and the exports."""

    class Meta:
        csrf = False

    q = StringField("Words", validators=[Length(max=500)])
    lat = StringField("Latitude")
    lon = StringField("Longitude")
    distance = StringField("Within")
    bbox = StringField("Rectangle")
    since = StringField("From")
    until = StringField("Until")
    spam = StringField("Spam", validators=[one_of(SPAM_CHOICES)])
    located = StringField("Located", validators=[one_of(LOCATED_CHOICES)])
    sort = StringField("Order", validators=[one_of(SORT_CHOICES)])
    page = StringField("Page")
    size = StringField("Per page")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed = {}

    def validate_q(self, field):
        text = field.data or ""
        if CONTROL_CHARACTERS.search(text):
            raise ValidationError("must not contain control characters")
        if len(text.split()) > MAX_QUERY_WORDS:
            raise ValidationError(f"may have at most {MAX_QUERY_WORDS} words")

    def validate_lat(self, field):
        if field.data:
            self.parsed["lat"] = parse_number(field.data, -90, 90)

    def validate_lon(self, field):
        if field.data:
            self.parsed["lon"] = parse_number(field.data, -180, 180)

    def validate_distance(self, field):
        if not field.data:
            return
        match = DISTANCE.fullmatch(field.data.strip())
        if not match:
            raise ValidationError("must be a distance such as 25km, 800m or 10mi")
        unit = (match.group(2) or "km").lower()
        km = float(match.group(1)) * KM_PER_UNIT[unit]
        if not 0 < km <= HALF_EARTH_KM:
            raise ValidationError(
                f"must be more than 0 and at most {HALF_EARTH_KM:g}km"
            )
        self.parsed["distance_km"] = km

    def validate_bbox(self, field):
        if not field.data:
            return
        parts = field.data.split(",")
        if len(parts) != 4:
            raise ValidationError("must be four numbers: west,south,east,north")
        west, east = (parse_number(parts[i], -180, 180) for i in (0, 2))
        south, north = (parse_number(parts[i], -90, 90) for i in (1, 3))
        if south > north:
            raise ValidationError("south must not be above north")
        self.parsed["bbox"] = (west, south, east, north)

    def validate_since(self, field):
        if field.data:
            self.parsed["since"] = parse_moment(field.data)

    def validate_until(self, field):
        if field.data:
            self.parsed["until"] = parse_moment(field.data, end_of_day=True)

    def validate_page(self, field):
        if field.data:
            if not WHOLE.fullmatch(field.data) or int(field.data) < 1:
                raise ValidationError("must be a whole number from 1")
            self.parsed["page"] = int(field.data)

    def validate_size(self, field):
        if not field.data:
            return
        most = current_app.config["SURVEY_SEARCH_MAX_PAGE_SIZE"]
        if not WHOLE.fullmatch(field.data) or not 1 <= int(field.data) <= most:
            raise ValidationError(f"must be a whole number from 1 to {most}")
        self.parsed["size"] = int(field.data)

    def validate(self, extra_validators=None):
        """Each field, then the rules that tie fields together."""
        if not super().validate(extra_validators):
            return False
        return self.validate_together()

    def validate_together(self):
        parsed = self.parsed
        point = [name for name in ("lat", "lon", "distance_km") if name in parsed]
        if point and len(point) < 3:
            self.add_error("distance", "lat, lon and distance go together")
        since, until = parsed.get("since"), parsed.get("until")
        if since and until and since >= until:
            self.add_error("until", "must be after since")

        size = parsed.get("size", self.default_size())
        if parsed.get("page", 1) * size > MAX_RESULT_WINDOW:
            self.add_error(
                "page",
                f"is past the first {MAX_RESULT_WINDOW:,} results; narrow the "
                "search or export it",
            )
        return not self.errors

    def add_error(self, name, message):
        field = getattr(self, name)
        field.errors = [*field.errors, message]

    def default_size(self):
        return min(20, current_app.config["SURVEY_SEARCH_MAX_PAGE_SIZE"])

    def criteria(self):
        """The validated parameters as a search.Criteria."""
        parsed = self.parsed
        return Criteria(
            words=(self.q.data or "").strip(),
            lat=parsed.get("lat"),
            lon=parsed.get("lon"),
            distance_km=parsed.get("distance_km"),
            bbox=parsed.get("bbox"),
            since=parsed.get("since"),
            until=parsed.get("until"),
            spam=self.spam.data or "hide",
            located=self.located.data or "any",
            sort=self.sort.data or "newest",
            page=parsed.get("page", 1),
            size=parsed.get("size", self.default_size()),
        )

    def problems(self):
        """Every error as ``parameter: message`` text."""
        return [
            f"{name}: {message}"
            for name, messages in self.errors.items()
            for message in messages
        ]


class ApiSearchForm(SearchForm):
    """The search parameters plus the JSON API's choice of format."""

    format = StringField("Format", validators=[one_of(FORMAT_CHOICES)])


class MapForm(SearchForm):
    """The search parameters of the map, which shows located answers only."""

    def validate_located(self, field):
        if field.data == "no":
            raise ValidationError(
                "the map shows located answers only; list the others on the search page"
            )


class MapDataForm(MapForm):
    """The map's parameters plus its zoom level, for the map's JSON."""

    zoom = StringField("Zoom")

    def validate_zoom(self, field):
        if field.data:
            if not WHOLE.fullmatch(field.data) or int(field.data) > 20:
                raise ValidationError("must be a whole number from 0 to 20")
            self.parsed["zoom"] = int(field.data)


def unknown_parameters(args, form):
    """Problems with parameters the form does not know or that come twice."""
    known = {field.name for field in form}
    problems = []
    for name in args:
        if name not in known:
            reason = ELSEWHERE.get(name, "is not a parameter of this address")
            problems.append(f"{name[:40]}: {reason}")
        elif len(args.getlist(name)) > 1:
            problems.append(f"{name}: is given more than once")
    return problems


class LoginForm(FlaskForm):
    """Name and password of an analyst."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class EraseForm(FlaskForm):
    """Delete every answer of one email address, after typing a confirmation."""

    email = EmailField(
        "Email address",
        validators=[
            DataRequired(message="Enter the email address."),
            Length(max=254),
            Email(message="Enter a valid email address.", granular_message=False),
        ],
    )
    confirm = StringField(
        'Type "erase" to confirm',
        validators=[DataRequired(message='Type "erase" to confirm.')],
    )
    submit = SubmitField("Erase every answer of this address")

    def validate_confirm(self, field):
        if field.data.strip().lower() != "erase":
            raise ValidationError('Type "erase" to confirm.')
