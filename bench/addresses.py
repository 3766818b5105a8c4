"""Public IPv4 addresses that the offline database places, drawn with a seed.

They only ever travel in an X-Forwarded-For header to the app on loopback;
no traffic goes to them.
"""

import ipaddress
import random

import maxminddb

from bench.sandbox import OFFLINE_DB

# First octets of ranges allocated to regional registries for public use.
PUBLIC_FIRST_OCTETS = [5, 31, 37, 46, 62, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87]
PUBLIC_FIRST_OCTETS += [88, 89, 90, 91, 92, 93, 94, 95, 109, 151, 176, 178, 185]
PUBLIC_FIRST_OCTETS += [188, 193, 194, 195, 212, 213, 217, 24, 50, 64, 65, 66]
PUBLIC_FIRST_OCTETS += [67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99]


def expected_location(reader, address):
    """(lat, lon) the database gives for `address`, or None."""
    record = reader.get(address) or {}
    location = record.get("location") or {}
    if "latitude" in location and "longitude" in location:
        return location["latitude"], location["longitude"]
    return None


def located_addresses(count, seed=6):
    """`count` distinct global addresses with a location, and their (lat, lon)."""
    generator = random.Random(seed)
    found = {}
    with maxminddb.open_database(str(OFFLINE_DB)) as reader:
        while len(found) < count:
            first = generator.choice(PUBLIC_FIRST_OCTETS)
            text = f"{first}.{generator.randrange(256)}.{generator.randrange(256)}"
            text += f".{generator.randrange(1, 255)}"
            if text in found or not ipaddress.ip_address(text).is_global:
                continue
            location = expected_location(reader, text)
            if location:
                found[text] = location
    return found
