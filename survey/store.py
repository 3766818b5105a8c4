"""OpenSearch's side of an answer: the client, the answer document, its index
and template, and the writes of the web app and the worker. Analyst queries
live in ``survey.search``."""

import logging
from datetime import UTC, datetime

from opensearchpy import (
    Boolean,
    Date,
    Document,
    GeoPoint,
    Ip,
    Keyword,
    OpenSearch,
    RequestsHttpConnection,
    Text,
    analyzer,
    normalizer,
)
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

logger = logging.getLogger(__name__)

SCHEMA_TAG = "v1"

lowercase = normalizer("lowercase_keyword", filter=["lowercase"])
essay_text = analyzer("essay_text", tokenizer="standard", filter=["lowercase", "stop"])


class GeoStatus:
    """Values of ``geo_status``: where a document is in the geolocation pipeline."""

    PENDING = "pending"
    LOCATED = "located"
    UNLOCATABLE = "unlocatable"
    FAILED = "failed"
    SKIPPED = "skipped"


class Answer(Document):
    """One quiz submission. Field names are the seed's, so old data carries over."""

    essay_question = Text(analyzer=essay_text)
    email_addr = Keyword(normalizer=lowercase)
    client_ip_addr = Ip()
    is_spam = Boolean()
    spam_reasons = Keyword()
    tags = Keyword()
    timestamp = Date()

    geo = GeoPoint()
    geo_status = Keyword()
    geo_city = Keyword()
    geo_country = Keyword()
    geo_source = Keyword()
    geo_error = Keyword()
    geo_at = Date()


def index_body():
    """Settings and mappings of the answer index, as OpenSearch takes them."""
    mappings = Answer._doc_type.mapping.to_dict()
    # `@timestamp` is not a valid Python name: rename it in the mapping.
    properties = mappings["properties"]
    properties["@timestamp"] = properties.pop("timestamp")
    properties["geo_enqueued_at"] = {"type": "date"}
    mappings["dynamic"] = "strict"

    analysis = {
        "analyzer": {"essay_text": essay_text.get_definition()},
        "normalizer": {"lowercase_keyword": lowercase.get_definition()},
    }
    settings = {"number_of_shards": 1, "number_of_replicas": 0, "analysis": analysis}
    return {"settings": settings, "mappings": mappings}


def make_client(config, aws_session=None):
    """An OpenSearch client: SigV4-signed on AWS, plain HTTP locally.

    `aws_session` (a boto3 Session) supplies the signing credentials instead
    of the default chain.
    """
    options = {
        "hosts": [config["OPENSEARCH_URL"]],
        "timeout": config["OPENSEARCH_TIMEOUT"],
        # No blind retries: a create whose reply was lost would come back as a
        # conflict. Callers retry: the quiz asks the taker to send again, and
        # the worker's task retries with back-off.
        "max_retries": 0,
        "retry_on_timeout": False,
        "http_compress": False,
        # One connection per thread of the busiest process (worker threads).
        "pool_maxsize": 64,
    }
    region = config["OPENSEARCH_AWS_REGION"]
    if region:
        from survey.awsauth import refreshing_sigv4_auth

        options["http_auth"] = refreshing_sigv4_auth(
            region, config["OPENSEARCH_AWS_SERVICE"], session=aws_session
        )
        options["connection_class"] = RequestsHttpConnection
        options["verify_certs"] = True

    return OpenSearch(**options)


def template_name(index):
    return f"{index}-template"


def ensure_index(client, index):
    """Install the index template, then create the index if it is missing."""
    body = index_body()
    client.indices.put_index_template(
        name=template_name(index),
        body={"index_patterns": [index], "template": body, "priority": 100},
    )
    if not client.indices.exists(index=index):
        client.indices.create(index=index, body=body)
        logger.info("created index %s", index)
        return

    add_missing_fields(client, index, body["mappings"]["properties"])


def add_missing_fields(client, index, properties):
    """Fields added in a later version: an existing index takes new fields,
    and its strict mapping would refuse documents that carry them."""
    found = client.indices.get_mapping(index=index)[index]["mappings"]
    missing = {
        name: field
        for name, field in properties.items()
        if name not in found.get("properties", {})
    }
    if not missing:
        return
    try:
        client.indices.put_mapping(index=index, body={"properties": missing})
    except RequestError as error:
        logger.warning("could not add fields to index %s: %s", index, error.error)
        return
    logger.info("added %d field(s) to index %s", len(missing), index)


def mapping_problems(client, index):
    """Plain-words problems with the index's mapping; empty when it is usable."""
    try:
        found = client.indices.get_mapping(index=index)
    except NotFoundError:
        return [f"index {index} does not exist (run `flask init-index`)"]

    problems = []
    for name, entry in found.items():
        properties = entry["mappings"].get("properties", {})
        geo_type = properties.get("geo", {}).get("type")
        if geo_type != "geo_point":
            problems.append(
                f"index {name}: field geo is mapped as {geo_type or 'nothing'}, "
                "not geo_point; reindex into a new index created by "
                "`flask init-index`"
            )
    return problems


def utcnow():
    return datetime.now(UTC)


def save_answer(client, index, doc_id, fields):
    """Create the answer document once; False when that id already exists."""
    body = dict(fields)
    body["@timestamp"] = body.pop("timestamp", None) or utcnow().isoformat()
    body.setdefault("tags", [SCHEMA_TAG])

    try:
        client.create(index=index, id=doc_id, body=body)
    except ConflictError:
        logger.info("answer %s already stored in %s: not stored twice", doc_id, index)
        return False
    return True


def awaits_location(client, index, doc_id, older_than):
    """Whether a stored answer is still pending after `older_than` seconds."""
    stored = get_answer(client, index, doc_id) or {}
    if stored.get("geo_status") != GeoStatus.PENDING:
        return False
    stored_at = datetime.fromisoformat(stored["@timestamp"])
    return (utcnow() - stored_at).total_seconds() > older_than


# One read-modify-write inside OpenSearch, so no other delivery of the same
# task can land between the check and the write.
KEEP_LOCATED = (
    "if (ctx._source.geo_status == 'located') { ctx.op = 'noop' } "
    "else { ctx._source.putAll(params.fields) }"
)


def update_answer(client, index, doc_id, fields, keep_located=False):
    """Partially update one answer; with `keep_located`, leave an answer that is
    already located as it is. Returns OpenSearch's result ("updated", "noop")
    or None when the answer does not exist."""
    if keep_located:
        script = {"source": KEEP_LOCATED, "params": {"fields": fields}}
        body = {"script": script}
    else:
        body = {"doc": fields}
    try:
        response = client.update(index=index, id=doc_id, body=body, retry_on_conflict=5)
    except NotFoundError:
        return None
    return response["result"]


def get_answer(client, index, doc_id):
    """The stored fields of one answer, or None."""
    try:
        return client.get(index=index, id=doc_id)["_source"]
    except NotFoundError:
        return None
