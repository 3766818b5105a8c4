"""Lookup cost: microseconds per offline lookup, through survey.geolocation."""

import logging
import time

from bench.addresses import located_addresses
from bench.sandbox import OFFLINE_DB
from survey.geolocation import Geolocator, LookupCache, MmdbProvider

logger = logging.getLogger(__name__)


def microseconds_per_lookup(geolocator, addresses, rounds):
    started = time.perf_counter()
    for _ in range(rounds):
        for address in addresses:
            geolocator.locate(address)
    return (time.perf_counter() - started) / (rounds * len(addresses)) * 1e6


def run(distinct=5000):
    """Uncached: every address new to a zero-size cache; cached: all hits."""
    addresses = list(located_addresses(distinct, seed=66))
    provider = MmdbProvider(str(OFFLINE_DB))
    uncached = Geolocator(provider, LookupCache(0, 3600))
    cached = Geolocator(provider, LookupCache(distinct, 3600))
    microseconds_per_lookup(cached, addresses, 1)

    without = microseconds_per_lookup(uncached, addresses, 4)
    with_cache = microseconds_per_lookup(cached, addresses, 4)
    print(
        f"  lookups over {distinct} addresses: {without:.1f} us without the cache, "
        f"{with_cache:.1f} us from the cache"
    )
    return {"lookup_us": without, "lookup_cached_us": with_cache}
