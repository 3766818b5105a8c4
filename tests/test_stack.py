"""The local services `stack/stack.py` runs: loopback only, queues declared."""

import json
import os
import re
import subprocess
from pathlib import Path

from conftest import ELASTICMQ_PORT, ROOT

STACK_DIR = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))


def stack_pids():
    pids = {}
    for name in ("opensearch", "elasticmq"):
        record = json.loads((STACK_DIR / "run" / f"{name}.pid").read_text())
        pids[name] = record["pid"]
    return pids


def listening_addresses(pid):
    output = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, check=True
    ).stdout
    addresses = []
    for line in output.splitlines():
        if f"pid={pid}," in line:
            addresses.append(line.split()[3])
    return addresses


def test_services_listen_on_loopback_only():
    for name, pid in stack_pids().items():
        addresses = listening_addresses(pid)

        assert addresses, f"{name} listens nowhere"
        for address in addresses:
            host = address.rsplit(":", 1)[0].strip("[]")
            assert re.fullmatch(r"(::ffff:)?127\.0\.0\.1", host), (name, address)


def test_opensearch_answers_with_its_version(opensearch):
    info = opensearch.info()

    assert info["version"]["distribution"] == "opensearch"
    assert int(info["version"]["number"].split(".")[0]) >= 3


def test_geotile_grid_aggregation_works(opensearch, settings):
    index = settings["OPENSEARCH_INDEX"] + "-geotile"
    opensearch.indices.create(
        index=index, body={"mappings": {"properties": {"geo": {"type": "geo_point"}}}}
    )
    try:
        opensearch.index(index=index, body={"geo": "51.5,-0.1"}, refresh=True)
        result = opensearch.search(
            index=index,
            body={"size": 0, "aggs": {"grid": {"geotile_grid": {"field": "geo"}}}},
        )
    finally:
        opensearch.indices.delete(index=index)

    buckets = result["aggregations"]["grid"]["buckets"]
    assert [bucket["doc_count"] for bucket in buckets] == [1]


def test_app_queue_and_dead_letter_queue_are_declared(sqs):
    urls = sqs.list_queues()["QueueUrls"]
    names = {url.rsplit("/", 1)[1] for url in urls}
    assert {"survey", "survey-dlq"} <= names

    queue_url = next(url for url in urls if url.endswith("/survey"))
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":survey-dlq")
    assert int(redrive["maxReceiveCount"]) >= 2


def test_elasticmq_is_bound_to_the_configured_loopback_port():
    conf = (STACK_DIR / "elasticmq.conf").read_text()

    assert f"bind-port = {ELASTICMQ_PORT}" in conf
    assert 'bind-hostname = "127.0.0.1"' in conf
