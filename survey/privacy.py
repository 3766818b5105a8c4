"""Personal data controls: what part of an address is kept, and erasure."""

import hashlib
import hmac
import ipaddress
import logging
import time

from opensearchpy.exceptions import TransportError

logger = logging.getLogger(__name__)

TRUNCATE_PREFIX = {4: 24, 6: 48}
# Tries of a deletion before giving up, and the pause that grows between them.
DELETE_ATTEMPTS = 5
RETRY_PAUSE = 0.1


def truncate_address(address):
    """The network part of an address: /24 for IPv4, /48 for IPv6."""
    prefix = TRUNCATE_PREFIX[address.version]
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return network.network_address


def stored_address(remote_addr, config):
    """The address to store and locate for a request, or None if it has none."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if config["SURVEY_TRUNCATE_IP"]:
        address = truncate_address(address)
    return str(address)


class ErasureIncomplete(TransportError):
    """Documents still matched after every try of a deletion.

    A TransportError, so whatever reports an OpenSearch failure (the CLI's
    one-line error, the analyst pages' 503) reports this one too.
    """

    def __init__(self, index, attempts):
        super().__init__(409, "erasure_incomplete", {"index": index})
        self.index = index
        self.attempts = attempts

    def __str__(self):
        return (
            f"documents of {self.index} kept changing or failed to delete "
            f"through {self.attempts} tries"
        )


def keyed_digest(text, secret, length=12):
    """A short HMAC-SHA256 of `text` keyed with `secret`, to name it in a log.

    The same text always gives the same digest, but without the key a list
    of guesses cannot be matched to it.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, (text or "").encode(), hashlib.sha256).hexdigest()
    return digest[:length]


def delete_matching(client, index, query, attempts=DELETE_ATTEMPTS):
    """Delete every document of `index` that `query` matches; the count.

    delete_by_query skips a document whose version changed after its
    snapshot (the worker's update landing mid-erase), so it runs again until
    nothing was skipped; ErasureIncomplete when that never happens.
    """
    deleted = 0
    for attempt in range(1, attempts + 1):
        result = delete_once(client, index, query)
        deleted += result["deleted"]
        if not result["version_conflicts"] and not result["failures"]:
            return deleted

        logger.warning(
            "delete on %s try %d: %d version conflicts, %d failures",
            index,
            attempt,
            result["version_conflicts"],
            len(result["failures"]),
        )
        time.sleep(RETRY_PAUSE * attempt)

    raise ErasureIncomplete(index, attempts)


def delete_once(client, index, query):
    # delete_by_query sees only refreshed documents: an answer stored (or
    # changed) a moment ago must not survive its erasure.
    client.indices.refresh(index=index)
    return client.delete_by_query(
        index=index,
        body={"query": query},
        conflicts="proceed",
        refresh=True,
    )


def erase_answers(client, index, email):
    """Delete every answer sent from `email`, in any letter case; the count.

    ``email_addr`` has a lowercase normalizer, so a term query matches every
    spelling. Running it again deletes nothing and returns 0.
    """
    email = (email or "").strip()
    if not email:
        return 0

    deleted = delete_matching(client, index, {"term": {"email_addr": email}})
    logger.info("erased %d answers of one address from %s", deleted, index)
    return deleted


def older_than(days):
    """The query for answers whose ``@timestamp`` is more than `days` ago."""
    return {"range": {"@timestamp": {"lt": f"now-{int(days)}d"}}}


def count_older_than(client, index, days):
    """How many answers are older than `days` days."""
    client.indices.refresh(index=index)
    return client.count(index=index, body={"query": older_than(days)})["count"]


def purge_older_than(client, index, days):
    """Delete answers older than `days` days; the count."""
    deleted = delete_matching(client, index, older_than(days))
    logger.info("purged %d answers older than %d days from %s", deleted, days, index)
    return deleted
