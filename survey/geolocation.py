"""IP geolocation: an offline MaxMind-format database or a freegeoip-style
REST API, behind one small interface with an in-memory cache."""

import ipaddress
import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import maxminddb
import requests

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    city: str | None
    country: str | None
    source: str


class Unlocatable(Exception):
    """The address has no location: not public, or unknown to the provider."""


class LookupFailed(Exception):
    """The provider did not answer usefully; trying again later may work."""

    def __init__(self, reason, retry_after=None, permanent=False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


def parse_address(text):
    """An ip_address, with IPv4-mapped IPv6 addresses unwrapped."""
    address = ipaddress.ip_address(text)
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_locatable(address):
    """Only globally routed unicast addresses are worth asking about."""
    return address.is_global and not address.is_multicast


class MmdbProvider:
    """City lookups in a MaxMind DB file (GeoLite2, DB-IP Lite and the like)."""

    def __init__(self, path):
        self.reader = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
        metadata = self.reader.metadata()
        self.built = datetime.fromtimestamp(metadata.build_epoch, UTC)
        self.source = f"mmdb:{metadata.database_type}:{self.built:%Y-%m-%d}"

    def age_days(self):
        return (datetime.now(UTC) - self.built).days

    def lookup(self, address):
        record = self.reader.get(str(address))
        location = (record or {}).get("location") or {}
        if "latitude" not in location or "longitude" not in location:
            raise Unlocatable("not in the database")

        city = (record.get("city") or {}).get("names", {}).get("en")
        country = (record.get("country") or {}).get("iso_code")
        return Location(
            lat=location["latitude"],
            lon=location["longitude"],
            city=city,
            country=country,
            source=self.source,
        )


class RateLimiter:
    """At most `rate` acquisitions a second across the threads of a process."""

    def __init__(self, rate):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = time.monotonic()
        self.lock = threading.Lock()

    def reserve(self, now=None):
        """Take the next free slot; returns the seconds to wait for it."""
        if not self.interval:
            return 0.0
        with self.lock:
            now = time.monotonic() if now is None else now
            wait = self.next_slot - now
            self.next_slot = max(now, self.next_slot) + self.interval
        return max(wait, 0.0)

    def acquire(self):
        # Sleep outside the lock so that other threads can take later slots.
        wait = self.reserve()
        if wait:
            time.sleep(wait)


class RestProvider:
    """`GET <base>/json/<ip>` answering latitude and longitude in JSON."""

    def __init__(self, config):
        self.base = config["GEO_REST_URL"].rstrip("/")
        self.fields = {
            "lat": config["GEO_REST_LAT_FIELD"],
            "lon": config["GEO_REST_LON_FIELD"],
            "city": config["GEO_REST_CITY_FIELD"],
            "country": config["GEO_REST_COUNTRY_FIELD"],
        }
        self.timeout = (
            config["GEO_REST_CONNECT_TIMEOUT"],
            config["GEO_REST_READ_TIMEOUT"],
        )
        self.limiter = RateLimiter(config["GEO_REST_RATE_LIMIT"])
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=64)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.source = "rest"

    def lookup(self, address):
        self.limiter.acquire()
        try:
            # A redirect could carry the address to a host nobody chose.
            response = self.session.get(
                f"{self.base}/json/{address}",
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise LookupFailed("timeout") from None
        except requests.RequestException:
            raise LookupFailed("connection error") from None

        self.check_status(response)
        return self.parse(response)

    def check_status(self, response):
        status = response.status_code
        if status == 429:
            raise LookupFailed("rate limited", retry_after=retry_after(response))
        if status >= 500:
            raise LookupFailed(f"http {status}", retry_after=retry_after(response))
        if status == 404:
            raise Unlocatable("unknown to the provider")
        if status >= 400:
            raise LookupFailed(f"http {status}", permanent=True)

    def parse(self, response):
        try:
            body = response.json()
            lat = float(body[self.fields["lat"]])
            lon = float(body[self.fields["lon"]])
        except (ValueError, KeyError, TypeError):
            raise LookupFailed("unusable answer") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise LookupFailed("coordinates out of range")

        return Location(
            lat=lat,
            lon=lon,
            city=text_or_none(body.get(self.fields["city"])),
            country=text_or_none(body.get(self.fields["country"])),
            source=self.source,
        )


def text_or_none(value):
    return value if isinstance(value, str) and value else None


def retry_after(response):
    """Seconds a Retry-After header asks for (seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class LookupCache:
    """Recent answers (locations and unlocatable addresses), thread-safe."""

    def __init__(self, size, ttl, clock=time.monotonic):
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] < self.clock():
                return None
            self.entries.move_to_end(key)
            return entry[1]

    def put(self, key, value):
        if self.size <= 0:
            return
        with self.lock:
            self.entries[key] = (self.clock() + self.ttl, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


class Geolocator:
    """Looks addresses up through a provider, caching what it learns."""

    def __init__(self, provider, cache):
        self.provider = provider
        self.cache = cache

    def locate(self, text):
        """A Location; raises Unlocatable or LookupFailed."""
        # Looked up by the text as given first: a hit skips parsing and the
        # range checks, which cost more than the database read itself.
        answer = self.cache.get(text)
        if answer is None:
            address = parse_address(text)
            answer = self.cache.get(str(address)) or self.lookup(address)
            self.cache.put(str(address), answer)
            self.cache.put(text, answer)

        if isinstance(answer, str):
            # A fresh exception each time: a shared one would gather the
            # tracebacks of every thread that raised it.
            raise Unlocatable(answer)
        return answer

    def lookup(self, address):
        """A Location, or why the address has none; raises LookupFailed."""
        if not is_locatable(address):
            return "not a public address"
        try:
            return self.provider.lookup(address)
        except Unlocatable as unlocatable:
            return str(unlocatable)


def make_geolocator(config):
    """The provider the settings name, wrapped in a cache."""
    cache = LookupCache(config["GEO_CACHE_SIZE"], config["GEO_CACHE_TTL"])
    kind = config["GEO_PROVIDER"]
    if kind == "mmdb":
        provider = MmdbProvider(config["GEO_MMDB_PATH"])
        logger.info("geolocation database %s built %s", provider.source, provider.built)
        if provider.age_days() > config["GEO_DB_MAX_AGE_DAYS"]:
            logger.warning(
                "geolocation database is %d days old: places may be wrong; "
                "install a fresher file at GEO_MMDB_PATH",
                provider.age_days(),
            )
    elif kind == "rest":
        if not config["GEO_REST_URL"]:
            raise ValueError("GEO_PROVIDER=rest needs GEO_REST_URL")
        provider = RestProvider(config)
    else:
        raise ValueError(f"GEO_PROVIDER must be mmdb or rest, not {kind!r}")
    return Geolocator(provider, cache)


def backoff_delay(attempt, first, longest, retry_after=None):
    """Seconds before retry number `attempt` (0-based): exponential, jittered."""
    if retry_after is not None:
        return min(retry_after, longest)
    ceiling = min(longest, first * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)
