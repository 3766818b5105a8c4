"""Personal data controls: what part of an address is kept, and erasure."""

import ipaddress
import logging

logger = logging.getLogger(__name__)

TRUNCATE_PREFIX = {4: 24, 6: 48}


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


def delete_matching(client, index, query):
    """Delete every document of `index` that `query` matches; the count."""
    # delete_by_query sees only refreshed documents: an answer stored a
    # moment ago must not survive its erasure.
    client.indices.refresh(index=index)
    result = client.delete_by_query(
        index=index,
        body={"query": query},
        conflicts="proceed",
        refresh=True,
    )
    return result["deleted"]


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
