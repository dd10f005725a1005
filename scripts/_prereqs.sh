# shellcheck shell=bash
# Sourced by the scripts: check every system tool they need at once, before they start anything.

# The Debian/Ubuntu package that brings each tool, and how an error names a missing one.
declare -A _PACKAGE_OF=(
    [python3]=python3-venv [venv]=python3-venv [java]=default-jre-headless [mvn]=maven
    [redis-server]=redis-server [redis-cli]=redis-tools [prometheus]=prometheus
    [promtool]=prometheus [chromium]=chromium
)
declare -A _NAME_OF=(
    [python3]="python3 (3.11 or newer)" [venv]="Python's venv module" [java]="java (17 or newer)"
)

# _have TOOL: whether TOOL is there and new enough (venv: Python can create one, or it exists).
_have() {
    case "$1" in
        python3)
            command -v python3 >/dev/null &&
                python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ;;
        venv)
            [[ -x "${VENV:-.venv}/bin/python" ]] || python3 -c 'import ensurepip, venv' 2>/dev/null ;;
        java)
            command -v java >/dev/null &&
                java -XshowSettings:properties -version 2>&1 |
                awk -F' = ' '/java.specification.version/ { ok = ($2 + 0 >= 17) } END { exit !ok }' ;;
        *)
            command -v "$1" >/dev/null ;;
    esac
}

# require_tools TOOL...: exit 1 naming every missing tool and one command that installs them all.
require_tools() {
    local missing=() packages=() tool
    for tool in "$@"; do
        if ! _have "$tool"; then
            missing+=("${_NAME_OF[$tool]:-$tool}")
            [[ " ${packages[*]} " == *" ${_PACKAGE_OF[$tool]} "* ]] || packages+=("${_PACKAGE_OF[$tool]}")
        fi
    done
    if ((${#missing[@]})); then
        local names
        names=$(printf '%s, ' "${missing[@]}")
        echo "error: missing ${names%, }; install with: apt-get install -y ${packages[*]}" >&2
        exit 1
    fi
}

# install_tools TOOL...: install what the missing tools need with apt-get, as root or through
# sudo when it asks no password, saying so first; then require_tools. Without apt-get or the
# rights to use it, require_tools names what is missing and the command that installs it.
install_tools() {
    local packages=() tool as=()
    for tool in "$@"; do
        _have "$tool" && continue
        [[ " ${packages[*]} " == *" ${_PACKAGE_OF[$tool]} "* ]] || packages+=("${_PACKAGE_OF[$tool]}")
    done
    if ((${#packages[@]})) && command -v apt-get >/dev/null; then
        if ((EUID != 0)); then
            if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
                as=(sudo)
            else
                require_tools "$@"  # no rights to install: say what to install, and stop
            fi
        fi
        echo "== installing ${packages[*]} with apt-get (about a minute)"
        "${as[@]}" apt-get update -qq
        "${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
    require_tools "$@"
}
