"""A measurement stopped by SIGTERM unwinds like Ctrl-C, so its `finally` blocks stop the
embedded broker and the services it started."""

from __future__ import annotations

import os
import signal

import pytest

from bench.processes import stop_cleanly_on_sigterm


def _measure(cleaned: list[str]) -> None:
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        cleaned.append("not interrupted")
    finally:
        cleaned.append("broker stopped")


def test_sigterm_unwinds_through_finally_blocks() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    cleaned: list[str] = []
    try:
        stop_cleanly_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            _measure(cleaned)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert cleaned == ["broker stopped"]
