"""Percentiles and the summary of a batch of timed submissions."""

import math


def percentile(values, fraction):
    """Nearest-rank percentile of `values`; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(records, seconds=None):
    """rps, p50/p95/p99 in ms of the 303s, and counts by status."""
    accepted = [record.seconds for record in records if record.status == 303]
    statuses = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1

    if seconds is None and records:
        first = min(record.started for record in records)
        last = max(record.started + record.seconds for record in records)
        seconds = last - first
    summary = {
        "requests": len(records),
        "accepted": len(accepted),
        "errors": len(records) - len(accepted),
        "statuses": statuses,
        "rps": len(accepted) / seconds if seconds else 0.0,
    }
    for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        value = percentile(accepted, fraction)
        summary[f"{name}_ms"] = value * 1000 if value is not None else None
    return summary


def describe(summary):
    """One line for the console."""
    return (
        f"{summary['accepted']} accepted of {summary['requests']}, "
        f"{summary['rps']:.0f}/s, p50 {fmt(summary['p50_ms'])} ms, "
        f"p95 {fmt(summary['p95_ms'])} ms, p99 {fmt(summary['p99_ms'])} ms, "
        f"statuses {summary['statuses']}"
    )


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"
