"""The analysts' queries: validated criteria in, OpenSearch requests out.

Everything that searches the answer index for people lives here: the filtered
page of results with highlights, the map's grid clusters, the streamed export
and the backfill's selection.
"""

import logging
import math
from dataclasses import dataclass

from opensearchpy import A, Q, Search
from opensearchpy.exceptions import RequestError
from opensearchpy.helpers import scan

from survey.store import GeoStatus

logger = logging.getLogger(__name__)

# OpenSearch's index.max_result_window: from + size may not pass it.
MAX_RESULT_WINDOW = 10000
MAX_MAP_BUCKETS = 10000
HIDDEN_FIELDS = ["client_ip_addr"]
HIGHLIGHT_TAGS = {"pre_tags": ["<mark>"], "post_tags": ["</mark>"]}


class SearchRejected(ValueError):
    """OpenSearch refused the query as written; the words need changing."""


@dataclass(frozen=True)
class Criteria:
    """What an analyst asked for, already checked by analyst_forms.SearchForm."""

    words: str = ""
    lat: float | None = None
    lon: float | None = None
    distance_km: float | None = None
    bbox: tuple | None = None
    since: object = None
    until: object = None
    spam: str = "hide"
    located: str = "any"
    sort: str = "newest"
    page: int = 1
    size: int = 20


@dataclass
class Results:
    total: int
    answers: list
    page: int
    size: int

    @property
    def pages(self):
        reachable = min(self.total, MAX_RESULT_WINDOW)
        return max(1, math.ceil(reachable / self.size))


def filtered_search(client, index, criteria):
    """A Search with the criteria's query and filters, without paging."""
    search = Search(using=client, index=index).source(excludes=HIDDEN_FIELDS)
    if criteria.words:
        search = search.query(
            "simple_query_string",
            query=criteria.words,
            fields=["essay_question"],
            default_operator="and",
            lenient=True,
        )
    for clause in place_filters(criteria) + time_filters(criteria):
        search = search.filter(clause)

    if criteria.spam == "hide":
        search = search.exclude("term", is_spam=True)
    elif criteria.spam == "only":
        search = search.filter("term", is_spam=True)

    if criteria.located == "yes":
        search = search.filter("exists", field="geo")
    elif criteria.located == "no":
        search = search.exclude("exists", field="geo")
    return search.sort(*sort_order(criteria))


def place_filters(criteria):
    clauses = []
    if criteria.distance_km is not None:
        clauses.append(
            Q(
                "geo_distance",
                distance=f"{criteria.distance_km}km",
                geo={"lat": criteria.lat, "lon": criteria.lon},
            )
        )
    if criteria.bbox is not None:
        clauses.append(Q("geo_bounding_box", geo=bbox_corners(*criteria.bbox)))
    return clauses


def bbox_corners(west, south, east, north):
    return {
        "top_left": {"lat": north, "lon": west},
        "bottom_right": {"lat": south, "lon": east},
    }


def time_filters(criteria):
    bounds = {}
    if criteria.since is not None:
        bounds["gte"] = criteria.since.isoformat()
    if criteria.until is not None:
        bounds["lt"] = criteria.until.isoformat()
    return [Q("range", **{"@timestamp": bounds})] if bounds else []


def sort_order(criteria):
    newest = {"@timestamp": {"order": "desc", "unmapped_type": "date"}}
    if criteria.sort == "relevance" and criteria.words:
        return ["_score", newest]
    return [newest]


def run(client, index, body, **params):
    """One search request; a query OpenSearch refuses becomes SearchRejected."""
    try:
        return client.search(index=index, body=body, params=params or None)
    except RequestError as error:
        logger.info("search on %s rejected by OpenSearch: %s", index, error.error)
        raise SearchRejected(error.error) from None


def search_answers(client, index, criteria):
    """One page of answers, newest first or by relevance, with highlights."""
    start = (criteria.page - 1) * criteria.size
    search = filtered_search(client, index, criteria)[start : start + criteria.size]
    search = search.extra(track_total_hits=True)
    if criteria.words:
        search = search.highlight_options(encoder="html", **HIGHLIGHT_TAGS)
        search = search.highlight(
            "essay_question", fragment_size=200, number_of_fragments=3
        )

    response = run(client, index, search.to_dict())
    answers = [answer_fields(hit) for hit in response["hits"]["hits"]]
    total = response["hits"]["total"]["value"]
    return Results(total, answers, criteria.page, criteria.size)


def answer_fields(hit):
    """The fields analysts see of one hit; `highlight` is escaped HTML."""
    source = hit["_source"]
    geo = source.get("geo") or {}
    return {
        "id": hit["_id"],
        "time": source.get("@timestamp"),
        "essay": source.get("essay_question", ""),
        "highlight": hit.get("highlight", {}).get("essay_question", []),
        "email": source.get("email_addr"),
        "is_spam": bool(source.get("is_spam")),
        "spam_reasons": source.get("spam_reasons") or [],
        "geo_status": source.get("geo_status"),
        "lat": geo.get("lat"),
        "lon": geo.get("lon"),
        "city": source.get("geo_city"),
        "country": source.get("geo_country"),
    }


def iterate_answers(client, index, criteria, batch=500):
    """Every matching answer, fetched `batch` at a time through a scroll."""
    body = filtered_search(client, index, criteria).to_dict()
    hits = scan(
        client,
        query=body,
        index=index,
        size=batch,
        scroll="2m",
        preserve_order=True,
        clear_scroll=True,
    )
    try:
        for hit in hits:
            yield answer_fields(hit)
    except RequestError as error:
        raise SearchRejected(error.error) from None


# ---------------------------------------------------------------- the map


def map_precision(zoom):
    """geotile precision for a map zoom: tiles about a quarter of the screen tile."""
    return max(0, min(zoom + 2, 24))


def map_data(client, index, criteria, zoom, max_points):
    """Located answers one by one when few, else geotile clusters with centroids."""
    located = filtered_search(client, index, criteria).filter("exists", field="geo")
    first = located[:max_points].extra(track_total_hits=True)
    response = run(client, index, first.to_dict())
    total = response["hits"]["total"]["value"]
    if total <= max_points:
        points = [answer_fields(hit) for hit in response["hits"]["hits"]]
        return {"total": total, "points": points, "clusters": []}

    grid = A(
        "geotile_grid", field="geo", precision=map_precision(zoom), size=MAX_MAP_BUCKETS
    )
    grid.metric("centre", "geo_centroid", field="geo")
    clustered = located.extra(size=0, track_total_hits=True)
    clustered.aggs.bucket("tiles", grid)
    response = run(client, index, clustered.to_dict())
    buckets = response["aggregations"]["tiles"]["buckets"]
    return {
        "total": response["hits"]["total"]["value"],
        "points": [],
        "clusters": [cluster_fields(bucket) for bucket in buckets],
    }


def cluster_fields(bucket):
    centre = bucket["centre"]["location"]
    return {
        "tile": bucket["key"],
        "count": bucket["doc_count"],
        "lat": centre["lat"],
        "lon": centre["lon"],
        "bbox": tile_bbox(bucket["key"]),
    }


def tile_bbox(key):
    """[west, south, east, north] of a geotile key ``zoom/x/y``."""
    zoom, x, y = (int(part) for part in key.split("/"))
    tiles = 2**zoom

    def latitude(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / tiles))))

    west = x / tiles * 360 - 180
    east = (x + 1) / tiles * 360 - 180
    return [west, latitude(y + 1), east, latitude(y)]


# ---------------------------------------------------------------- backfill


def unlocated_search(client, index, enqueued_before):
    """Answers that still want a location, less those enqueued since
    `enqueued_before` (when given).

    Pending or failed ones, and ones stored before geo fields existed; never
    spam, never ones without an address.
    """
    wanting = Q("terms", geo_status=[GeoStatus.PENDING, GeoStatus.FAILED]) | ~Q(
        "exists", field="geo_status"
    )
    search = (
        Search(using=client, index=index)
        .filter(wanting)
        .filter("exists", field="client_ip_addr")
        .exclude("term", is_spam=True)
        .source(["client_ip_addr"])
    )
    if enqueued_before is None:
        return search
    recently = {"gte": enqueued_before.isoformat()}
    return search.exclude("range", geo_enqueued_at=recently)


def count_unlocated(client, index, enqueued_before):
    body = {
        "query": unlocated_search(client, index, enqueued_before).to_dict()["query"]
    }
    return client.count(index=index, body=body)["count"]


def iterate_unlocated(client, index, enqueued_before, batch=500):
    """(document id, address) of each answer the backfill should enqueue."""
    body = unlocated_search(client, index, enqueued_before).to_dict()
    for hit in scan(client, query=body, index=index, size=batch, scroll="5m"):
        yield hit["_id"], hit["_source"]["client_ip_addr"]
