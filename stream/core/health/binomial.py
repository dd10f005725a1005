"""Is a measured holdout share off its configured share by more than chance allows?"""

from __future__ import annotations

import math
from typing import NamedTuple

# Up to this many members the exact binomial test is cheap; above it the normal approximation
# is within a hair of it (n * p * (1 - p) is then large for any holdout worth having).
EXACT_UP_TO = 1000


class Test(NamedTuple):
    """The two-sided p-value of `held` out of `members` at share `share`, and how it was got."""

    p_value: float
    method: str  # "exact binomial" or "normal approximation"


def holdout_test(members: int, held: int, share: float) -> Test:
    """Two-sided binomial test of `held` held-out members among `members` at `share`.

    Exact up to EXACT_UP_TO members (the sum of the probabilities of every count no likelier
    than the one seen); above that, the normal approximation with continuity correction.
    """
    if share <= 0 or share >= 1 or members == 0:
        expected = round(members * share)
        return Test(1.0 if held == expected else 0.0, "exact binomial")
    if members <= EXACT_UP_TO:
        seen = _log_pmf(members, held, share)
        total = sum(
            math.exp(log)
            for k in range(members + 1)
            if (log := _log_pmf(members, k, share)) <= seen + 1e-9
        )
        return Test(min(1.0, total), "exact binomial")
    mean = members * share
    spread = math.sqrt(mean * (1 - share))
    z = max(0.0, abs(held - mean) - 0.5) / spread
    return Test(math.erfc(z / math.sqrt(2)), "normal approximation")


def _log_pmf(n: int, k: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
