"""The engine step: `(state, event, now) -> (state, changes)`, and time passing as data.

`apply` fires the contact's deadlines up to the new `now`, then applies the event and
re-evaluates only what it can affect. `next_deadline` tells the caller when to call
`advance` with no new event. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stream.core import ast
from stream.core.compile import LIFECYCLE, Node, Plan, compile_rules
from stream.core.events import IDENTIFY, Event
from stream.core.feeds import SKIP
from stream.core.state import ContactState, decode_state, encode_state
from stream.core.timefmt import format_ts
from stream.core.windows import SumWindow

HOUR = 3_600_000_000
DEFAULT_HORIZON = 24 * HOUR
_PRUNE_RECENT_EVERY = 16  # forget expired event ids every this many new ones

Change = dict[str, Any]


@dataclass(slots=True)
class Outcome:
    """What one event did: the contact's state, its change messages, and whether it was a retry."""

    state: ContactState
    changes: list[Change] = field(default_factory=list)
    duplicate: bool = False
    now: int = 0


def held_out(segment: str, contact_id: str, share: float) -> bool:
    """The stable holdout draw of docs/semantics.md."""
    if share <= 0.0:
        return False
    digest = hashlib.sha256(f"{segment}\x00{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


class Engine:
    """Evaluates one rule set for any number of contacts."""

    def __init__(self, rules: ast.RuleSet, *, horizon_us: int = DEFAULT_HORIZON) -> None:
        self.plan: Plan = compile_rules(rules)
        self.rules_version = rules.version_hash
        self.horizon_us = horizon_us
        self._born_true = self._true_for_nobody()
        blank = self.new_state("")
        self._blank_truths = [
            leaf.test(self.plan.feeds[leaf.feed].value(blank.feeds[leaf.feed], 0))
            for leaf in self.plan.time_leaves
        ]

    # --- state -----------------------------------------------------------------------------

    def new_state(self, contact_id: str) -> ContactState:
        return ContactState(contact_id, [spec.empty() for spec in self.plan.feeds])

    def encode(self, state: ContactState) -> bytes:
        if state.now is not None:
            self._forget_old_ids(state, state.now)
        return encode_state(state, self.plan)

    def decode(self, data: bytes, contact_id: str) -> ContactState:
        return decode_state(data, contact_id, self.plan)

    # --- the step --------------------------------------------------------------------------

    def is_duplicate(self, state: ContactState | None, event: Event, now: int) -> bool:
        """Whether `event` repeats one this contact applied within the horizon before `now`."""
        if state is None:
            return False
        seen = state.recent.get(event.event_id)
        return seen is not None and seen > now - self.horizon_us

    def apply(self, state: ContactState | None, event: Event, now: int) -> Outcome:
        """Apply one event. `now` is the caller's clock before it; the engine moves it to
        ``max(now, event.ts)``, fires deadlines up to there, then applies the event."""
        if state is None:
            state = self.new_state(event.contact_id)
        elif self.is_duplicate(state, event, now):
            return Outcome(state, [], True, now)
        return self.apply_new(state, event, now)

    def apply_new(self, state: ContactState, event: Event, now: int) -> Outcome:
        """`apply` for an event the caller already knows is not a duplicate."""
        now = max(now, event.ts) if state.now is None else max(now, event.ts, state.now)
        changes = self.advance(state, now)
        first = state.now is None
        state.now = now
        plan = self.plan
        touched = self._ingest(state, event, now)
        identify = event.type == IDENTIFY
        merged = self._merge_traits(state, event.traits) if identify else ()
        by_feed, by_trait = plan.nodes_by_feed, plan.nodes_by_trait
        seeds = {n for f in touched for n in by_feed[f]}
        for key in merged:
            seeds.update(by_trait[key])
        if first:
            # Untouched nodes that hold for a contact with nothing still enter now.
            seeds.update(self._born_true)
            # Empty feeds never flip by time: only the touched ones can have deadlines.
            state.deadlines = [None] * len(plan.time_leaves)
            state.truths = list(self._blank_truths)
        reason = "profile" if identify else "event"
        self._propagate(state, seeds, now, reason, event.event_id, changes)
        self._refresh_deadlines(state, touched)
        state.recent[event.event_id] = event.ts
        if len(state.recent) % _PRUNE_RECENT_EVERY == 0:
            self._forget_old_ids(state, now)
        return Outcome(state, changes, False, now)

    def advance(self, state: ContactState, now: int) -> list[Change]:
        """Fire every deadline up to `now` in time order, each at its own instant."""
        if state.now is None:
            return []
        changes: list[Change] = []
        deadline = self.next_deadline(state)
        while deadline is not None and deadline <= now:
            due = self._due_leaves(state, deadline)
            flipped = self._flipped_at(state, due, deadline)
            state.now = deadline
            if flipped:
                leaves, by_feed = self.plan.time_leaves, self.plan.nodes_by_feed
                seeds = {n for i in flipped for n in by_feed[leaves[i].feed]}
                self._propagate(state, seeds, deadline, "time", None, changes)
            self._recompute(state, due)
            deadline = state.next_at
        if now > state.now:
            state.now = now
        return changes

    def next_deadline(self, state: ContactState) -> int | None:
        """The earliest instant at which a membership may change with no new event."""
        if state.now is None:
            return None
        if state.deadlines is None:
            self._refresh_deadlines(state, ())
        return state.next_at

    # --- internals -------------------------------------------------------------------------

    def _true_for_nobody(self) -> tuple[int, ...]:
        """Nodes that hold for a contact with no events, no traits, no segments and no stage.

        A new contact's first evaluation must look at these even when its first event does
        not touch them; every other untouched node is false for it, as before.
        """
        blank = self.new_state("")
        blank.now = 0
        born = []
        for index, node in enumerate(self.plan.nodes):
            if node.key == LIFECYCLE:
                holds = any(rule(blank, 0) for _, rule in node.stage_rules)
            else:
                holds = node.evaluate(blank, 0)
            if holds:
                born.append(index)
        return tuple(born)

    def _ingest(self, state: ContactState, event: Event, now: int) -> list[int]:
        """Record the event in every feed it counts in; returns those feeds."""
        feeds = self.plan.feeds
        data = state.feeds
        changed = []
        for i in self.plan.feeds_by_type.get(event.type, ()):
            value = feeds[i].extractors[event.type](event.properties)
            if value is not SKIP:
                data[i] = feeds[i].add(data[i], event.ts, value, now)
                changed.append(i)
        return changed

    def _merge_traits(self, state: ContactState, traits: dict[str, Any]) -> list[str]:
        keep = self.plan.trait_keys
        merged = []
        for key, value in traits.items():
            if key not in keep:
                continue
            merged.append(key)
            if value is None:
                state.traits.pop(key, None)
            else:
                state.traits[key] = value
        return merged

    def _propagate(
        self,
        state: ContactState,
        seeds: Iterable[int],
        now: int,
        reason: str,
        cause: str | None,
        out: list[Change],
    ) -> None:
        """Re-evaluate `seeds` in dependency order, then the readers of whatever changed."""
        pending = sorted(seeds)
        if not pending:
            return
        nodes, dependents = self.plan.nodes, self.plan.dependents
        done = -1
        while pending:
            index = heapq.heappop(pending)
            if index == done:
                continue  # queued twice
            done = index
            node = nodes[index]
            if node.key == LIFECYCLE:
                changed = self._evaluate_stage(state, node.stage_rules, now, reason, cause, out)
            else:
                changed = self._evaluate_segment(state, node, now, reason, cause, out)
            if changed:
                for reader in dependents[index]:
                    heapq.heappush(pending, reader)

    def _evaluate_segment(
        self,
        state: ContactState,
        node: Node,
        now: int,
        reason: str,
        cause: str | None,
        out: list[Change],
    ) -> bool:
        now_in = node.evaluate(state, now)
        if now_in == (node.key in state.members):
            return False
        if now_in:
            state.members.add(node.key)
        else:
            state.members.discard(node.key)
        state.seq += 1
        out.append(
            {
                "kind": "segment",
                "contact_id": state.contact_id,
                "segment": node.key,
                "change": "entered" if now_in else "exited",
                "at": format_ts(now),
                "reason": reason,
                "cause_event_id": cause,
                "rules_version": self.rules_version,
                "seq": state.seq,
                "holdout": held_out(node.key, state.contact_id, node.holdout),
            }
        )
        return True

    def _evaluate_stage(
        self,
        state: ContactState,
        rules: tuple[tuple[int, Any], ...],
        now: int,
        reason: str,
        cause: str | None,
        out: list[Change],
    ) -> bool:
        reached = next((stage for stage, rule in rules if rule(state, now)), None)
        old = state.stage
        new = reached
        if not self.plan.allow_regress and old is not None and (new is None or new < old):
            new = old
        if new == old:
            return False
        state.stage = new
        state.seq += 1
        stages = self.plan.stages
        out.append(
            {
                "kind": "lifecycle",
                "contact_id": state.contact_id,
                "from": stages[old] if old is not None else None,
                "to": stages[new] if new is not None else None,
                "at": format_ts(now),
                "reason": reason,
                "cause_event_id": cause,
                "rules_version": self.rules_version,
                "seq": state.seq,
            }
        )
        return True

    def _refresh_deadlines(self, state: ContactState, feeds: Iterable[int]) -> None:
        """Recompute the deadlines of the time leaves on `feeds` (all, when none are known)."""
        leaves = self.plan.time_leaves
        if state.deadlines is None:
            state.deadlines = [None] * len(leaves)
            state.truths = [False] * len(leaves)
            targets: Iterable[int] = range(len(leaves))
        else:
            by_feed = self.plan.leaves_by_feed
            targets = [
                i for f in feeds if f in by_feed for i in by_feed[f] if self._may_move(state, i)
            ]
            if not targets:
                return
        self._recompute(state, targets)

    def _may_move(self, state: ContactState, leaf_index: int) -> bool:
        """After an event fed this leaf's feed, can its next flip come any sooner?

        Not for a monotone leaf whose value did not change over a feed with no negative
        values: the new entry only adds to every later window, so the deadline it had is
        still no later than its next flip (at worst it becomes a checkpoint).
        """
        leaf = self.plan.time_leaves[leaf_index]
        if not leaf.monotone:
            return True
        data = state.feeds[leaf.feed]
        if isinstance(data, SumWindow) and data.negatives:
            return True
        assert state.now is not None
        holds = leaf.test(self.plan.feeds[leaf.feed].value(data, state.now))
        return holds != state.truths[leaf_index]

    def _flipped_at(self, state: ContactState, due: list[int], instant: int) -> list[int]:
        """The due time leaves whose value at `instant` differs from the instant before.

        A deadline may be a checkpoint rather than a flip (see windows.SCAN_LIMIT). Reading a
        windowed value drops what has left the window, so every "before" is read first.
        """
        leaves, specs, data = self.plan.time_leaves, self.plan.feeds, state.feeds
        before = [
            leaves[i].test(specs[leaves[i].feed].value(data[leaves[i].feed], instant - 1))
            for i in due
        ]
        return [
            i
            for i, was in zip(due, before, strict=True)
            if leaves[i].test(specs[leaves[i].feed].value(data[leaves[i].feed], instant)) != was
        ]

    def _due_leaves(self, state: ContactState, instant: int) -> list[int]:
        assert state.deadlines is not None
        return [i for i, due in enumerate(state.deadlines) if due is not None and due <= instant]

    def _recompute(self, state: ContactState, targets: Iterable[int]) -> None:
        deadlines = state.deadlines
        now = state.now
        assert deadlines is not None and now is not None
        leaves, specs, data = self.plan.time_leaves, self.plan.feeds, state.feeds
        truths = state.truths
        for i in targets:
            leaf = leaves[i]
            spec, entries = specs[leaf.feed], data[leaf.feed]
            deadlines[i] = spec.next_change(entries, now, leaf.test)
            truths[i] = leaf.test(spec.value(entries, now))
        pending = [d for d in deadlines if d is not None]
        state.next_at = min(pending) if pending else None

    def _forget_old_ids(self, state: ContactState, now: int) -> None:
        horizon = now - self.horizon_us
        state.recent = {k: t for k, t in state.recent.items() if t > horizon}
