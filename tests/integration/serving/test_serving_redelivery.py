"""Hand-made change topics: repeated messages change nothing; a lost one is a listed gap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.core.timefmt import format_ts
from stream.testing.membership import rebuild
from stream.testing.waiting import wait_for
from tests.e2e.harness import produce
from tests.support.serving import api, assert_serves, end_position, materializer, wait_served

SEGMENTS = ["alpha", "beta"]
T0 = 1_793_491_200_000_000  # 2026-11-01T00:00:00Z


def change(contact: str, seq: int, segment: str, entered: bool, holdout: bool = False) -> dict:
    return {"kind": "segment", "contact_id": contact, "segment": segment,
            "change": "entered" if entered else "exited", "at": format_ts(T0 + seq * 1_000_000),
            "reason": "event", "cause_event_id": f"e-{seq}", "rules_version": "r1", "seq": seq,
            "holdout": holdout}  # fmt: skip


def stage(contact: str, seq: int, to: str | None) -> dict:
    return {"kind": "lifecycle", "contact_id": contact, "from": None, "to": to,
            "at": format_ts(T0 + seq * 1_000_000), "reason": "event",
            "cause_event_id": f"e-{seq}", "rules_version": "r1", "seq": seq}  # fmt: skip


def history(contact: str) -> list[dict[str, Any]]:
    """Seven changes of one contact: in and out of alpha, into beta held out, a stage."""
    return [
        change(contact, 1, "alpha", True),
        stage(contact, 2, "lead"),
        change(contact, 3, "beta", True, holdout=True),
        change(contact, 4, "alpha", False),
        stage(contact, 5, "mql"),
        change(contact, 6, "alpha", True),
        change(contact, 7, "beta", False),
    ]


def _rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\nsegments:\n"
        "  - {id: alpha, when: {trait: a, eq: true}}\n"
        "  - {id: beta, holdout: 0.5, when: {trait: b, eq: true}}\n"
    )
    return path


def _stats(client: Any) -> str:
    return str(client.get("/metrics").text)


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    )


def _run(
    kafka_bootstrap: str, redis_url: str, namespace: str, tmp_path: Path, lines: list[bytes]
) -> tuple[Any, Any, Any]:
    topic = f"{namespace}-changes"
    produce(kafka_bootstrap, topic, lines, 2)
    mat = materializer(tmp_path, kafka_bootstrap, topic, redis_url, namespace).start()
    server = api(tmp_path, redis_url, namespace, _rules(tmp_path))
    server.process.start()
    server.wait_ready()
    client = server.client()
    wait_served(client, end_position(kafka_bootstrap, topic))
    return mat, server, client


def test_repeated_messages_change_nothing(
    kafka_bootstrap: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    changes: list[dict[str, Any]] = []
    once: list[dict[str, Any]] = []
    for n in range(6):
        first = history(f"c-{n}")
        once += first
        # As after a worker crash: a run of changes published a second time, and the last one.
        changes += first[:5] + first[1:5] + first[5:] + first[5:]
    mat, server, client = _run(
        kafka_bootstrap, redis_url, namespace, tmp_path, [orjson.dumps(c) for c in changes]
    )
    try:
        assert rebuild(changes).redelivered == 6 * 6
        assert_serves(client, rebuild(once), SEGMENTS)  # what the history without repeats gives
        text = _stats(client)
        assert _metric(text, "segstream_serving_applied_total") == 6 * 7
        assert _metric(text, "segstream_serving_redelivered_total") == 6 * 6
        assert _metric(text, "segstream_serving_gaps_total") == 0
        assert client.get("/v1/gaps").json()["gaps"] == []
    finally:
        client.close()
        mat.stop()
        server.process.stop()
    mat.assert_healthy()


def test_a_removed_message_is_a_counted_logged_listed_gap(
    kafka_bootstrap: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    kept = history("c-ok")
    lost = [c for c in history("c-gap") if c["seq"] != 3]  # seq 3 (entered beta) never arrives
    lines = [orjson.dumps(c) for c in kept + lost] + [b"not a change message"]
    mat, server, client = _run(kafka_bootstrap, redis_url, namespace, tmp_path, lines)
    try:
        assert_serves(client, rebuild(kept + lost), SEGMENTS)
        gaps = client.get("/v1/gaps").json()
        assert gaps["gaps"] == [{"contact_id": "c-gap", "seq": 7, "missing": [[3, 3]]}]
        assert gaps["next"] is None
        text = _stats(client)
        assert _metric(text, "segstream_serving_gaps_total") == 1
        assert _metric(text, "segstream_serving_open_gaps") == 1
        assert _metric(text, "segstream_serving_invalid_total") == 1
        log = mat.log_text()
        assert "gap: contact c-gap went from seq 2 to 4" in log
        assert "skipping change message" in log

        # A late copy of the missing change closes the gap; it is not applied over newer ones.
        late = history("c-gap")[2]
        produce(kafka_bootstrap, f"{namespace}-changes", [orjson.dumps(late)], 2)
        wait_served(client, end_position(kafka_bootstrap, f"{namespace}-changes"))
        assert client.get("/v1/gaps").json()["gaps"] == []
        assert_serves(client, rebuild([*kept, *lost, late]), SEGMENTS)
        assert _metric(_stats(client), "segstream_serving_gaps_filled_total") == 1
    finally:
        client.close()
        mat.stop()
        server.process.stop()
    assert "Traceback" not in mat.log_text()


@pytest.mark.parametrize("limit", [1, 2, 1000])
def test_gaps_page_in_contact_order(
    kafka_bootstrap: str, redis_url: str, namespace: str, tmp_path: Path, limit: int
) -> None:
    lines = []
    for n in range(5):
        lines += [orjson.dumps(c) for c in history(f"g-{n}") if c["seq"] not in (2, 5)]
    mat, server, client = _run(kafka_bootstrap, redis_url, namespace, tmp_path, lines)
    try:
        listed, cursor = [], None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/gaps", params=params).json()
            listed += page["gaps"]
            cursor = page["next"]
            if cursor is None:
                break
        assert [g["contact_id"] for g in listed] == [f"g-{n}" for n in range(5)]
        assert all(g["missing"] == [[2, 2], [5, 5]] for g in listed)
        wait_for(lambda: "gap: contact g-4" in mat.log_text(), 10, what="the gap log lines")
    finally:
        client.close()
        mat.stop()
        server.process.stop()
