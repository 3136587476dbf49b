"""Framework-free crawl logic: cycles, the shared Redis queue, politeness, robots, run health.

The Scrapy project in crawler/ and the Airflow DAGs both call these functions; nothing here
imports Scrapy, Twisted or Airflow. See docs/crawling.md for the contract.
"""

from pricehawk.crawl.decisions import (
    backoff_delay,
    block_rate_action,
    canonical_url,
    cycle_key_for,
    next_circuit,
    robots_policy,
    run_failed,
)
from pricehawk.crawl.models import DueRetailer, RunOutcome, Seed
from pricehawk.crawl.queries import (
    cycle_outcome,
    due_retailers,
    finish_run,
    record_block_rate,
    record_run_outcome,
    start_run,
    tracked_urls,
)
from pricehawk.crawl.queue import queue_cycle, queue_depth

__all__ = [
    "DueRetailer",
    "RunOutcome",
    "Seed",
    "backoff_delay",
    "block_rate_action",
    "canonical_url",
    "cycle_key_for",
    "cycle_outcome",
    "due_retailers",
    "finish_run",
    "next_circuit",
    "queue_cycle",
    "queue_depth",
    "record_block_rate",
    "record_run_outcome",
    "robots_policy",
    "run_failed",
    "start_run",
    "tracked_urls",
]
