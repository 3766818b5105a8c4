"""SigV4 signing for requests to an AWS-managed OpenSearch domain."""

import logging

import boto3
from requests_aws4auth import AWS4Auth

logger = logging.getLogger(__name__)


def refreshing_sigv4_auth(region, service, session=None):
    """A requests auth that signs with the boto3 credential chain.

    The credentials object is handed over as it is, not frozen: instance roles
    hand out keys that expire after hours, and botocore refreshes them before
    each signature when they are close to expiry.
    """
    session = session or boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError(
            "no AWS credentials found for signing OpenSearch requests "
            "(instance role, AWS_PROFILE or AWS_ACCESS_KEY_ID)"
        )

    logger.info("signing OpenSearch requests with SigV4 for %s/%s", region, service)
    return AWS4Auth(refreshable_credentials=credentials, region=region, service=service)
