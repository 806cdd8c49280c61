#!/usr/bin/env bash
# One command for everything: set up (virtualenv, packages, browser, database schema) and then
#   ./run.sh demo     run the demo on the embedded SQLite default
#   ./run.sh test     run the whole test suite (--fast: the fast tier, no browser or subprocess)
#   ./run.sh bench    run the benchmarks in bench/
#   ./run.sh <args>   any runner command, e.g. ./run.sh serve, ./run.sh items list
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

setup_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> Creating virtualenv in $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "==> Installing packages (pyproject.toml)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
        rm -f "$VENV"/.installed-* && touch "$stamp"
    fi
}

have_browser() {
    ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-*/ >/dev/null 2>&1 && return 0
    [ -n "${RPA_BROWSER_PATH:-}" ] && [ -x "$RPA_BROWSER_PATH" ] && return 0
    for b in chromium chromium-browser google-chrome; do command -v "$b" >/dev/null && return 0; done
    return 1
}

setup_browser() {
    have_browser && return 0
    echo "==> No Chromium found; installing one"
    if "$VENV/bin/python" -m playwright install chromium >/dev/null 2>&1; then return 0; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        # On a fresh machine another package manager (unattended-upgrades, cloud-init) may
        # hold the dpkg lock: wait for it, up to RPA_APT_LOCK_TIMEOUT seconds, and say so.
        local wait=${RPA_APT_LOCK_TIMEOUT:-300}
        echo "==> Installing chromium with apt-get (waiting up to ${wait} s for the dpkg lock)"
        if ! { apt-get -o DPkg::Lock::Timeout="$wait" update -qq \
                && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$wait" \
                    install -y -qq chromium >/dev/null; }; then
            echo "Could not install chromium with apt-get (is the dpkg lock still held?)." >&2
            echo "Run: sudo apt-get install chromium" >&2
            return 1
        fi
    else
        echo "Could not install a browser. Run: sudo apt-get install chromium" >&2
        echo "(or: .venv/bin/python -m playwright install chromium)" >&2
        return 1
    fi
}

setup_python
# Without a browser, the demo and workers for browser tasks stop at start with the command
# that fixes it (runner.py: BrowserNotFound, exit 11); other commands work as before.
setup_browser || echo "(continuing without a browser: browser robots will not start)" >&2

cmd=${1:-demo}
case "$cmd" in
    demo)
        shift || true
        "$VENV/bin/python" runner.py db upgrade
        exec "$VENV/bin/python" runner.py demo "$@"
        ;;
    test)
        shift || true
        "$VENV/bin/ruff" check .
        "$VENV/bin/mypy"  # strict, on robots/ (pyproject.toml [tool.mypy])
        if [ "${1:-}" = "--fast" ]; then
            # The fast tier: unit and in-process tests, no browser, no subprocess.
            shift
            RPA_TEST_TIER=fast exec "$VENV/bin/python" -m pytest -m "not slow" "$@"
        fi
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    bench)
        shift || true
        # The queue bench's peers (procrastinate, pgqueuer) live in their own extra.
        "$VENV/bin/python" -c "import procrastinate, pgqueuer" 2>/dev/null \
            || "$VENV/bin/python" -m pip install --quiet -e '.[dev,bench]'
        for b in bench/[!_]*.py; do "$VENV/bin/python" "$b" "$@"; done
        ;;
    db|--help|-h)
        exec "$VENV/bin/python" runner.py "$@"
        ;;
    *)
        # Every other command runs on an up-to-date schema (errors, e.g. an unreachable
        # database, are printed by the upgrade itself).
        "$VENV/bin/python" runner.py db upgrade > /dev/null
        exec "$VENV/bin/python" runner.py "$@"
        ;;
esac
