# shellcheck shell=bash
# Shared environment setup, sourced by scripts/test and scripts/demo.
#
# - creates .venv (python3 -m venv) and installs the project editable plus the
#   `test` and `lint` dependency groups; skipped when pyproject.toml is unchanged
#   since the last install (hash stamp inside .venv);
# - runs `npm ci` in tests/interop (setup_node) and in examples/chat (setup_demo_node:
#   the browser bundle of socket.io-client and the admin dashboard the demo serves) when
#   node_modules is missing or the lockfile changed (hash stamp inside node_modules);
# - installs Debian's chromium with apt-get when /usr/bin/chromium is missing
#   (ensure_chromium, for the browser tests), and redis-server likewise (ensure_redis).
#
# Expects the current directory to be the repository root.

PYTHON="${SOCKETEER_PYTHON:-python3}"
VENV=".venv"
VENV_PY="$VENV/bin/python"
INTEROP_DIR="tests/interop"
DEMO_DIR="examples/chat"
CHROMIUM="/usr/bin/chromium"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

_hash() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

setup_venv() {
    if [[ ! -x "$VENV_PY" ]]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV" || return 1
    fi
    local stamp="$VENV/.socketeer-install-stamp" want have=""
    want="$(_hash pyproject.toml) $("$VENV_PY" -c 'import sys; print(sys.version)' | head -1)"
    [[ -f "$stamp" ]] && have="$(cat "$stamp")"
    if [[ "$want" == "$have" ]]; then
        return 0
    fi
    log "installing socketeer (editable) + test/lint groups into $VENV"
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1' || return 1
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check \
        -e . --group test --group lint || return 1
    printf '%s' "$want" >"$stamp"
}

_npm_ci() { # _npm_ci <dir>: npm ci there unless node_modules matches the lockfile
    local dir="$1" stamp want have=""
    stamp="$dir/node_modules/.socketeer-lock-stamp"
    want="$(_hash "$dir/package-lock.json")"
    [[ -f "$stamp" ]] && have="$(cat "$stamp")"
    if [[ -d "$dir/node_modules" && "$want" == "$have" ]]; then
        return 0
    fi
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    printf '%s' "$want" >"$stamp"
}

setup_node() { _npm_ci "$INTEROP_DIR"; }

setup_demo_node() { _npm_ci "$DEMO_DIR"; }

_APT_UPDATED=""
_apt_install() { # _apt_install <package>: apt-get update (once per run), then install
    local sudo=""
    [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    if [[ -z "$_APT_UPDATED" ]]; then
        $sudo apt-get update -qq || return 1
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null || return 1
}

# The browser tests drive Debian's Chromium (headless) with playwright-core.
ensure_chromium() {
    if [[ -x "$CHROMIUM" ]]; then
        return 0
    fi
    log "installing chromium with apt-get (for the browser tests)"
    _apt_install chromium || return 1
    [[ -x "$CHROMIUM" ]]
}

_redis_ping() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
    else
        # no redis-cli: speak RESP over bash's /dev/tcp
        local reply=""
        { exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT"; } 2>/dev/null || return 1
        printf 'PING\r\n' >&3
        read -r -t 2 reply <&3 || true
        exec 3<&- 3>&-
        [[ "$reply" == "+PONG"* ]]
    fi
}

# Starts Redis on 127.0.0.1:6379 (SOCKETEER_REDIS_PORT) unless one answers already (installs redis-server with
# apt-get when missing). Sets REDIS_STARTED_PID when it started one; stop_redis stops it.
REDIS_PORT="${SOCKETEER_REDIS_PORT:-6379}"
REDIS_STARTED_PID=""
ensure_redis() {
    if _redis_ping; then
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        log "installing redis-server with apt-get"
        _apt_install redis-server || return 1
    fi
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    local pidfile
    pidfile="$(mktemp -u "${TMPDIR:-/tmp}/socketeer-redis.XXXXXX.pid")"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --pidfile "$pidfile" >/dev/null || return 1
    local i
    for ((i = 0; i < 100; i++)); do
        if _redis_ping; then
            REDIS_STARTED_PID="$(cat "$pidfile" 2>/dev/null || true)"
            rm -f "$pidfile"
            return 0
        fi
        sleep 0.1 # nothing to await: Redis gives no readiness signal to a daemonizing parent
    done
    log "redis-server did not answer on 127.0.0.1:$REDIS_PORT"
    return 1
}

stop_redis() {
    if [[ -n "$REDIS_STARTED_PID" ]]; then
        kill "$REDIS_STARTED_PID" 2>/dev/null || true
        REDIS_STARTED_PID=""
    fi
}
