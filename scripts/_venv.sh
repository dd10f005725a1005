# Sourced by the scripts: the project's virtual environment, created and kept up to date.
# $SEGSTREAM_VENV picks another one (default .venv in the repository).
VENV="${SEGSTREAM_VENV:-$(pwd)/.venv}"

ensure_venv() {
    local stamp="$VENV/.segstream-installed"
    # Other shells in the same tree may be doing this too; take turns.
    exec 9>"${TMPDIR:-/tmp}/segstream-venv-$(printf %s "$VENV" | md5sum | cut -c1-12).lock"
    flock 9
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "== creating $VENV"
        python3 -m venv "$VENV"
    fi
    if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
        echo "== installing segstream[dev] into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        touch "$stamp"
    fi
    flock -u 9
    exec 9>&-
}
