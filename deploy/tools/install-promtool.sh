#!/usr/bin/env bash
# Puts promtool (from Debian's `prometheus` package) at .local/bin/promtool for
# `make k8s-validate`, without installing the package: that would also install and, on a
# machine with systemd, start a Prometheus server. The .deb is downloaded by apt and only the
# promtool binary is unpacked. Does nothing when promtool is already on PATH or in .local/bin.
set -euo pipefail
cd "$(dirname "$0")/../.."

dest=.local/bin/promtool
if command -v promtool >/dev/null 2>&1 || [ -x "$dest" ]; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "promtool is missing and there is no apt-get: install Prometheus' promtool on PATH" >&2
  exit 1
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "promtool: unpacking it from Debian's prometheus package into $dest"
if ! (cd "$work" && apt-get download -qq prometheus 2>/dev/null); then
  # The package lists may be missing or stale; refreshing them needs root.
  [ "$(id -u)" = 0 ] || { echo "run as root once, or: sudo apt-get update" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  (cd "$work" && apt-get download -qq prometheus 2>/dev/null)
fi
dpkg-deb -x "$work"/prometheus_*.deb "$work/unpacked"
mkdir -p "$(dirname "$dest")"
install -m 0755 "$work/unpacked/usr/bin/promtool" "$dest"
"$dest" --version | head -1
