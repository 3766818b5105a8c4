"""Submit path: 20 browser-like clients against gunicorn, and the inline baseline.

No worker runs during these runs: tasks wait in the sandbox's queue, so the
figures are the web tier's alone. The clients run in this process and share
the machine's two cores with gunicorn and OpenSearch.
"""

import logging
import os

from bench.addresses import located_addresses
from bench.browser import Load
from bench.processes import cpu_seconds, stack_pid, start_web
from bench.sandbox import Sandbox
from bench.stats import describe, summarize
from tests.geo_standin import GeoStandin

logger = logging.getLogger(__name__)

# (gunicorn workers, threads per worker) tried on this 2-core machine.
SERVER_SHAPES = [(1, 8), (2, 4), (3, 4)]
WARM_UP_SECONDS = 2
INLINE_DELAY = 0.2


def measure(box, name, shape, seconds, clients, addresses, app=None, **extra):
    """One gunicorn shape under `clients` closed-loop clients; the summary."""
    workers, threads = shape
    options = {"app": app} if app else {}
    settings = box.settings(**extra)
    web, url = start_web(name, settings, workers, threads, **options)
    try:
        Load(url, addresses, clients).run_for(WARM_UP_SECONDS)
        meter = CpuMeter(web.pids())
        records = Load(url, addresses, clients).run_for(seconds)
        summary = summarize(records)
        summary.update(meter.per_request(summary["requests"]))
        summary["web_rss_mb"] = web.peak_rss_mb()
        summary["web_pss_mb"] = web.pss_mb()
        summary["web_worker_rss_mb"] = max(web.children_peak_rss_mb())
        summary["shape"] = f"{workers}x{threads}"
    finally:
        web.stop()
    print(f"  {name} {workers} workers x {threads} threads: {describe(summary)}")
    print(
        "    CPU ms per submission (GET + POST): "
        + ", ".join(
            f"{key[7:]} {value:.1f}"
            for key, value in summary.items()
            if key.startswith("cpu_ms_")
        )
    )
    return summary


class CpuMeter:
    """CPU used by the web processes, OpenSearch, ElasticMQ and this client."""

    def __init__(self, web_pids):
        self.groups = {
            "web": web_pids,
            "opensearch": [stack_pid("opensearch")],
            "elasticmq": [stack_pid("elasticmq")],
            "client": [os.getpid()],
        }
        self.start = {name: cpu_seconds(pids) for name, pids in self.groups.items()}

    def per_request(self, requests):
        """CPU milliseconds per timed request (each also had its GET), by part."""
        used = {
            f"cpu_ms_{name}": (cpu_seconds(pids) - self.start[name])
            * 1000
            / max(requests, 1)
            for name, pids in self.groups.items()
        }
        return used


def run(seconds=10, clients=20):
    """Figures for the result table: best shape, then the inline ratio."""
    addresses = list(located_addresses(2000))
    with Sandbox("submit") as box:
        shapes = [
            measure(box, "web", shape, seconds, clients, addresses)
            for shape in SERVER_SHAPES
        ]
        best = max(shapes, key=lambda summary: summary["rps"])
        shape = tuple(int(part) for part in best["shape"].split("x"))

        with GeoStandin() as standin:
            standin.set(mode="ok", delay=INLINE_DELAY)
            inline = measure(
                box,
                "web-inline",
                shape,
                seconds,
                clients,
                addresses,
                app="bench.inline_app:application",
                GEO_REST_URL=standin.url,
                GEO_REST_READ_TIMEOUT=5,
            )

    return figures(shapes, best, inline)


def figures(shapes, best, inline):
    result = {
        "submit_rps": best["rps"],
        "submit_p50_ms": best["p50_ms"],
        "submit_p95_ms": best["p95_ms"],
        "submit_p99_ms": best["p99_ms"],
        "submit_errors": best["errors"],
        "submit_shape": best["shape"],
        "web_rss_mb": best["web_rss_mb"],
        "web_worker_rss_mb": best["web_worker_rss_mb"],
        "web_pss_mb": best["web_pss_mb"],
        "inline_rps": inline["rps"],
        "inline_p50_ms": inline["p50_ms"],
        "inline_ratio": best["rps"] / inline["rps"] if inline["rps"] else None,
        "inline_p50_ratio": (
            inline["p50_ms"] / best["p50_ms"] if best["p50_ms"] else None
        ),
    }
    for key, value in best.items():
        if key.startswith("cpu_ms_"):
            result[f"submit_{key}"] = value
    for summary in shapes:
        result[f"submit_rps_{summary['shape']}"] = summary["rps"]
        result[f"submit_p99_ms_{summary['shape']}"] = summary["p99_ms"]
        result[f"web_rss_mb_{summary['shape']}"] = summary["web_rss_mb"]
    return result
