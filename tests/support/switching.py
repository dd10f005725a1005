"""Checks of a worker's switch to a new definition version, read from the topics it wrote."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from stream.app.definitions import read_records
from stream.app.history import read_history
from stream.core import changes as wire
from stream.core.changes import Change
from stream.core.definitions import Switch
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_text
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.testing.versions import version_b_text
from stream.testing.waiting import wait_for
from stream.testing.worker import Names
from tests.e2e.harness import WorkerProcess, partition_of, produce
from tests.support import EXAMPLE_RULES, ROOT

View = dict[str, tuple[frozenset[str], Any]]

# "partition N: switching to version V at T": logged once the switch's begin is durable.
_SWITCHING = re.compile(r"partition (\d+): switching to version (\w+) at (\S+)$", re.MULTILINE)


def fold(changes: Iterable[Change], *, strict: bool = False) -> View:
    """Memberships and stage per contact after `changes` in order; with `strict`, each
    change must change something (a `reason: rules` change is a real difference)."""
    members: dict[str, set[str]] = defaultdict(set)
    stages: dict[str, Any] = {}
    for change in changes:
        contact = change.contact_id
        if change.kind == "segment":
            inside = change.segment in members[contact]
            assert not strict or inside == (change.change == "exited"), change
            (members[contact].add if change.change == "entered" else
             members[contact].discard)(change.segment)  # fmt: skip
        else:
            assert not strict or stages.get(contact) != change.to, change
            stages[contact] = change.to
    found = {c: (frozenset(members.get(c, ())), stages.get(c)) for c in members | stages}
    return {c: v for c, v in found.items() if v != (frozenset(), None)}


def lines_of(lines: list[bytes], partition: int, partitions: int) -> list[bytes]:
    """The lines of one partition, in order (the worker's clock is per partition)."""
    return [
        line
        for line in lines
        if partition_of(orjson.loads(line)["contact_id"], partitions) == partition
    ]


def replayed(rules: RuleSet, lines: list[bytes], until: int | None) -> View:
    """Memberships of a replay of `lines` under `rules`, brought to `until`."""
    return fold(replay_lines(rules, lines, until))


def up_to(lines: list[bytes], at: int) -> list[bytes]:
    """The lines with timestamps up to `at` (input in timestamp order)."""
    return [line for line in lines if parse_ts(orjson.loads(line)["timestamp"]) <= at]


def switches(bootstrap: str, topic: str, group: str, version: str) -> dict[int, Switch]:
    """The last `switched:` record of each partition of `group` to `version`."""
    records = asyncio.run(read_records(bootstrap, topic))
    return {
        r.partition: r
        for _, r in records
        if isinstance(r, Switch) and r.group == group and r.rules_version == version
    }


@contextmanager
def worker_on(
    bootstrap: str,
    names: Names,
    lines: list[bytes],
    directory: Path,
    partitions: int,
    timeout: float = 180.0,
    **options: Any,
) -> Iterator[WorkerProcess]:
    """`lines` produced to `names`' events topic, and a worker on the example rules (version
    A) that has applied them all; stopped at the end if it still runs."""
    produce(bootstrap, names.events, lines, partitions)
    worker = WorkerProcess(
        bootstrap, EXAMPLE_RULES, names, directory, partitions=partitions, **options
    )
    worker.start()
    try:
        worker.wait_ready()
        wait_for(lambda: worker.handled() == len(lines), timeout, what="the history applied")
        yield worker
    finally:
        if worker.alive():
            worker.stop()


def every_switch(
    bootstrap: str, names: Names, version: str, partitions: int, timeout: float
) -> dict[int, Switch]:
    """Wait until all `partitions` of `names`' group have switched to `version`; the switches."""
    wait_for(
        lambda: len(switches(bootstrap, names.definitions, names.app_id, version)) == partitions,
        timeout, interval=0.5, what=f"every partition switched to {version}",
    )  # fmt: skip
    return switches(bootstrap, names.definitions, names.app_id, version)


def kill_inside_a_switch(worker: WorkerProcess, version: str, timeout: float) -> tuple[int, int]:
    """kill -9 `worker` while one of its partitions switches to `version`: its begin durable,
    its end not logged. The partition and its switch instant; fails if the kill came too late."""

    def under_way() -> tuple[int, str] | None:
        text = worker.log().read_text(errors="replace")
        for found in _SWITCHING.finditer(text):
            number, logged, at = int(found[1]), found[2], found[3]
            if logged == version and _switched_line(number, version) not in text:
                return number, at
        return None

    begun = wait_for(under_way, timeout, interval=0.01, what=f"a switch to {version} begun")
    worker.kill()
    assert begun is not None  # wait_for returns only what held
    number, at = begun
    assert _switched_line(number, version) not in worker.log().read_text(errors="replace"), (
        f"the kill landed after partition {number}'s switch: give it more contacts"
    )
    return number, parse_ts(at)


def wait_switch_redone(
    worker: WorkerProcess, number: int, version: str, at: int, timeout: float
) -> None:
    """Wait until the latest start of `worker` has redone partition `number`'s begun switch to
    `version`, at the same instant `at` (a switch made before the kill is not made again)."""
    wait_for(
        lambda: _switched_line(number, version) in worker.log().read_text(errors="replace"),
        timeout, what=f"partition {number}'s switch to {version} redone (see {worker.log()})",
    )  # fmt: skip
    text = worker.log().read_text(errors="replace")
    redone = [
        parse_ts(found[3])
        for found in _SWITCHING.finditer(text)
        if int(found[1]) == number and found[2] == version
    ]
    assert redone == [at], (redone, at)


def _switched_line(number: int, version: str) -> str:
    return f"partition {number} switched to version {version} at "


def assert_no_seq_gap(changes: Iterable[Change]) -> None:
    """Per contact, seq rises by one from 1 (a repeat of a seq must be identical)."""
    seen: dict[str, dict[int, Change]] = defaultdict(dict)
    for change in changes:
        mine = seen[change.contact_id]
        if change.seq in mine:
            assert mine[change.seq] == change, (mine[change.seq], change)
            continue
        assert change.seq == len(mine) + 1, change
        mine[change.seq] = change


def unique(changes: Iterable[Change]) -> list[Change]:
    """Each (contact, seq) once, at its first place: what a consumer keeps of repeats."""
    seen: set[tuple[str, int]] = set()
    out = []
    for change in changes:
        key = (change.contact_id, change.seq)
        if key not in seen:
            seen.add(key)
            out.append(change)
    return out


def assert_switched(
    changes: list[Change],
    lines: list[bytes],
    switched: dict[int, Switch],
    old: RuleSet,
    new: RuleSet,
    partitions: int,
) -> None:
    """Per partition: the old version's changes, the switch's, the new one's, in that order;
    after the switch the memberships are the history's replayed under the new version at
    the switch instant, the switch's changes exactly the difference; seq has no gap, and a
    change published twice (after a kill) is the same both times."""
    assert_no_seq_gap(changes)
    changes = unique(changes)
    for p in range(partitions):
        mine = [c for c in changes if partition_of(c.contact_id, partitions) == p]
        before = [c for c in mine if c.rules_version == old.version_hash]
        rules = [c for c in mine if c.reason == "rules"]
        after = [c for c in mine if c.rules_version == new.version_hash and c.reason != "rules"]
        assert mine == before + rules + after  # the switch is one instant of the partition
        at = switched[p].at
        assert rules and {parse_ts(c.at) for c in rules} == {at}
        own = lines_of(lines, p, partitions)
        expected = replayed(new, up_to(own, at), at)
        assert fold(before) != expected
        assert fold(before + rules, strict=True) == expected


def version_b(directory: Path) -> tuple[Path, RuleSet]:
    """Version B of the example rules written to `directory`, and as loaded."""
    path = directory / "b.yaml"
    path.write_text(version_b_text())
    return path, load_text(path.read_text())


def publish_file(bootstrap: str, path: Path, topic: str) -> None:
    """`segstream rules publish PATH` to `topic`, as a user runs it; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "stream", "rules", "publish", str(path), "--broker", bootstrap,
         "--topic", topic],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def published(bootstrap: str, topic: str) -> list[Change]:
    """Every change message of `topic` up to its end now: all that a worker has had
    acknowledged so far, partition by partition."""
    with tempfile.TemporaryDirectory(prefix="segstream-changes-") as into:
        history = asyncio.run(read_history(bootstrap, topic, into))
        lines = [line for h in history for line in Path(h.path).read_bytes().splitlines()]
    return [wire.decode(line) for line in lines]
