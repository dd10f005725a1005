"""The worker's own latency histograms, scraped from its /metrics around one bench phase."""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

E2C = "segstream_event_to_change_seconds"
BATCH = "segstream_batch_duration_seconds"

# (metric, phase label or "") -> upper bound -> cumulative count
Buckets = dict[tuple[str, str], dict[float, float]]


@dataclass(frozen=True, slots=True)
class Scrape:
    """The histograms of one scrape: cumulative buckets, sums and counts."""

    buckets: Buckets
    sums: dict[tuple[str, str], float]

    def minus(self, before: Scrape) -> Scrape:
        """What was observed between `before` and this scrape."""
        buckets: Buckets = {
            key: {le: n - before.buckets.get(key, {}).get(le, 0.0) for le, n in counts.items()}
            for key, counts in self.buckets.items()
        }
        sums = {key: s - before.sums.get(key, 0.0) for key, s in self.sums.items()}
        return Scrape(buckets, sums)

    def count(self, metric: str, phase: str = "") -> float:
        return self.buckets.get((metric, phase), {}).get(math.inf, 0.0)

    def mean(self, metric: str, phase: str = "") -> float:
        n = self.count(metric, phase)
        return self.sums.get((metric, phase), 0.0) / n if n else math.nan

    def quantile(self, q: float, metric: str, phase: str = "") -> float:
        """As Prometheus' histogram_quantile: linear within the bucket the rank falls in."""
        counts = sorted(self.buckets.get((metric, phase), {}).items())
        if not counts or counts[-1][1] == 0:
            return math.nan
        rank = q * counts[-1][1]
        lower, below = 0.0, 0.0
        for le, n in counts:
            if n >= rank:
                if math.isinf(le):
                    return lower  # past the last finite bound: its bound is all it knows
                return lower + (le - lower) * (rank - below) / (n - below) if n > below else le
            lower, below = le, n
        return lower


def scrape(port: int) -> Scrape:
    """The worker's histograms now, from http://127.0.0.1:`port`/metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    buckets: Buckets = defaultdict(dict)
    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (E2C, BATCH):
            continue
        for sample in family.samples:
            key = (family.name, sample.labels.get("phase", ""))
            if sample.name.endswith("_bucket"):
                buckets[key][float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_sum"):
                sums[key] = sample.value
    return Scrape(dict(buckets), sums)
