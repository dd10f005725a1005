"""Memberships rebuilt in memory from change messages: what the served answers must equal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContactView:
    """One contact as the API answers it: segments with since and holdout, stage, last seq."""

    seq: int = 0
    stage: str | None = None
    segments: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id -> (since, holdout)
    missing: list[tuple[int, int]] = field(default_factory=list)  # open gaps, seq ranges


@dataclass
class Membership:
    """Contacts and segment members after applying change messages by the serving rules."""

    contacts: dict[str, ContactView] = field(default_factory=dict)
    redelivered: int = 0
    gaps: int = 0

    def apply(self, change: dict[str, Any]) -> None:
        """Apply one change: drop it at or below the stored seq, note a gap above seq + 1."""
        contact = self.contacts.setdefault(change["contact_id"], ContactView())
        seq = change["seq"]
        if seq <= contact.seq:
            self.redelivered += 1
            contact.missing = _fill(contact.missing, seq)
            return
        if seq > contact.seq + 1:
            self.gaps += 1
            contact.missing.append((contact.seq + 1, seq - 1))
        contact.seq = seq
        if change["kind"] == "lifecycle":
            contact.stage = change["to"]
        elif change["change"] == "entered":
            contact.segments[change["segment"]] = (change["at"], bool(change.get("holdout")))
        else:
            contact.segments.pop(change["segment"], None)

    def members(self, segment: str) -> list[str]:
        """A segment's members in contact-id order."""
        return sorted(c for c, view in self.contacts.items() if segment in view.segments)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Per segment with members: (members, held out)."""
        out: dict[str, tuple[int, int]] = {}
        for view in self.contacts.values():
            for segment, (_, holdout) in view.segments.items():
                size, held = out.get(segment, (0, 0))
                out[segment] = (size + 1, held + int(holdout))
        return out


def rebuild(changes: Iterable[dict[str, Any]]) -> Membership:
    """The membership a correct materialiser holds after `changes`, in topic order."""
    membership = Membership()
    for change in changes:
        membership.apply(change)
    return membership


def _fill(missing: list[tuple[int, int]], seq: int) -> list[tuple[int, int]]:
    """The open gap ranges once a late copy of `seq` arrived."""
    kept = []
    for first, last in missing:
        if first <= seq <= last:
            kept += [r for r in ((first, seq - 1), (seq + 1, last)) if r[0] <= r[1]]
        else:
            kept.append((first, last))
    return kept
