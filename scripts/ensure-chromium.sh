#!/usr/bin/env bash
# The dashboard test drives a real headless Chromium. Debian ships it; install it when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing: install it (Debian: apt-get install chromium) for the browser test" >&2
  exit 1
fi
echo "installing Debian's chromium for the browser test…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
