"""A browser-like client and the load it generates.

Each client keeps its own connection, session cookie and CSRF token: it GETs
the quiz, then POSTs the form like a browser, and only the POST is timed.
"""

import http.client
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from itsdangerous import URLSafeTimedSerializer

from bench.sandbox import SECRET_KEY

HIDDEN = re.compile(r'name="(csrf_token|form_token)" type="hidden" value="([^"]*)"')
FORM_TYPE = "application/x-www-form-urlencoded"


def answer_id(form_token):
    """The document id a form token stands for."""
    return URLSafeTimedSerializer(SECRET_KEY, salt="quiz-form").loads(form_token)


@dataclass
class Reply:
    status: int
    body: str
    started: float
    seconds: float


@dataclass
class Submission:
    """One timed POST: when, how long, what came back, for which answer."""

    started: float
    seconds: float
    status: int
    doc_id: str
    address: str
    body: str = ""


class Browser:
    """One keep-alive connection with a session cookie."""

    def __init__(self, url, timeout=30):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.connection = None
        self.cookie = None

    def request(self, method, path, body=None, headers=None):
        """A Reply; one reconnect when the server closed an idle connection."""
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    return Reply(0, "", started, time.perf_counter() - started)
                continue
            seconds = time.perf_counter() - started
            self.keep_cookie(response)
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = None
            return Reply(
                response.status, data.decode(errors="replace"), started, seconds
            )

    def keep_cookie(self, response):
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]

    def form(self):
        """The hidden fields of a freshly rendered quiz, or None."""
        reply = self.request("GET", "/")
        fields = dict(HIDDEN.findall(reply.body))
        return fields if len(fields) == 2 else None

    def post(self, fields, address, raw=None, content_type=FORM_TYPE):
        body = raw if raw is not None else urlencode(fields)
        headers = {"Content-Type": content_type, "X-Forwarded-For": address}
        return self.request("POST", "/", body=body, headers=headers)

    def submit(self, address, essay="Sega, for its games.", email=None):
        """GET then a valid POST; the POST's timing, status and answer id."""
        fields = self.form()
        if fields is None:
            return Submission(time.perf_counter(), 0.0, 0, "", address)
        fields.update(
            essay_question=essay,
            email_addr=email or "taker@example.com",
            website="",
        )
        reply = self.post(fields, address)
        return Submission(
            reply.started,
            reply.seconds,
            reply.status,
            answer_id(fields["form_token"]),
            address,
            reply.body if reply.status not in (303, 200) else "",
        )


class Load:
    """`clients` threads submitting until `total` is reached or stop() is called.

    With `rate`, submissions are spread evenly at that many a second across
    all clients; without, each client sends as fast as it is answered.
    """

    def __init__(self, url, addresses, clients=20, total=None, rate=None):
        self.url = url
        self.addresses = list(addresses)
        self.clients = clients
        self.total = total
        self.rate = rate
        self.records = []
        self.lock = threading.Lock()
        self.issued = 0
        self.stopping = threading.Event()
        self.threads = []

    def next_slot(self):
        """(sequence number, when to send) or None when the load is done."""
        with self.lock:
            if self.stopping.is_set() or (self.total and self.issued >= self.total):
                return None
            number = self.issued
            self.issued += 1
        due = self.started + number / self.rate if self.rate else 0.0
        return number, due

    def client(self):
        browser = Browser(self.url)
        while True:
            slot = self.next_slot()
            if slot is None:
                return
            number, due = slot
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            address = self.addresses[number % len(self.addresses)]
            record = browser.submit(address)
            with self.lock:
                self.records.append(record)

    def start(self):
        self.started = time.perf_counter()
        for _ in range(self.clients):
            thread = threading.Thread(target=self.client, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        self.stopping.set()
        return self.join()

    def join(self):
        for thread in self.threads:
            thread.join()
        self.finished = time.perf_counter()
        return self.records

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)
        return self.stop()


def run_clients(target, arguments):
    """Run `target(*each)` for each tuple in `arguments`, one thread each; wait."""
    threads = [threading.Thread(target=target, args=each) for each in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
