"""A loopback stand-in for the third-party freegeoip-style geolocation API.

The worker's REST provider asks `GET <base>/json/<ip>`. This server answers
that on 127.0.0.1 with known answers, or on demand slowly, with 500, with 429
and Retry-After, never (a timeout), or with garbage. It is the only part of
the pipeline the tests may replace; the benchmarks use it too.

    with GeoStandin({"81.2.69.142": {...}}) as api:
        worker = start_worker(GEO_PROVIDER="rest", GEO_REST_URL=api.url)
        api.set(mode="ratelimit", retry_after=1, fail_times=2)
"""

import hashlib
import ipaddress
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

MODES = ("ok", "error", "ratelimit", "timeout", "garbage", "fieldless")
COUNTRIES = ("GB", "US", "SE", "JP", "DE", "FR", "BR", "IN", "AU", "ZA")

# A "timeout" answer is held back this long at most, far past any client's
# read timeout; stop() releases it at once.
HANG_SECONDS = 60.0


def default_answer(ip):
    """A stable made-up location for an address nobody gave an answer for."""
    digest = hashlib.sha256(ip.encode()).digest()
    lat = round(int.from_bytes(digest[0:4]) / 2**32 * 130 - 60, 4)
    lon = round(int.from_bytes(digest[4:8]) / 2**32 * 360 - 180, 4)
    return {
        "latitude": lat,
        "longitude": lon,
        "city": f"Town {digest[8:11].hex()}",
        "country_code": COUNTRIES[digest[11] % len(COUNTRIES)],
    }


class Behaviour:
    """How the stand-in answers right now, switchable from any thread."""

    def __init__(self):
        self.mode = "ok"
        self.delay = 0.0
        self.retry_after = 1
        self.fail_times = None


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open one connection per worker thread at once.
    request_queue_size = 128


class GeoStandin:
    """A threaded HTTP server on a free loopback port; see the module docstring."""

    def __init__(self, answers=None):
        self.answers = {str(ip): dict(value) for ip, value in (answers or {}).items()}
        self.behaviour = Behaviour()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.calls = 0
        self.asked = []
        self.call_times = []
        self.server = None
        self.thread = None
        self.url = None

    def set(self, mode="ok", delay=0.0, retry_after=1, fail_times=None):
        """Change the behaviour; with fail_times, misbehave that often, then ok."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")

        with self.lock:
            self.behaviour.mode = mode
            self.behaviour.delay = float(delay)
            self.behaviour.retry_after = retry_after
            self.behaviour.fail_times = fail_times

    def start(self):
        """Start serving; returns the base URL (`http://127.0.0.1:<port>`)."""
        handler = type("Handler", (StandinHandler,), {"standin": self})
        self.server = StandinServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="geo-standin", daemon=True
        )
        self.thread.start()

        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self):
        """Stop serving and release any answer held back by "timeout"."""
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def record_call(self, ip):
        """Count a call and say how to answer it: (mode, delay, retry_after)."""
        with self.lock:
            self.calls += 1
            self.asked.append(ip)
            self.call_times.append(time.monotonic())
            behaviour = self.behaviour
            mode = behaviour.mode
            if behaviour.fail_times is not None:
                if behaviour.fail_times > 0:
                    behaviour.fail_times -= 1
                else:
                    mode = "ok"
            return mode, behaviour.delay, behaviour.retry_after

    def answer_for(self, ip):
        """The JSON body for `ip`, or None when it is not an address."""
        try:
            address = str(ipaddress.ip_address(ip))
        except ValueError:
            return None

        found = self.answers.get(address) or default_answer(address)
        return {"ip": address, **found}


class StandinHandler(BaseHTTPRequestHandler):
    """Answers `GET /json/<ip>` as the owning GeoStandin says."""

    standin = None
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if not self.path.startswith("/json/"):
            self.reply(404, {"error": "not found"})
            return

        ip = self.path.removeprefix("/json/")
        mode, delay, retry_after = self.standin.record_call(ip)
        if delay and self.standin.stopping.wait(delay):
            return
        self.answer(mode, ip, retry_after)

    def answer(self, mode, ip, retry_after):
        if mode == "timeout":
            self.standin.stopping.wait(HANG_SECONDS)
            self.close_connection = True
        elif mode == "error":
            self.reply(500, {"error": "internal error"})
        elif mode == "ratelimit":
            self.reply(429, {"error": "slow down"}, {"Retry-After": str(retry_after)})
        elif mode == "garbage":
            self.reply_bytes(200, b"<html>not json", "text/html")
        elif mode == "fieldless":
            self.reply(200, {"ip": ip, "message": "no location here"})
        else:
            body = self.standin.answer_for(ip)
            if body is None:
                self.reply(404, {"error": "not an address"})
            else:
                self.reply(200, body)

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.reply_bytes(status, data, "application/json", headers)

    def reply_bytes(self, status, data, content_type, headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its read timeout); nothing left to tell it.
            self.close_connection = True

    def log_message(self, format, *args):
        """Quiet: the request line carries an address, and tests read stderr."""


@pytest.fixture
def geo_api():
    """A started GeoStandin with no fixed answers, stopped after the test."""
    with GeoStandin() as standin:
        yield standin
