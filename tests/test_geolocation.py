"""survey/geolocation.py on its own: addresses, cache, rate limit, backoff,
the offline database and the REST provider against the loopback stand-in."""

import ipaddress
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from conftest import TEST_DB
from geo_standin import GeoStandin, geo_api  # noqa: F401 - a fixture
from worker_helpers import KNOWN_ADDRESSES, PRIVATE_ADDRESSES, known_answers

from config import load_config
from survey import geolocation
from survey.geolocation import (
    Geolocator,
    LookupCache,
    LookupFailed,
    MmdbProvider,
    RateLimiter,
    RestProvider,
    Unlocatable,
    backoff_delay,
    is_locatable,
    make_geolocator,
    parse_address,
)


def rest_config(url, **extra):
    values = {
        "GEO_PROVIDER": "rest",
        "GEO_REST_URL": url,
        "GEO_REST_READ_TIMEOUT": 0.5,
        "GEO_REST_CONNECT_TIMEOUT": 0.5,
        **extra,
    }
    return load_config({"SECRET_KEY": "x"}, values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("81.2.69.142", "81.2.69.142"),
        ("2001:218::1", "2001:218::1"),
        ("2001:0218:0000::0001", "2001:218::1"),
        ("::ffff:81.2.69.142", "81.2.69.142"),
        ("::FFFF:10.0.0.1", "10.0.0.1"),
    ],
)
def test_parse_address_normalises_and_unwraps_ipv4_mapped(text, expected):
    assert str(parse_address(text)) == expected


@pytest.mark.parametrize("text", ["", "81.2.69", "81.2.69.256", "example.com", "::g"])
def test_parse_address_rejects_what_is_not_an_address(text):
    with pytest.raises(ValueError):
        parse_address(text)


@pytest.mark.parametrize("text", KNOWN_ADDRESSES + ("2001:218::1", "8.8.8.8"))
def test_public_addresses_are_locatable(text):
    assert is_locatable(parse_address(text))


@pytest.mark.parametrize(
    "text",
    PRIVATE_ADDRESSES
    + ("0.0.0.0", "255.255.255.255", "224.0.0.1", "100.64.0.1", "::1", "ff02::1")
    + ("192.0.2.1", "198.51.100.7", "203.0.113.9", "240.0.0.1", "fe80::1"),
)
def test_private_reserved_and_documentation_addresses_are_not(text):
    assert not is_locatable(parse_address(text))


class CountingProvider:
    """A provider that answers from a dict and counts its lookups."""

    source = "counting"

    def __init__(self, known):
        self.known = known
        self.lookups = 0

    def lookup(self, address):
        self.lookups += 1
        if str(address) not in self.known:
            raise Unlocatable("unknown")
        return geolocation.Location(1.0, 2.0, "Town", "GB", self.source)


def test_geolocator_never_asks_the_provider_about_private_addresses():
    provider = CountingProvider({})
    locator = Geolocator(provider, LookupCache(10, 60))

    for text in PRIVATE_ADDRESSES:
        with pytest.raises(Unlocatable, match="not a public address"):
            locator.locate(text)

    assert provider.lookups == 0


def test_cache_answers_repeats_and_remembers_unknown_addresses():
    provider = CountingProvider({"81.2.69.142"})
    locator = Geolocator(provider, LookupCache(10, 60))

    first = locator.locate("81.2.69.142")
    again = locator.locate("::ffff:81.2.69.142")
    for _ in range(2):
        with pytest.raises(Unlocatable):
            locator.locate("8.8.8.8")

    assert again == first
    assert provider.lookups == 2


def test_cache_entries_expire():
    clock = [1000.0]
    cache = LookupCache(size=10, ttl=30, clock=lambda: clock[0])
    cache.put("a", "value")

    clock[0] += 29
    assert cache.get("a") == "value"
    clock[0] += 2
    assert cache.get("a") is None


def test_cache_keeps_only_the_most_recently_used_entries():
    cache = LookupCache(size=2, ttl=60)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)

    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert len(cache.entries) == 2


def test_a_zero_size_cache_stores_nothing():
    cache = LookupCache(size=0, ttl=60)
    cache.put("a", 1)
    assert cache.get("a") is None


def test_rate_limiter_spaces_slots_evenly():
    limiter = RateLimiter(rate=4)
    start = limiter.next_slot + 100

    waits = [limiter.reserve(now=start) for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_rate_limiter_does_not_bank_idle_time():
    limiter = RateLimiter(rate=2)
    start = limiter.next_slot + 100
    limiter.reserve(now=start)

    assert limiter.reserve(now=start + 10) == 0.0
    assert limiter.reserve(now=start + 10) == pytest.approx(0.5)


def test_rate_limiter_of_zero_never_waits():
    limiter = RateLimiter(rate=0)
    assert [limiter.reserve() for _ in range(100)] == [0.0] * 100


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_delay_doubles_with_jitter_up_to_the_ceiling(attempt):
    ceiling = min(30.0, 2.0 * 2**attempt)
    delays = [backoff_delay(attempt, 2.0, 30.0) for _ in range(200)]

    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1


def test_backoff_delay_honours_retry_after_within_the_ceiling():
    assert backoff_delay(0, 2.0, 30.0, retry_after=7) == 7
    assert backoff_delay(3, 2.0, 30.0, retry_after=0) == 0
    assert backoff_delay(0, 2.0, 30.0, retry_after=600) == 30.0


def test_mmdb_provider_answers_the_test_database():
    provider = MmdbProvider(str(TEST_DB))
    expected = known_answers()

    for address in KNOWN_ADDRESSES:
        location = provider.lookup(ipaddress.ip_address(address))
        answer = expected[address]
        assert (location.lat, location.lon) == (answer["latitude"], answer["longitude"])
        assert location.city == answer["city"]
        assert location.country == answer["country_code"]
        assert location.source.startswith("mmdb:GeoIP2-City:")

    london = provider.lookup(ipaddress.ip_address("81.2.69.142"))
    assert (london.city, london.country) == ("London", "GB")
    assert london.lat == pytest.approx(51.5142)
    assert london.lon == pytest.approx(-0.0931)


def test_mmdb_provider_reads_ipv6_and_says_when_it_does_not_know():
    provider = MmdbProvider(str(TEST_DB))

    assert provider.lookup(ipaddress.ip_address("2001:218::1")).country == "JP"
    with pytest.raises(Unlocatable):
        provider.lookup(ipaddress.ip_address("8.8.8.8"))


def test_an_old_database_is_reported_with_a_warning(caplog):
    config = load_config(
        {"SECRET_KEY": "x", "GEO_MMDB_PATH": str(TEST_DB), "GEO_DB_MAX_AGE_DAYS": "1"}
    )

    with caplog.at_level(logging.INFO, logger="survey.geolocation"):
        make_geolocator(config)

    provider = MmdbProvider(str(TEST_DB))
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    started = f"geolocation database {provider.source} built {provider.built}"
    assert ("INFO", started) in messages
    assert any(level == "WARNING" and "days old" in text for level, text in messages), (
        messages
    )


def test_a_fresh_enough_database_gives_no_warning(caplog):
    config = load_config(
        {
            "SECRET_KEY": "x",
            "GEO_MMDB_PATH": str(TEST_DB),
            "GEO_DB_MAX_AGE_DAYS": "99999",
        }
    )

    with caplog.at_level(logging.INFO, logger="survey.geolocation"):
        make_geolocator(config)

    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"GEO_PROVIDER": "rest"}, "GEO_REST_URL"),
        ({"GEO_PROVIDER": "carrier-pigeon"}, "mmdb or rest"),
    ],
)
def test_a_wrong_provider_setting_stops_start_up_with_its_name(settings, message):
    config = load_config({"SECRET_KEY": "x", **settings})
    with pytest.raises(ValueError, match=message):
        make_geolocator(config)


def test_rest_provider_reads_the_configured_fields(geo_api):  # noqa: F811
    geo_api.answers["81.2.69.142"] = {"lat": 1.5, "lng": -2.5, "town": "Here"}
    config = rest_config(
        geo_api.url,
        GEO_REST_LAT_FIELD="lat",
        GEO_REST_LON_FIELD="lng",
        GEO_REST_CITY_FIELD="town",
    )

    location = RestProvider(config).lookup(ipaddress.ip_address("81.2.69.142"))

    assert (location.lat, location.lon, location.city) == (1.5, -2.5, "Here")
    assert location.country is None
    assert geo_api.asked == ["81.2.69.142"]


def test_rest_provider_asks_for_ipv6_addresses(geo_api):  # noqa: F811
    provider = RestProvider(rest_config(geo_api.url))

    location = provider.lookup(ipaddress.ip_address("2001:218::1"))

    assert geo_api.asked == ["2001:218::1"]
    assert location.source == "rest"


@pytest.mark.parametrize(
    ("mode", "reason", "retry_after"),
    [
        ("error", "http 500", None),
        ("ratelimit", "rate limited", 3.0),
        ("timeout", "timeout", None),
        ("garbage", "unusable answer", None),
        ("fieldless", "unusable answer", None),
    ],
)
def test_rest_provider_failures_are_retryable_lookup_failures(
    geo_api,  # noqa: F811
    mode,
    reason,
    retry_after,
):
    geo_api.set(mode=mode, retry_after=3)
    provider = RestProvider(rest_config(geo_api.url))

    with pytest.raises(LookupFailed) as caught:
        provider.lookup(ipaddress.ip_address("81.2.69.142"))

    assert caught.value.reason == reason
    assert caught.value.retry_after == retry_after
    assert not caught.value.permanent


def test_rest_provider_reports_an_unreachable_service():
    with GeoStandin() as standin:
        url = standin.url
    provider = RestProvider(rest_config(url))

    with pytest.raises(LookupFailed, match="connection error"):
        provider.lookup(ipaddress.ip_address("81.2.69.142"))


def test_rest_provider_takes_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=120)
    response = requests.Response()
    response.headers["Retry-After"] = format_datetime(when, usegmt=True)

    assert 100 <= geolocation.retry_after(response) <= 121
    response.headers["Retry-After"] = "soon"
    assert geolocation.retry_after(response) is None


def test_rest_provider_spreads_calls_with_its_rate_limit(geo_api):  # noqa: F811
    provider = RestProvider(rest_config(geo_api.url, GEO_REST_RATE_LIMIT=20.0))

    for address in ("81.2.69.142", "81.2.69.143", "81.2.69.144"):
        provider.lookup(ipaddress.ip_address(address))

    gaps = [
        b - a for a, b in zip(geo_api.call_times, geo_api.call_times[1:], strict=False)
    ]
    assert len(gaps) == 2
    assert all(gap >= 0.04 for gap in gaps), gaps
