"""A realistic synthetic B2B contact stream for `segstream generate`, the demo, tests and benches.

Each contact first appears with an identify (firmographics, role), then does behaviour with a
skewed activity distribution (a few contacts are very active, most are not), using the event
types of the example rules. Timestamps are in order; a small share of events is sent twice,
as producer retries would. A pure function of its arguments: the caller picks the start, or
the end with `start_for_end`.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from stream.core.timefmt import SECOND, format_ts, parse_ts

FIXED_START_US = 1_788_220_800 * SECOND  # 2026-09-01T00:00:00Z: tests and benches start here; with
# the default 60 days such a stream ends before 2026-11, in the past of the wall clock, which the
# future check (`events.check_future`) reads in both clock modes.

INDUSTRIES = ["saas", "software", "fintech", "manufacturing", "retail", "healthcare", "education"]
TITLES = [
    "IT Manager",
    "DevOps Engineer",
    "Head of Infrastructure",
    "Security Analyst",
    "CEO",
    "Founder",
    "Social Media Manager",
    "Marketing Director",
    "Sales Rep",
    "CFO",
]
SENIORITY = {"CEO": "c_level", "Founder": "c_level", "CFO": "c_level"}
PAGES = ["/", "/pricing", "/blog/kafka", "/blog/security", "/docs", "/customers", "/careers"]
TOPICS = {"/blog/kafka": "infrastructure", "/blog/security": "security", "/docs": "infrastructure"}
DEAL_STAGES = ["discovery", "proposal", "negotiation", "closed_won"]

# (event type, relative weight) for behaviour events.
BEHAVIOUR = [
    ("page_view", 40),
    ("email_open", 25),
    ("email_click", 8),
    ("content_download", 6),
    ("login", 8),
    ("webinar_attend", 2),
    ("form_submit", 2),
    ("demo_request", 1),
    ("purchase", 1),
    ("support_ticket", 2),
    ("referral_sent", 1),
    ("unsubscribe", 1),
]


def generate(
    contacts: int,
    events: int,
    seed: int = 1,
    start_us: int = FIXED_START_US,
    days: float = 60.0,
    duplicate_rate: float = 0.005,
) -> Iterator[dict[str, Any]]:
    """Yield `events` event objects (identifies included) for up to `contacts` contacts."""
    rng = random.Random(seed)
    types = [t for t, _ in BEHAVIOUR]
    weights = [w for _, w in BEHAVIOUR]
    cumulative = []
    total = 0
    for weight in weights:
        total += weight
        cumulative.append(total)
    gap = days * 86_400 * SECOND / max(events, 1)
    seen: set[int] = set()
    now = float(start_us)
    previous: dict[str, Any] | None = None
    emitted = 0
    while emitted < events:
        if previous is not None and rng.random() < duplicate_rate:
            yield previous
            emitted += 1
            continue
        now += rng.expovariate(1.0) * gap
        ts = format_ts(int(now) // 1000 * 1000)
        # Skewed activity: low indexes are picked far more often.
        index = int(contacts * rng.random() ** 2)
        contact = f"c-{index}"
        if index not in seen:
            seen.add(index)
            event = _identify(contact, emitted, ts, _first_traits(rng, contact))
        elif rng.random() < 0.02:
            event = _identify(contact, emitted, ts, _trait_update(rng))
        else:
            kind = rng.choices(types, cum_weights=cumulative)[0]
            event = {
                "event_id": f"e-{emitted}",
                "contact_id": contact,
                "type": kind,
                "timestamp": ts,
                "properties": _properties(rng, kind),
            }
        previous = event
        yield event
        emitted += 1


def start_for_end(
    end_us: int,
    contacts: int,
    events: int,
    seed: int = 1,
    days: float = 60.0,
    duplicate_rate: float = 0.005,
) -> int:
    """The `start_us` at which `generate` with these arguments has its last event at `end_us`
    (to the millisecond, as its timestamps are written)."""
    end_ms = end_us // 1000 * 1000
    probe = end_ms - int(days * 86_400 * SECOND) // 1000 * 1000
    last = deque(generate(contacts, events, seed, probe, days, duplicate_rate), maxlen=1)
    if not last:
        return probe
    # The timestamps are a float sum from the start. Moving the start by whole milliseconds
    # moves every one of them by exactly that much: the sum's rounding grid (a quarter of a
    # microsecond from 2005 to 2041) does not move with it.
    return probe + (end_ms - parse_ts(last[0]["timestamp"]))


def _identify(contact: str, n: int, ts: str, traits: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"e-{n}",
        "contact_id": contact,
        "type": "identify",
        "timestamp": ts,
        "traits": traits,
    }


def _first_traits(rng: random.Random, contact: str) -> dict[str, Any]:
    """Firmographics and role: what a contact's first identify says."""
    title = rng.choice(TITLES)
    employees = int(10 ** rng.uniform(0.5, 4.5))
    traits: dict[str, Any] = {
        "email": f"{contact}@example.com",
        "job_title": title,
        "seniority": SENIORITY.get(title, "individual"),
        "newsletter": rng.random() < 0.6,
        "company": {
            "name": f"Company {rng.randrange(50_000)}",
            "industry": rng.choice(INDUSTRIES),
            "employees": employees,
        },
    }
    if employees >= 1000 and rng.random() < 0.3:
        traits["abm_tier"] = 1
    if rng.random() < 0.1:
        del traits["company"]["name"]
    return traits


def _trait_update(rng: random.Random) -> dict[str, Any]:
    """A later profile update: a deal stage, sales acceptance, a new title or a lost tier."""
    choice = rng.random()
    if choice < 0.4:
        return {"deal": {"stage": rng.choice(DEAL_STAGES)}}
    if choice < 0.7:
        return {"sales_accepted": True}
    if choice < 0.9:
        return {"job_title": rng.choice(TITLES)}
    return {"abm_tier": None}


def _properties(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "page_view":
        path = rng.choice(PAGES)
        props: dict[str, Any] = {"path": path, "duration_s": rng.randrange(1, 300)}
        if path in TOPICS:
            props["topic"] = TOPICS[path]
        return props
    if kind == "content_download":
        return {
            "content_type": rng.choice(["guide", "guide", "ebook", "whitepaper"]),
            "content_id": f"asset-{rng.randrange(40)}",
        }
    if kind == "purchase":
        return {"amount": round(rng.lognormvariate(8, 1), 2), "currency": "EUR"}
    if kind in ("email_open", "email_click"):
        return {"campaign": f"cmp-{rng.randrange(30)}"}
    return {}
