"""Export writers: answers in, text chunks out, for a streamed response.

Each writer is a generator over an iterable of ``search.answer_fields`` dicts,
so an export of any size holds one batch in memory at a time.
"""

import csv
import io
import json
import logging

logger = logging.getLogger(__name__)

COLUMNS = [
    "id",
    "time",
    "essay",
    "email",
    "is_spam",
    "spam_reasons",
    "geo_status",
    "lat",
    "lon",
    "city",
    "country",
]
# Spreadsheets run a cell that starts with one of these as a formula, also
# after leading spaces and in the full-width forms some of them accept.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMULA_SIGNS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
ROWS_PER_CHUNK = 200

MEDIA_TYPES = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}


def export_record(answer):
    """The exported fields of one answer (the highlight is for pages only)."""
    return {column: answer.get(column) for column in COLUMNS}


def write_ndjson(answers):
    """One JSON object per line."""
    for answer in answers:
        yield json.dumps(export_record(answer), ensure_ascii=False) + "\n"


def safe_cell(value):
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_SIGNS)
    ):
        return "'" + value
    return value


def write_csv(answers):
    """A header row, then one row per answer, in chunks of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for count, answer in enumerate(answers, start=1):
        record = export_record(answer)
        writer.writerow([safe_cell(record[column]) for column in COLUMNS])
        if count % ROWS_PER_CHUNK == 0:
            yield take(buffer)
    yield take(buffer)


def take(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def write_geojson(answers):
    """A FeatureCollection; answers without a location have a null geometry."""
    yield '{"type":"FeatureCollection","features":['
    separator = ""
    for answer in answers:
        yield separator + json.dumps(geojson_feature(answer), ensure_ascii=False)
        separator = ",\n"
    yield "]}\n"


def geojson_feature(answer):
    record = export_record(answer)
    lat, lon = record.pop("lat"), record.pop("lon")
    geometry = None
    if lat is not None and lon is not None:
        geometry = {"type": "Point", "coordinates": [lon, lat]}
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": geometry,
        "properties": record,
    }


WRITERS = {"ndjson": write_ndjson, "csv": write_csv, "geojson": write_geojson}
