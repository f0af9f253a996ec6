"""e2e.* and memory.*: registration to welcome SMS at the gateway under a steady 100/s, with
the whole platform running as `make run` runs it, and each service's peak memory meanwhile."""

from __future__ import annotations

import uuid
from datetime import datetime

from bench.context import BenchContext
from bench.driver import PlatformRun, registration, wait_until
from bench.identities import identities
from bench.rss import peak_rss_mb
from bench.stats import percentile

SERVICES = ("enrollment", "notifier", "reporting")


def measure(ctx: BenchContext) -> dict[str, float]:
    rate, seconds = (20.0, 10) if ctx.quick else (100.0, 60)
    count = int(rate * seconds)
    run = PlatformRun(ctx.folder("e2e"))
    run.start()
    try:
        campaign = "BENCH-" + uuid.uuid4().hex[:6].upper()
        run.create_campaign(campaign)
        people = identities(count, salt=3000 + int(uuid.uuid4().int % 1000))
        bodies = [registration(nik, phone, i, campaign) for i, (nik, phone) in enumerate(people)]
        sent_at: list[float] = []
        responses = run.register_all(bodies, concurrency=32, rate=rate, sent_at=sent_at)
        if bad := [r.status_code for r in responses if r.status_code != 201]:
            raise RuntimeError(f"{len(bad)} registrations failed: {sorted(set(bad))}")
        phones = {b["phone"]: t for b, t in zip(bodies, sent_at, strict=True)}

        def arrived() -> dict[str, float] | None:
            got = {
                m["to"]: datetime.fromisoformat(m["received_at"]).timestamp()
                for m in run.sms_messages()
                if "|welcome|" in m["reference"] and m["to"] in phones
            }
            return got if len(got) == len(phones) else None

        received = wait_until(arrived, 600, "every welcome SMS at the gateway", every=1.0)
        latencies = [(received[p] - phones[p]) * 1000 for p in phones]
        platform = run.live()
        memory = {
            f"memory.{name}_rss_mb": peak_rss_mb(platform.children[name].pid) for name in SERVICES
        }
    finally:
        run.stop()
    achieved = count / (max(sent_at) - min(sent_at))
    return {
        "e2e.p50_ms": percentile(latencies, 50),
        "e2e.p99_ms": percentile(latencies, 99),
        "e2e.offered_rate_per_s": achieved,
        **memory,
    }
