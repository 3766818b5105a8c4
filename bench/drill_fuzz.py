"""Drill: 10,000 generated form posts of random and hostile content.

A seeded generator (the run is repeatable) mixes plausible answers carrying
markup, template syntax, control characters and odd Unicode with broken
tokens, unknown or repeated fields, raw bodies that are not valid form
encoding, wrong content types and oversized posts. Counted: 5xx answers,
stored answers that the form's own rules would reject, answers stored for a
post that was refused, and markup of ours echoed unescaped in any page.
"""

import ipaddress
import logging
import random
import re
import secrets
import threading
from urllib.parse import quote, urlencode

from email_validator import EmailNotValidError, validate_email
from werkzeug.security import generate_password_hash

from bench.addresses import located_addresses
from bench.browser import HIDDEN, Browser, answer_id, run_clients
from bench.processes import start_web
from bench.sandbox import Sandbox
from survey.store import GeoStatus

logger = logging.getLogger(__name__)

ESSAY_MAX = 2048
UNESCAPED = re.compile(r"<x-fz\d+|<script>alert\(", re.IGNORECASE)
# The same markup as escaped text: shows the check looked at pages that echo it.
ESCAPED = re.compile(r"&lt;x-fz\d+|&lt;script&gt;alert\(", re.IGNORECASE)
CONTROL = {chr(code) for code in range(32)} - {"\t", "\n", "\r"}
SPAM_REASONS = {"honeypot", "too_fast"}
ANALYST = "bench"
ANALYST_PASSWORD = secrets.token_urlsafe(16)
# Newest answers, and searches that hit the stored markup with highlights.
ANALYST_QUERIES = [
    {},
    {"q": "x-fz"},
    {"q": "script alert"},
    {"q": "onmouseover"},
    {"q": "<x-fz1>"},
    {"q": "config endif"},
]
GEO_STATUSES = {value for name, value in vars(GeoStatus).items() if name.isupper()}


def hostile_piece(rng, number):
    pieces = [
        f"<x-fz{number}>",
        f'"><x-fz{number} onmouseover=alert(1)>',
        f"<script>alert({number})</script>",
        "{{ config }}{% if 1 %}x{% endif %}",
        "' OR '1'='1' --",
        "\u202eevil\u202c",
        "\u2028\u2029",
        "😀👩‍👩‍👧",
        "\x00",
        "\x1b[31m",
        "\r\n\r\n",
        "\t",
        "&amp;&lt;&#x3c;",
        "%00%zz",
        "A" * rng.choice([1, 100, 2047, 2048, 2049, 5000]),
        "".join(chr(rng.randrange(32, 0x2FFFF)) for _ in range(rng.randrange(1, 40))),
        "".join(chr(rng.randrange(0, 0x110000)) for _ in range(rng.randrange(1, 8))),
    ]
    return rng.choice(pieces)


def hostile_text(rng, number):
    return "".join(hostile_piece(rng, number) for _ in range(rng.randrange(1, 4)))


def hostile_email(rng, number):
    return rng.choice(
        [
            "taker@example.com",
            f"fz{number}@example.com",
            f"a<x-fz{number}>@example.com",
            f'"<x-fz{number}>"@example.com',
            "  Spaced@Example.COM  ",
            "x@[127.0.0.1]",
            "user@xn--bcher-kva.example",
            "üñî@exämple.com",
            "a" * 250 + "@example.com",
            "no-at-sign",
            "",
            f"taker@example.com\n<x-fz{number}>",
            hostile_text(rng, number),
        ]
    )


def encode(pairs):
    """Form-encode, letting lone surrogates through as the bytes a bad client sends."""
    return "&".join(f"{raw_quote(k)}={raw_quote(v)}" for k, v in pairs)


def raw_quote(text):
    return quote(str(text).encode("utf-8", "surrogatepass"), safe="")


def post_case(rng, number, tokens):
    """(body, content type) for one generated post."""
    fields = {
        "csrf_token": tokens["csrf_token"],
        "form_token": tokens["form_token"],
        "essay_question": hostile_text(rng, number),
        "email_addr": hostile_email(rng, number),
        "website": "",
    }
    kind = rng.randrange(12)
    content_type = "application/x-www-form-urlencoded"
    if kind == 0:
        fields["website"] = hostile_text(rng, number)
    elif kind == 1:
        fields["csrf_token"] = rng.choice(["", "x" * 90, hostile_text(rng, number)])
    elif kind == 2:
        token = fields["form_token"]
        fields["form_token"] = rng.choice(["", token[::-1], token + "x", "Ii4i.x.y"])
    elif kind == 3:
        del fields[rng.choice(list(fields))]
    elif kind == 4:
        return encode([*fields.items(), ("essay_question", "again")]), content_type
    elif kind == 5:
        fields[hostile_text(rng, number)[:40] or "extra"] = "1"
    elif kind == 6:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        return raw, content_type
    elif kind == 7:
        return encode(fields.items()) + "&%zz=%ff%fe%C0%AF", content_type
    elif kind == 8:
        content_type = rng.choice(
            ["application/json", "text/plain", "multipart/form-data; boundary=x", ""]
        )
    elif kind == 9:
        fields["essay_question"] = "B" * rng.choice([70000, 200000])
    return encode(fields.items()), content_type


def forwarded_for(rng, addresses):
    return rng.choice(
        [rng.choice(addresses)] * 6
        + ["junk", "999.1.1.1", "::1", "10.0.0.1", "<x-fz0>", "1.1.1.1, 2.2.2.2"]
    )


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.unescaped = 0
        self.escaped = 0
        self.accepted_ids = set()
        self.refused_ids = set()

    def add(self, status, body, doc_id):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.unescaped += bool(UNESCAPED.search(body))
            self.escaped += bool(ESCAPED.search(body))
            if doc_id:
                (self.accepted_ids if status == 303 else self.refused_ids).add(doc_id)


def token_id(token):
    try:
        return answer_id(token)
    except Exception:
        return None


def client(url, count, seed, addresses, tally):
    rng = random.Random(seed)
    browser = Browser(url)
    tokens = None
    for number in range(count):
        if tokens is None:
            tokens = browser.form()
            if tokens is None:
                tally.add(0, "", None)
                continue
        body, content_type = post_case(rng, seed * 100000 + number, tokens)
        headers = {"X-Forwarded-For": forwarded_for(rng, addresses)}
        if content_type:
            headers["Content-Type"] = content_type
        reply = browser.request("POST", "/", body=body, headers=headers)
        tally.add(reply.status, reply.body, token_id(tokens["form_token"]))
        found = dict(HIDDEN.findall(reply.body))
        tokens = found if reply.status != 303 and len(found) == 2 else None

    for path in ("/thanks", "/", "/no-such-page"):
        reply = browser.request("GET", path)
        tally.add(reply.status, reply.body, None)


def analyst_pages(url, tally):
    """Sign in as an analyst and read the pages that show stored answers."""
    browser = Browser(url)
    login = browser.request("GET", "/login")
    csrf = dict(HIDDEN.findall(login.body)).get("csrf_token", "")
    fields = {"csrf_token": csrf, "name": ANALYST, "password": ANALYST_PASSWORD}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    signed_in = browser.request("POST", "/login", urlencode(fields), headers)
    if signed_in.status != 303:
        raise RuntimeError(f"analyst sign-in answered {signed_in.status}")

    for query in ANALYST_QUERIES:
        reply = browser.request("GET", f"/answers?{urlencode(query)}")
        tally.add(reply.status, reply.body, None)
    return len(ANALYST_QUERIES)


def validation_problems(doc):
    """What the form's rules or the document's shape would reject."""
    problems = []
    essay = doc.get("essay_question")
    if not isinstance(essay, str) or not essay.strip():
        problems.append("empty essay")
    elif len(essay) > ESSAY_MAX or any(c in CONTROL for c in essay) or "\r" in essay:
        problems.append("essay too long or with control characters")

    email = doc.get("email_addr")
    try:
        if not isinstance(email, str) or len(email) > 254 or email != email.strip():
            raise EmailNotValidError("shape")
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        problems.append("invalid email")

    reasons = doc.get("spam_reasons") or []
    if doc.get("is_spam") is not bool(reasons) or set(reasons) - SPAM_REASONS:
        problems.append("spam flags disagree")
    if doc.get("geo_status") not in GEO_STATUSES or doc.get("tags") != ["v1"]:
        problems.append("status or tags")
    address = doc.get("client_ip_addr")
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            problems.append("address")
    return problems


def run(total=10000, clients=20):
    addresses = list(located_addresses(500, seed=71))
    tally = Tally()
    with Sandbox("drill_fuzz") as box:
        analysts = f"{ANALYST}:{generate_password_hash(ANALYST_PASSWORD)}"
        settings = box.settings(SURVEY_ANALYSTS=analysts)
        web, url = start_web("web-fuzz", settings, 2, 4)
        try:
            run_clients(
                client,
                [
                    (url, total // clients, seed, addresses, tally)
                    for seed in range(1, clients + 1)
                ],
            )
            box.client.indices.refresh(index=box.index)
            analyst_pages(url, tally)
        finally:
            web.stop()
        stored = box.documents()

    return count(tally, stored)


def count(tally, stored):
    invalid = sum(1 for doc in stored.values() if validation_problems(doc))
    half_stored = len((tally.refused_ids - tally.accepted_ids) & set(stored))
    lost = len(tally.accepted_ids - set(stored))
    errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    no_answer = tally.statuses.get(0, 0)
    posts = sum(tally.statuses.values())
    result = {
        "drill_fuzz_requests": posts,
        "drill_fuzz_5xx": errors,
        "drill_fuzz_no_answer": no_answer,
        "drill_fuzz_stored": len(stored),
        "drill_fuzz_invalid_stored": invalid,
        "drill_fuzz_refused_but_stored": half_stored,
        "drill_fuzz_accepted_lost": lost,
        "drill_fuzz_unescaped": tally.unescaped,
        "drill_fuzz_escaped_pages": tally.escaped,
    }
    print(
        f"  {posts} fuzzed requests: statuses {dict(sorted(tally.statuses.items()))}; "
        f"{errors} 5xx, {no_answer} without an answer, {len(stored)} stored of "
        f"which {invalid} fail validation, {half_stored} stored for a refused "
        f"post, {lost} accepted but missing, {tally.unescaped} pages (quiz, error "
        f"and {len(ANALYST_QUERIES)} analyst searches) with our markup unescaped "
        f"({tally.escaped} showed it escaped)"
    )
    return result
