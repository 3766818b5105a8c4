"""SigV4 signing for requests to an AWS-managed OpenSearch domain."""

import logging
import threading

import boto3
from requests_aws4auth import AWS4Auth

logger = logging.getLogger(__name__)


class MissingCredentials(RuntimeError):
    """The boto3 chain found no credentials to sign with."""


class RefreshingAWS4Auth(AWS4Auth):
    """AWS4Auth that signs one request at a time.

    With refreshable credentials it swaps in the current keys before each
    signature; threads share one instance, so without the lock one request
    could carry an old key id beside a signature made with the new secret.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            return super().__call__(request)


def refreshing_sigv4_auth(region, service, session=None, credentials=None):
    """A requests auth that signs with `credentials`, or with the chain of
    `session` (a boto3 Session; default: a new one).

    The credentials object is kept as it is, not frozen: instance roles hand
    out keys that expire after hours, and botocore refreshes them before a
    signature when they are close to expiry.
    """
    if credentials is None:
        credentials = (session or boto3.Session()).get_credentials()
    if credentials is None:
        raise MissingCredentials(
            "no AWS credentials found for signing OpenSearch requests "
            "(instance role, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
        )

    logger.info("signing OpenSearch requests with SigV4 for %s/%s", region, service)
    return RefreshingAWS4Auth(
        refreshable_credentials=credentials, region=region, service=service
    )
