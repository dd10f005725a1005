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
        echo "== installing segstream[dev] into $VENV (the first time: about a minute)"
        PYTHONUNBUFFERED=1 "$VENV/bin/python" -m pip install --disable-pip-version-check \
            --progress-bar off -e '.[dev]' | _pip_progress
        touch "$stamp"
    fi
    flock -u 9
    exec 9>&-
}

# pip's standard output as a count of the packages it collects, on one line on a terminal;
# its warnings and errors go to standard error untouched.
_pip_progress() {
    local tty=""
    [[ -t 1 ]] && tty=1
    awk -v tty="$tty" '
        /^Collecting / {
            n++
            if (tty) { printf "\r\033[K   %d packages: %s", n, $2; fflush() }
            next
        }
        /^Installing collected packages/ {
            if (tty) printf "\r\033[K"
            printf "   collected %d packages; installing them\n", n
            fflush()
        }'
}
