"""Personal data controls: what part of an address is kept."""

import ipaddress

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
