"""Start a server process for a measurement and stop it afterwards, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM unwinds a measurement like Ctrl-C does: every `finally` runs, so the embedded
    broker and the services it started stop with it (a bench killed by `timeout` or a CI
    runner otherwise left its broker holding gigabytes)."""
    signal.signal(signal.SIGTERM, _interrupt)


@contextlib.contextmanager
def serving(
    argv: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        child = subprocess.Popen(  # noqa: S603 - our own modules
            [sys.executable, *argv],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"{argv} exited with {child.returncode}; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv} not ready at {ready_url}; see {log}")
            time.sleep(0.2)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
