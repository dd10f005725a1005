"""RFC 3339 parsing and formatting round trips."""

from __future__ import annotations

import pytest

from stream.core.timefmt import format_ts, parse_ts


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
        ("2026-11-20T11:00:00+01:00", "2026-11-20T10:00:00Z"),
        ("2026-11-20T10:00:00.250Z", "2026-11-20T10:00:00.250Z"),
        ("2026-11-20T10:00:00.000001Z", "2026-11-20T10:00:00.000001Z"),
        ("2026-11-20t10:00:00z", "2026-11-20T10:00:00Z"),
        ("0999-12-31T23:59:59Z", "0999-12-31T23:59:59Z"),  # four-digit years, always
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ],
)
def test_round_trip(text: str, canonical: str) -> None:
    assert format_ts(parse_ts(text)) == canonical


@pytest.mark.parametrize(
    "text", ["2026-11-20", "2026-11-20T10:00:00", "yesterday", "2026-13-01T00:00:00Z", ""]
)
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)
