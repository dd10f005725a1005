"""scripts/_prereqs.sh: a missing system tool is installed with apt-get, or named in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _install(bin_dir: Path, *tools: str) -> subprocess.CompletedProcess[str]:
    script = f"source scripts/_prereqs.sh && install_tools {' '.join(tools)} && echo ok"
    return subprocess.run(
        ["/bin/bash", "-c", script],
        cwd=ROOT,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def test_a_missing_tool_is_installed_with_apt_get(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    # apt-get records its arguments; "installing" redis-tools puts redis-cli on PATH.
    _fake(bin_dir, "apt-get", f'echo "$*" >> {calls}\n'
          f'[[ "$1" == install ]] && printf "#!/bin/bash\\n" > {bin_dir}/redis-cli '
          f"&& /bin/chmod 755 {bin_dir}/redis-cli\nexit 0\n")  # fmt: skip
    _fake(bin_dir, "sudo", '"$@"\n')  # for a run that is not as root
    (bin_dir / "env").symlink_to("/usr/bin/env")
    result = _install(bin_dir, "redis-cli")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "== installing redis-tools with apt-get (about a minute)",
        "ok",
    ]
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq redis-tools"]


def test_without_apt_get_the_missing_tools_are_named_with_the_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = _install(bin_dir, "redis-server", "redis-cli", "promtool")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: missing redis-server, redis-cli, promtool; "
        "install with: apt-get install -y redis-server redis-tools prometheus"
    ]
