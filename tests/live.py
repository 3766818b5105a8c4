"""The app under a real gunicorn, and a real headless Chromium to drive it.

A test module that uses the fixtures names this module as a plugin::

    pytest_plugins = ["live"]

(Importing names from it as well would stop pytest rewriting its asserts.)

`live_server(**overrides)` starts the app with the session's settings plus the
overrides and returns a `LiveServer`; `browser` is a Selenium driver on
Debian's chromium (`make browser-deps` installs it); `screenshot(name)` saves
the browser's page as test-output/<name>.png. All bind and talk to 127.0.0.1
only.
"""

import logging
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import BIN, ROOT

logger = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "test-output"
START_TIMEOUT = 60.0
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")
# Straight to loopback, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--window-size=1280,1024",
)


class LiveServer:
    """`gunicorn application:application` on a free loopback port.

    gunicorn picks the port itself (bind to port 0) and logs it, so two
    servers never race for the same one.
    """

    def __init__(self, env, log_path, workers=1, threads=4, args=()):
        self.log_path = Path(log_path)
        self.url = None
        command = [
            str(BIN / "gunicorn"),
            "--bind",
            "127.0.0.1:0",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            # The default control socket lives in $HOME and is shared by
            # every gunicorn on the machine.
            "--no-control-socket",
            *args,
            "application:application",
        ]
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until_answering()

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_until_answering(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"gunicorn exited at start-up:\n{self.log()[-3000:]}")

            found = LISTENING.search(self.log())
            if found and self.answers(found.group(1)):
                self.url = found.group(1)
                return
            time.sleep(0.2)

        self.stop()
        pytest.fail(f"gunicorn did not answer within {START_TIMEOUT} s")

    @staticmethod
    def answers(url):
        try:
            with DIRECT.open(url + "/", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self):
        """SIGTERM, then SIGKILL if gunicorn has not gone after a grace period."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log_file.close()


@pytest.fixture
def live_server(settings, opensearch, tmp_path):
    """Start the app under gunicorn with extra settings; all stop after the test."""
    servers = []

    def start(workers=1, threads=4, **overrides):
        env = {**settings, **{key: str(value) for key, value in overrides.items()}}
        log_path = tmp_path / f"gunicorn-{len(servers)}.log"
        server = LiveServer(env, log_path, workers=workers, threads=threads)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def chromium_options(profile_dir):
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    # Console messages, so a test can see Content-Security-Policy violations.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture
def browser():
    """Headless Chromium through Selenium, with a fresh profile per test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make browser-deps` as root")

    # An explicit driver path keeps Selenium Manager from downloading one.
    os.environ.setdefault("SE_OFFLINE", "true")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)),
            options=chromium_options(profile),
        )
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


def save_screenshot(driver, name):
    """Write the page as test-output/<name>.png (git-ignored); returns the path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    logger.info("screenshot saved to %s", path)
    return path


@pytest.fixture
def screenshot(browser):
    """`screenshot(name)` saves the browser's page under test-output/."""
    return lambda name: save_screenshot(browser, name)
