"""SigV4 signing of OpenSearch requests, checked against a loopback server.

The client is the app's own (`survey.store.make_client`); each signature is
recomputed independently with botocore's SigV4Auth over the request the
server received. No request leaves 127.0.0.1, and the AWS_* variables are
dummies, so no real credential can be used or shown.
"""

import hashlib
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    ReadOnlyCredentials,
    RefreshableCredentials,
)

from config import load_config
from survey import store
from survey.awsauth import MissingCredentials

REGION = "us-east-1"
SERVICE = "es"
ACCESS_KEY = "AKIDTESTEXAMPLE"
SECRET_KEY = "test-secret-not-a-real-key"
TOKEN = "test-session-token"


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with `{}` and keeps what it received."""

    def do_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append((self.command, self.path, headers, body))

        payload = b'{"result": "created", "_id": "x", "_index": "x"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_any

    def log_message(self, format, *args):
        """Quiet: the test reads `server.requests` instead."""


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def dummy_aws_environment(monkeypatch, tmp_path):
    """Dummy keys, no config files, no instance metadata service."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-creds"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)


def signed_client(recorder, aws_session=None):
    port = recorder.server_address[1]
    config = load_config(
        {
            "OPENSEARCH_URL": f"http://127.0.0.1:{port}",
            "OPENSEARCH_AWS_REGION": REGION,
        }
    )
    return store.make_client(config, aws_session=aws_session)


def send_requests(client):
    """A write and a search, as the app and the analysts make them."""
    store.save_answer(client, "big_survey", "doc-1", {"essay_question": "Sega"})
    client.search(index="big_survey", body={"query": {"match_all": {}}}, size=1)


def authorization_parts(headers):
    """{'Credential': ..., 'SignedHeaders': ..., 'Signature': ...}"""
    algorithm, _, rest = headers["authorization"].partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    return dict(part.split("=", 1) for part in rest.split(", "))


def expected_signature(recorder, received, secret_key, token):
    """botocore's signature over the request as the server received it."""
    method, path, headers, body = received
    parts = authorization_parts(headers)
    signed_names = parts["SignedHeaders"].split(";")
    port = recorder.server_address[1]
    request = AWSRequest(
        method=method,
        url=f"http://127.0.0.1:{port}{path}",
        data=body,
        headers={name: headers[name] for name in signed_names},
    )
    request.context["timestamp"] = headers["x-amz-date"]

    access_key = parts["Credential"].split("/")[0]
    credentials = ReadOnlyCredentials(access_key, secret_key, token)
    signer = SigV4Auth(credentials, SERVICE, REGION)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def assert_validly_signed(recorder, received, access_key, secret_key, token):
    _, _, headers, body = received
    parts = authorization_parts(headers)
    day = headers["x-amz-date"][:8]

    assert parts["Credential"] == f"{access_key}/{day}/{REGION}/{SERVICE}/aws4_request"
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert parts["Signature"] == expected_signature(
        recorder, received, secret_key, token
    )
    if token:
        assert headers["x-amz-security-token"] == token
        assert "x-amz-security-token" in parts["SignedHeaders"].split(";")
    else:
        assert "x-amz-security-token" not in headers


def test_requests_from_the_default_chain_carry_a_valid_signature(recorder):
    send_requests(signed_client(recorder))

    assert [(method, path.split("?")[0]) for method, path, *_ in recorder.requests] == [
        ("PUT", "/big_survey/_create/doc-1"),
        ("POST", "/big_survey/_search"),
    ]
    assert "size=1" in recorder.requests[1][1]
    for received in recorder.requests:
        assert_validly_signed(recorder, received, ACCESS_KEY, SECRET_KEY, TOKEN)
    assert json.loads(recorder.requests[0][3])["essay_question"] == "Sega"


def test_the_check_would_notice_a_wrong_secret(recorder):
    send_requests(signed_client(recorder))

    received = recorder.requests[0]
    wrong = expected_signature(recorder, received, "another-secret", TOKEN)
    assert authorization_parts(received[2])["Signature"] != wrong


def test_keys_without_a_token_send_no_security_token(recorder, monkeypatch):
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    send_requests(signed_client(recorder))

    for received in recorder.requests:
        assert_validly_signed(recorder, received, ACCESS_KEY, SECRET_KEY, None)


class RotatingKeys:
    """A refresh function handing out key-1, key-2, ... each `lifetime` long."""

    def __init__(self, lifetime):
        self.lifetime = lifetime
        self.issued = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.issued += 1
            number = self.issued
        expiry = datetime.now(UTC) + self.lifetime
        return {
            "access_key": f"AKIDROTATED{number}",
            "secret_key": f"secret-{number}",
            "token": f"token-{number}",
            "expiry_time": expiry.isoformat(),
        }


class RefreshingProvider(CredentialProvider):
    """Stands in for the instance role: refreshable, temporary keys."""

    METHOD = "test-rotating"

    def __init__(self, keys):
        super().__init__()
        self.keys = keys

    def load(self):
        return RefreshableCredentials.create_from_metadata(
            metadata=self.keys(), refresh_using=self.keys, method=self.METHOD
        )


def session_with(keys):
    """A boto3 Session whose credential chain is the rotating provider alone."""
    core = botocore.session.Session()
    core.register_component(
        "credential_provider", CredentialResolver([RefreshingProvider(keys)])
    )
    return boto3.Session(botocore_session=core)


def test_a_refreshed_key_is_used_after_expiry(recorder):
    # botocore refreshes keys 15 minutes before they expire; these enter that
    # window two seconds after they are issued.
    keys = RotatingKeys(lifetime=timedelta(minutes=15, seconds=2))
    client = signed_client(recorder, aws_session=session_with(keys))

    client.search(index="big_survey", body={"query": {"match_all": {}}})
    first = recorder.requests[-1]
    assert_validly_signed(recorder, first, "AKIDROTATED1", "secret-1", "token-1")

    threading.Event().wait(3)
    client.search(index="big_survey", body={"query": {"match_all": {}}})
    second = recorder.requests[-1]
    assert keys.issued == 2
    assert_validly_signed(recorder, second, "AKIDROTATED2", "secret-2", "token-2")


def test_threads_sharing_a_signer_never_mix_keys(recorder):
    # Keys this short-lived are inside botocore's mandatory refresh window,
    # so nearly every signature uses a new key while other threads sign.
    keys = RotatingKeys(lifetime=timedelta(minutes=5))
    client = signed_client(recorder, aws_session=session_with(keys))

    def search(_):
        client.search(index="big_survey", body={"query": {"match_all": {}}})

    # Switch threads as often as the interpreter allows, so they interleave
    # inside the signer.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(search, range(60)))
    finally:
        sys.setswitchinterval(interval)

    assert len(recorder.requests) == 60
    assert keys.issued > 10
    for received in recorder.requests:
        credential = authorization_parts(received[2])["Credential"]
        number = credential.split("/")[0].removeprefix("AKIDROTATED")
        assert_validly_signed(
            recorder,
            received,
            f"AKIDROTATED{number}",
            f"secret-{number}",
            f"token-{number}",
        )


def test_no_credentials_is_a_clear_error(recorder):
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([]))

    with pytest.raises(MissingCredentials, match="no AWS credentials found"):
        signed_client(recorder, aws_session=boto3.Session(botocore_session=core))
