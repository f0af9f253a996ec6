"""HTTP load from wrk (C, from Debian): a Python client would eat the core the server needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua" / "post_unique.lua"
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_BENCH = re.compile(r"BENCH requests=(\d+) errors_status=(\d+) p50_us=(\d+) p99_us=(\d+)")


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    non_2xx: int
    p50_ms: float
    p99_ms: float


def post_load(
    url: str,
    body_file: Path,
    *,
    seconds: int,
    connections: int = 16,
    threads: int = 1,
    auth: str = "",
    salt: int = 0,
) -> WrkResult:
    """POST unique bodies at url for `seconds`; fails loudly if any response was not 2xx."""
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_AUTH": auth}
    env["BENCH_SALT"] = str(salt)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: `make bench` installs it (Debian package wrk)")
    out = subprocess.run(  # noqa: S603 - fixed argv
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps, bench = _RPS.search(out), _BENCH.search(out)
    if not rps or not bench:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    requests, errors, p50, p99 = (int(g) for g in bench.groups())
    result = WrkResult(float(rps.group(1)), requests, errors, p50 / 1000, p99 / 1000)
    if errors:
        raise RuntimeError(f"{errors} of {requests} responses were not 2xx/3xx at {url}")
    return result
