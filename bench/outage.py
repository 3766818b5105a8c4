"""A dev-stack service stopped and started again while submissions go on."""

import logging
import time

from bench.browser import Load
from bench.processes import stack

logger = logging.getLogger(__name__)

# Load runs this long before the stop and after the service is back.
LEAD_SECONDS = 5
TAIL_SECONDS = 5


def under_load(url, addresses, service, outage, rate, on_return=None):
    """Stop `service` for `outage` s under load; (records, stopped, restarted).

    `restarted` is when the service answers again (and `on_return` ran).
    """
    load = Load(url, addresses, clients=20, rate=rate).start()
    time.sleep(LEAD_SECONDS)
    stack("stop", service)
    stopped = time.perf_counter()
    time.sleep(outage)
    stack("start", service)
    if on_return:
        on_return()
    restarted = time.perf_counter()
    time.sleep(TAIL_SECONDS)
    return load.stop(), stopped, restarted
