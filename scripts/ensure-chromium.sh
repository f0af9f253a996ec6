#!/usr/bin/env bash
# The dashboard test drives a real headless Chromium. Debian ships it; install it when missing.
exec bash "$(dirname "$0")/ensure-debian-tool.sh" chromium chromium "the dashboard browser test"
