"""The engine step: one contact's state, moved forward in place by an event or by time.

The surface is that of a per-key stateful operator (Bytewax's `StatefulLogic`): `accept`
decides whether an event is a duplicate and the instant it applies at, `on_item` applies it,
`on_notify` fires the deadlines up to an instant, `notify_at` is the next of them, and
`snapshot` / `restore` are the stored bytes. The state is mutated rather than copied: a copy
per event would cost more than the evaluation. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence
from typing import Any

from stream.core.changes import Change, LifecycleChange, Reason, SegmentChange
from stream.core.evaluation import deadlines
from stream.core.evaluation.compile import LIFECYCLE, Plan, compile_rules
from stream.core.evaluation.feeds import SKIP
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.state_codec import decode_state, encode_state
from stream.core.events import IDENTIFY, Event
from stream.core.language import ast
from stream.core.limits import DEFAULT_LIMITS, Limits
from stream.core.timefmt import format_ts

HOUR = 3_600_000_000
DEFAULT_HORIZON = 24 * HOUR
_PRUNE_RECENT_EVERY = 16  # forget expired event ids every this many new ones
_MEMO_LIMIT = 4096  # seed sets remembered per engine; events come in a few shapes only


def held_out(segment: str, contact_id: str, share: float) -> bool:
    """The stable holdout draw of docs/semantics.md."""
    if share <= 0.0:
        return False
    digest = hashlib.sha256(f"{segment}\x00{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


class Engine:
    """Evaluates one rule set for any number of contacts."""

    def __init__(
        self,
        rules: ast.RuleSet,
        *,
        horizon_us: int = DEFAULT_HORIZON,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.plan: Plan = compile_rules(rules, limits)
        self.rules = rules
        self.rules_version = rules.version_hash
        self.horizon_us = horizon_us
        self.limits = limits
        self._empty_feeds = [spec.empty() for spec in self.plan.feeds]
        self._unshared_feeds = [
            (i, spec) for i, spec in enumerate(self.plan.feeds) if not spec.shared_empty
        ]
        self._born_true = self._true_for_nobody()
        self._seed_memo: dict[tuple[Any, ...], list[int]] = {}
        self._feeds_for_type = {
            kind: tuple((i, self.plan.feeds[i], self.plan.feeds[i].extractors[kind]) for i in feeds)
            for kind, feeds in self.plan.feeds_by_type.items()
        }
        blank = self._new_state("")
        self._blank_truths = [
            leaf.test(self.plan.feeds[leaf.feed].value(blank.feeds[leaf.feed], 0))
            for leaf in self.plan.time_leaves
        ]

    # --- the step --------------------------------------------------------------------------

    def accept(self, state: ContactState | None, event: Event, now: int) -> int | None:
        """The instant `event` applies at, or None when it is a duplicate.

        `now` is the caller's clock before the event; the contact's clock is the later of it
        and the contact's own `now`. A duplicate repeats an event id that this contact
        applied less than the horizon before its clock, counted from the contact's clock at
        that application and not from the event's timestamp: a producer re-sending a
        month-old event a minute later sends a duplicate. Any other event applies at the
        latest of the contact's clock and the event's own time.
        """
        ts = event.ts
        if state is None:
            return now if now > ts else ts
        before = state.now
        if before is None:
            return now if now > ts else ts
        clock = now if now > before else before
        applied = state.recent.get(event.event_id)
        if applied is not None and applied > clock - self.horizon_us:
            return None
        return clock if clock > ts else ts

    def on_item(
        self, state: ContactState | None, event: Event, at: int
    ) -> tuple[ContactState, list[Change]]:
        """Apply an accepted event at `at`, the instant `accept` returned for it.

        The contact's deadlines up to `at` fire first, each at its own instant; then the
        event is recorded and only what it can affect is re-evaluated. Returns the contact's
        state (new when `state` is None, else `state` itself, changed in place) and the
        change messages in the order produced.
        """
        if state is None:
            state = self._new_state(event.contact_id)
        first = state.now is None
        if first:
            changes: list[Change] = []
        else:
            due = state.next_at
            if state.deadlines is None or (due is not None and due <= at):
                changes = self.on_notify(state, at)
            else:
                changes = []
        state.now = at
        touched = self._ingest(state, event, at)
        identify = event.type == IDENTIFY
        merged = self._merge_traits(state, event.traits) if identify else ()
        if first:
            # Empty feeds never flip by time: only the touched ones can have deadlines.
            state.deadlines = [None] * len(self.plan.time_leaves)
            state.truths = list(self._blank_truths)
        changed = deadlines.refresh(self.plan, state, touched) if touched else ()
        seeds = self._seeds(changed, merged, first) if changed or merged or first else ()
        if seeds:
            reason: Reason = "profile" if identify else "event"
            self._propagate(state, seeds, at, reason, event.event_id, changes)
        recent = state.recent
        recent[event.event_id] = at  # the contact's clock at this application
        if len(recent) % _PRUNE_RECENT_EVERY == 0:
            self._forget_expired(state, at)
        return state, changes

    def on_notify(self, state: ContactState, now: int) -> list[Change]:
        """Fire every deadline up to `now` in time order, each at its own instant (in place)."""
        if state.now is None:
            return []
        changes: list[Change] = []
        deadline = self.notify_at(state)
        while deadline is not None and deadline <= now:
            due = deadlines.due_leaves(state, deadline)
            flipped = deadlines.flipped_at(self.plan, state, due, deadline)
            state.now = deadline
            if flipped:
                leaves, by_feed = self.plan.time_leaves, self.plan.nodes_by_feed
                seeds = sorted({n for i in flipped for n in by_feed[leaves[i].feed]})
                self._propagate(state, seeds, deadline, "time", None, changes)
            deadlines.recompute(self.plan, state, due)
            deadline = state.next_at
        if now > state.now:
            state.now = now
        return changes

    def reevaluate(self, state: ContactState, now: int) -> None:
        """Evaluate every segment and the stage of `state` at `now` (in place): for a state
        restored from other rules' bytes, which holds their memberships. Everything is
        evaluated first at the state's own instant, so that the deadlines between it and
        `now` fire on these rules' memberships (a stage, a high-water mark, must not rise on
        the old ones), then once more at `now`. The changes are not kept; the switch
        publishes the difference from the old state itself (`stream.core.switch`)."""
        if state.now is None:
            return
        every = range(len(self.plan.nodes))
        self._propagate(state, every, state.now, "rules", None, [])
        self.on_notify(state, now)
        self._propagate(state, every, now, "rules", None, [])

    def notify_at(self, state: ContactState) -> int | None:
        """The earliest instant at which a membership may change with no new event."""
        if state.now is None:
            return None
        if state.deadlines is None:
            deadlines.recompute_all(self.plan, state)
        return state.next_at

    def snapshot(self, state: ContactState) -> bytes:
        """The contact's stored bytes. Event ids older than the horizon are dropped from
        `state` itself first: stored or not, they can no longer make an event a duplicate."""
        if state.now is not None:
            self._forget_expired(state, state.now)
        return encode_state(state, self.plan)

    def restore(self, data: bytes, contact_id: str) -> ContactState:
        """The state `snapshot` stored, under these rules (what they no longer have is dropped)."""
        return decode_state(data, contact_id, self.plan)

    # --- internals -------------------------------------------------------------------------

    def _new_state(self, contact_id: str) -> ContactState:
        feeds = self._empty_feeds.copy()
        for i, spec in self._unshared_feeds:
            feeds[i] = spec.empty()
        return ContactState(contact_id, feeds)

    def _seeds(self, touched: tuple[int, ...], merged: tuple[str, ...], first: bool) -> list[int]:
        """The nodes an event must re-evaluate, in dependency order (memoised: few shapes)."""
        key = (touched, merged, first)
        seeds = self._seed_memo.get(key)
        if seeds is None:
            plan = self.plan
            found = {n for f in touched for n in plan.nodes_by_feed[f]}
            for trait in merged:
                found.update(plan.nodes_by_trait[trait])
            if first:
                # Untouched nodes that hold for a contact with nothing still enter now.
                found.update(self._born_true)
            seeds = sorted(found)
            if len(self._seed_memo) < _MEMO_LIMIT:
                self._seed_memo[key] = seeds
        return seeds

    def _true_for_nobody(self) -> tuple[int, ...]:
        """Nodes that hold for a contact with no events, no traits, no segments and no stage.

        A new contact's first evaluation must look at these even when its first event does
        not touch them; every other untouched node is false for it, as before.
        """
        blank = self._new_state("")
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

    def _ingest(self, state: ContactState, event: Event, now: int) -> tuple[int, ...]:
        """Record the event in every feed it counts in; returns those feeds."""
        counted = self._feeds_for_type.get(event.type)
        if counted is None:
            return ()
        data = state.feeds
        properties, ts = event.properties, event.ts
        changed = []
        for i, spec, extract in counted:
            value = extract(properties)
            if value is not SKIP:
                data[i] = spec.add(data[i], ts, value, now)
                changed.append(i)
        return tuple(changed)

    def _merge_traits(self, state: ContactState, traits: dict[str, Any]) -> tuple[str, ...]:
        keep = self.plan.trait_keys
        mine = state.traits
        merged = []
        for key, value in traits.items():
            if key not in keep:
                continue
            merged.append(key)
            if value is None:
                mine.pop(key, None)
            else:
                mine[key] = value
        return tuple(merged)

    def _propagate(
        self,
        state: ContactState,
        seeds: Sequence[int],
        now: int,
        reason: Reason,
        cause: str | None,
        out: list[Change],
    ) -> None:
        """Re-evaluate `seeds` (sorted) in dependency order, then the readers of what changed.

        Readers always come later in the order than what they read, so they wait in a heap
        merged with the seeds; a node reached twice comes out twice in a row and runs once.
        """
        nodes, dependents = self.plan.nodes, self.plan.dependents
        members = state.members
        at = None  # the formatted instant, made once for all changes of this evaluation
        readers_due: list[int] = []
        count, i, done = len(seeds), 0, -1
        while True:
            if readers_due and (i == count or readers_due[0] <= seeds[i]):
                index = heapq.heappop(readers_due)
            elif i < count:
                index = seeds[i]
                i += 1
            else:
                return
            if index == done:
                continue
            done = index
            node = nodes[index]
            key = node.key
            if key == LIFECYCLE:
                change = self._evaluate_stage(state, node.stage_rules, now)
                if change is None:
                    continue
                old, new = change
                state.seq += 1
                stages = self.plan.stages
                out.append(
                    LifecycleChange(
                        state.contact_id,
                        stages[old] if old is not None else None,
                        stages[new] if new is not None else None,
                        at or (at := format_ts(now)),
                        reason,
                        cause,
                        self.rules_version,
                        state.seq,
                    )
                )
            else:
                now_in = node.evaluate(state, now)
                if now_in == (key in members):
                    continue
                if now_in:
                    members.add(key)
                else:
                    members.discard(key)
                state.seq += 1
                out.append(
                    SegmentChange(
                        state.contact_id,
                        key,
                        "entered" if now_in else "exited",
                        at or (at := format_ts(now)),
                        reason,
                        cause,
                        self.rules_version,
                        state.seq,
                        node.holdout > 0.0 and held_out(key, state.contact_id, node.holdout),
                    )
                )
            for reader in dependents[index]:
                heapq.heappush(readers_due, reader)

    def _evaluate_stage(
        self,
        state: ContactState,
        rules: tuple[tuple[int, Any], ...],
        now: int,
    ) -> tuple[int | None, int | None] | None:
        """The stage's (old, new) when it changes, else None."""
        old = state.stage
        # Without regress the stage never falls below `old`, so rules for stages at or below
        # it cannot change the outcome and are not evaluated.
        floor = -1 if self.plan.allow_regress or old is None else old
        new = None
        for stage, rule in rules:  # highest stage first
            if stage <= floor:
                break
            if rule(state, now):
                new = stage
                break
        if new is None and floor >= 0:
            new = old
        if new == old:
            return None
        state.stage = new
        return old, new

    def _forget_expired(self, state: ContactState, now: int) -> None:
        """Drop the event ids applied a horizon or more before `now`, the contact's clock:
        that clock never goes back, so they can never make an event a duplicate again."""
        horizon = now - self.horizon_us
        recent = state.recent
        if recent and min(recent.values()) <= horizon:  # usually none is old: keep the dict
            state.recent = {k: t for k, t in recent.items() if t > horizon}
