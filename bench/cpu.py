"""How busy the whole machine was over a stretch of a run, read from /proc/stat (Linux): the
share of every core's time spent working, idle, or taken by the hypervisor (steal). A figure
such as a speedup means little when the machine had no idle time left to give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuTimes:
    busy: int
    idle: int
    steal: int

    @staticmethod
    def now() -> CpuTimes:
        # cpu  user nice system idle iowait irq softirq steal guest guest_nice (in ticks)
        fields = [int(x) for x in Path("/proc/stat").read_text("utf-8").split("\n")[0].split()[1:]]
        user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
        return CpuTimes(user + nice + system + irq + softirq, idle + iowait, steal)


def shares(before: CpuTimes, after: CpuTimes) -> dict[str, float]:
    """Shares (0..1) of all cores' time between two readings: busy, idle, stolen."""
    busy, idle = after.busy - before.busy, after.idle - before.idle
    steal = after.steal - before.steal
    total = max(1, busy + idle + steal)
    return {"busy": busy / total, "idle": idle / total, "steal": steal / total}
