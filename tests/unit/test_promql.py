"""The PromQL tokenizer of tests/support/promql.py finds metric names and nothing else."""

from __future__ import annotations

import pytest

from tests.support.promql import base_name, families, metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("segstream_ready", {"segstream_ready"}),
        ('segstream_ready == 0 or up{job="segstream-worker"} == 0', {"segstream_ready", "up"}),
        ("sum by (job, instance, reason) (rate(x_total[5m])) > 1", {"x_total"}),
        ("sum(rate(x_total[$__rate_interval])) by (reason)", {"x_total"}),
        (
            'histogram_quantile(0.99, sum by (le) (rate(h_bucket{le=~"0.5|1"}[10m])))',
            {"h_bucket"},
        ),
        ("a == 0 or (b == 1 unless on (job, instance) c)", {"a", "b", "c"}),
        ("a * on (partition) group_left (topic) b", {"a", "b"}),
        ("a offset 1h30m and bool b", {"a", "b"}),
        ("max_over_time(a[15m:1m]) > 1e3", {"a"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', {"a"}),
        ("a > Inf or b < NaN", {"a", "b"}),
        ("sum without (instance) (a:recorded:rate5m)", {"a:recorded:rate5m"}),
        ('a{status=~"STALL|STOP"} == 1', {"a"}),
        ("vector(1)", set()),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_histogram_series_count_as_the_histogram() -> None:
    assert base_name("h_bucket") == base_name("h_sum") == base_name("h_count") == "h"
    assert base_name("c_total") == "c_total"
    assert families("rate(h_sum[5m]) / rate(h_count[5m])") == {"h"}


def test_unbalanced_brackets_are_an_error() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        metric_names("rate(a[5m)")
