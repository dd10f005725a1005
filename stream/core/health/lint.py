"""Lint findings on segments a marketer acts on: too small, duplicates, empty, crowded, holdouts."""

from __future__ import annotations

from dataclasses import dataclass

from stream.core.health.binomial import holdout_test
from stream.core.health.figures import Figures

# A holdout is reported as off when a share this far from its configured one would happen by
# chance less often than this (two-sided); with ~20 segments checked daily, about one false
# alarm in 50 days.
HOLDOUT_SIGNIFICANCE = 0.001


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a finding is raised; the defaults are the settings' defaults."""

    min_size: int = 100
    min_share: float = 0.001
    duplicate_jaccard: float = 0.9
    max_segments: int = 8


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to look at: its kind, the segments concerned, and what to do in words."""

    kind: str  # too_small | near_duplicate | never_entered | empty | crowded | holdout_off
    segments: tuple[str, ...]
    detail: str


def lint(
    figures: Figures,
    holdouts: dict[str, float] | None,
    thresholds: Thresholds,
    entered: dict[str, int] | None = None,
) -> list[Finding]:
    """Every finding, segment by segment in `figures` order, then pairs, then contacts.

    `holdouts` are the configured shares; None (no rules) leaves holdouts unchecked.
    `entered` is how many times each segment was ever entered (history); without it an empty
    segment is reported as `empty`, since it may have had members before.
    """
    findings: list[Finding] = []
    floor = max(thresholds.min_size, thresholds.min_share * figures.contacts)
    for segment in figures.segments:
        size = figures.sizes[segment]
        if size == 0:
            findings.append(_empty(segment, entered))
        elif size < floor:
            findings.append(
                Finding(
                    "too_small",
                    (segment,),
                    f"{size:,} members, below the floor of {floor:,.0f} (at least "
                    f"{thresholds.min_size:,} and {thresholds.min_share:.2%} of the "
                    f"{figures.contacts:,} contacts in any segment): too few to measure; "
                    "widen it or merge it",
                )
            )
        share = (holdouts or {}).get(segment, 0.0)
        checked = holdouts is not None and size and (share or figures.held_out[segment])
        if checked and (finding := _holdout(segment, size, figures.held_out[segment], share)):
            findings.append(finding)
    for pair in figures.pairs:
        if pair.both and pair.jaccard >= thresholds.duplicate_jaccard:
            findings.append(
                Finding(
                    "near_duplicate",
                    (pair.a, pair.b),
                    f"Jaccard {pair.jaccard:.3f} ({pair.both:,} members in both): merge candidates",
                )
            )
    crowded = sum(n for k, n in figures.per_contact.items() if k > thresholds.max_segments)
    if crowded:
        examples = ", ".join(figures.crowded)
        findings.append(
            Finding(
                "crowded",
                (),
                f"{crowded:,} contacts are in more than {thresholds.max_segments} segments "
                f"(e.g. {examples}): over-segmentation; retire or merge overlapping segments",
            )
        )
    return findings


def _empty(segment: str, entered: dict[str, int] | None) -> Finding:
    if entered is not None and not entered.get(segment):
        return Finding(
            "never_entered", (segment,), "no contact has ever entered it: check its criteria"
        )
    return Finding("empty", (segment,), "no members now")


def _holdout(segment: str, size: int, held: int, share: float) -> Finding | None:
    test = holdout_test(size, held, share)
    if test.p_value >= HOLDOUT_SIGNIFICANCE:
        return None
    return Finding(
        "holdout_off",
        (segment,),
        f"{held:,} of {size:,} held out ({held / size:.1%}) against a configured "
        f"{share:.1%}: p = {test.p_value:.2g} ({test.method}, two-sided, flagged below "
        f"{HOLDOUT_SIGNIFICANCE}); check that every producer uses the same rules",
    )
