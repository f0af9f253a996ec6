"""Peak resident memory of a process and its children, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def _status_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += children_of(current)
    return pids


def peak_rss_mb(pid: int) -> float:
    """VmHWM (the kernel's own high-water mark) of the largest process in the tree, in MB.

    The largest single process, not the sum: each service is one Python process, and helper
    children (reloaders, shells) would only inflate a sum.
    """
    return round(max(_status_kib(p, "VmHWM") for p in tree(pid)) / 1024, 1)


def current_rss_mb(pid: int) -> float:
    return round(max(_status_kib(p, "VmRSS") for p in tree(pid)) / 1024, 1)
