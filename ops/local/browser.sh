#!/usr/bin/env bash
# Headless Chromium for the browser tests (the API docs rendered offline): Debian's `chromium`,
# installed with apt-get when it is missing. Idempotent; prints the browser's path.
# Run by `make test` before pytest; the tests find the browser through TANSIQ_CHROMIUM
# (default: the path printed here) and fail, never skip, when it is not there.
# shellcheck shell=bash
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_chromium() {
    local candidate
    for candidate in "${TANSIQ_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then printf '%s\n' "$candidate"; return 0; fi
    done
    return 1
}

if ! find_chromium >/dev/null; then
    apt_install chromium || die "chromium is missing and could not be installed: as root run 'apt-get install -y chromium' (or set TANSIQ_CHROMIUM to a Chromium binary)"
fi
find_chromium || die "chromium was installed but no binary was found"
