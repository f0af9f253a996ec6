#!/usr/bin/env bash
# Install a Debian package when its command is missing: `ensure-debian-tool.sh COMMAND PACKAGE WHY`.
# Used for tools the test and bench runs need beyond PyPI (chromium for the browser test,
# wrk for the HTTP load in `make bench`). Needs root and apt-get; otherwise says what to install.
set -euo pipefail
cmd=$1 package=$2 why=$3
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$cmd is missing: install it (Debian: apt-get install $package) for $why" >&2
  exit 1
fi
echo "installing Debian's $package for $why…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$package" >/dev/null
