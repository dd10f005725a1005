"""`segstream report --html`: the page's assets and data inline, and one line when Redis is down."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from stream.cli.failures import EXIT_UNAVAILABLE
from stream.cli.main import main
from stream.serving.snapshot import PAGE_PATHS, Snapshot, snapshot_html


def test_the_page_is_one_file_whose_data_cannot_close_its_script() -> None:
    hostile = "</script><script>alert(1)</script> & <!--"
    answers = {path: {"segments": [], "text": hostile} for path in PAGE_PATHS}
    snapshot = Snapshot(answers, "segstream_serving_redis_up 1\n")
    page = snapshot_html(snapshot, "2026-12-01T00:00:00Z")
    assert '="/page/' not in page  # neither the stylesheet nor the script is linked
    assert "<style>" in page and "function liftTable" in page
    assert page.count("</script>") == 2 and hostile not in page
    start = page.index("window.SEGSTREAM_SNAPSHOT = ") + len("window.SEGSTREAM_SNAPSHOT = ")
    data = orjson.loads(page[start : page.index(";</script>", start)])
    assert data["answers"][PAGE_PATHS[0]]["text"] == hostile
    assert data["taken"] == "2026-12-01T00:00:00Z"


def test_unreachable_redis_is_one_line_and_exit_3(tmp_path: Path) -> None:
    target = tmp_path / "status.html"
    result = CliRunner().invoke(
        main,
        ["report", "--html", str(target), "--redis", "redis://127.0.0.1:1/0"],
        env={"SEGSTREAM_RULES_FILE": ""},
    )
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    assert result.stderr.startswith("error: Redis at redis://127.0.0.1:1/0 does not answer")
    assert not target.exists()
