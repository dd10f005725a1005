"""Version B of the example rules: changed in each way a switch must handle (tests, benches)."""

from __future__ import annotations

from stream.testing import EXAMPLE_RULES


def version_b_text(old_text: str | None = None) -> str:
    """Example rules with a new 7-day window, a threshold changed, a segment removed, and a
    lifecycle rule changed."""
    text = EXAMPLE_RULES.read_text() if old_text is None else old_text
    text = text.replace("within: 7d, count: {gte: 3}}", "within: 7d, count: {gte: 2}}", 1)
    text = text.replace(
        "  - id: unsubscribed\n    when: {event: unsubscribe}\n",
        "  - id: unsubscribed\n    when: {event: unsubscribe}\n\n"
        "  - id: demo_requesters\n    when: {event: demo_request, within: 7d}\n",
    )
    start = text.index("  - id: content_bingers")
    end = text.index("  - id: email_disengaged")
    text = text[:start] + text[end:]
    text = text.replace(
        "{stage: evangelist, when: {event: referral_sent, count: {gte: 2}}}",
        "{stage: evangelist, when: {event: referral_sent}}",
    )
    assert text.count("demo_requesters") == 1 and "content_bingers" not in text
    return text


def retired_text() -> str:
    """Version B with, besides, a trait segment retired (`persona_ceo_margie`) and another's
    condition changed (`persona_social_aisha`): segments a contact's stored traits decide."""
    text = version_b_text()
    retired = "  - id: persona_ceo_margie\n    persona: CEO Margie\n"
    retired += "    when: {trait: seniority, eq: c_level}\n\n"
    changed = "{trait: job_title, contains: social, ignore_case: true}"
    assert retired in text and changed in text
    text = text.replace(retired, "").replace(changed, changed.replace("social", "manager"))
    return text
