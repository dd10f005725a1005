"""A contact's switch to a new definition version: the `reason: rules` messages it publishes.

The contact's live state holds what the old version says; the rebuilt state is the replay of
the contact's history under the new version, brought to the switch instant (or, for a contact
with no history left to replay, its live state carried over: `carry_over`). Every
membership and the stage that differ between the two are published, at the switch instant,
with the new version and `seq` going on from the live state's; the rebuilt state then takes
the live state's place, its `seq` where the messages left it.
"""

from __future__ import annotations

from stream.core.changes import Change, LifecycleChange, SegmentChange
from stream.core.evaluation.compile import LIFECYCLE
from stream.core.evaluation.engine import Engine, held_out
from stream.core.evaluation.state import ContactState
from stream.core.timefmt import format_ts


def switch_contact(
    old: Engine, new: Engine, live: ContactState | None, rebuilt: ContactState, now: int
) -> list[Change]:
    """The messages that take `live` (under `old`) to `rebuilt` (under `new`) at `now`.

    Order: exits of segments the new version removed (by id), then the new version's
    segments and stage in its dependency order, as the engine orders the changes of one
    instant. `rebuilt.seq` is set to the last message's `seq` (the live one when none).
    A contact with no live state has no memberships to leave and starts at `seq` 0.
    """
    at = format_ts(now)
    contact = rebuilt.contact_id
    version = new.rules_version
    was = set() if live is None else live.members
    seq = 0 if live is None else live.seq
    out: list[Change] = []
    kept = {node.key for node in new.plan.nodes}
    old_share = {node.key: node.holdout for node in old.plan.nodes}
    for segment in sorted(was - kept):
        seq += 1
        share = old_share.get(segment, 0.0)
        out.append(
            SegmentChange(
                contact, segment, "exited", at, "rules", None, version, seq,
                share > 0.0 and held_out(segment, contact, share),
            )
        )  # fmt: skip
    for node in new.plan.nodes:
        key = node.key
        if key == LIFECYCLE:
            before = _stage_name(old, live)
            after = _stage_name(new, rebuilt)
            if before != after:
                seq += 1
                out.append(LifecycleChange(contact, before, after, at, "rules", None, version, seq))
            continue
        inside = key in rebuilt.members
        if inside == (key in was):
            continue
        seq += 1
        out.append(
            SegmentChange(
                contact, key, "entered" if inside else "exited", at, "rules", None, version,
                seq, node.holdout > 0.0 and held_out(key, contact, node.holdout),
            )
        )  # fmt: skip
    if live is not None and _stage_name(old, live) is not None and not _has_stage(new):
        seq += 1
        out.append(
            LifecycleChange(contact, _stage_name(old, live), None, at, "rules", None, version, seq)
        )
    rebuilt.seq = seq
    return out


def carry_over(old: Engine, new: Engine, live: ContactState, now: int) -> ContactState:
    """`live` (under `old`) as `new` sees it at `now`, for a contact the rebuild did not see:
    retention removed every event of its history. What both versions keep (traits, the feeds
    they share, the stage, `seq`) is carried over, the new version's own feeds start empty,
    and every segment and the stage are evaluated again at `now`."""
    state = new.restore(old.snapshot(live), live.contact_id)
    new.reevaluate(state, now)
    return state


def _has_stage(engine: Engine) -> bool:
    return any(node.key == LIFECYCLE for node in engine.plan.nodes)


def _stage_name(engine: Engine, state: ContactState | None) -> str | None:
    if state is None or state.stage is None:
        return None
    return engine.plan.stages[state.stage]
