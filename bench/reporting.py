"""reporting.*: the metrics worker against a no-op faust agent and a raw aiokafka consumer on
the same topic, and two workers against one.

The worker and the no-op agent come from services/reporting/bench_support.py (same batching,
same timing rule: first processed batch to the batch that reaches the count).
"""

from __future__ import annotations

import time
import uuid

import httpx

from bench.context import BenchContext
from bench.kafka_load import raw_aiokafka_rate
from bench.stats import repeat
from services.common.ports import free_port
from services.common.topic_admin import create_topic
from services.reporting.bench_support import (
    AUTH,
    VIEWER_ENV,
    fill_topic,
    measure_noop,
    measure_reporting,
    sample_events,
)
from services.reporting.runner import WorkerConfig, WorkerProcess

PARTITIONS = 6


def _two_workers(ctx: BenchContext, topic: str, events: int) -> float:
    """Events/s of two reporting workers in one group, from the first batch either of them
    processed to the last batch that completed the count."""
    others = {name: ctx.topic(f"rep-{name}", p) for name, p in (("c", 3), ("n", 6), ("dl", 1))}
    group = f"bench-reporting-{uuid.uuid4().hex[:8]}"
    workers = []
    for i in range(2):
        config = WorkerConfig(
            bootstrap_servers=ctx.kafka.bootstrap_servers,
            port=free_port(),
            group_id=group,
            participants_topic=topic,
            campaigns_topic=others["c"],
            notifications_topic=others["n"],
            deadletter_topic=others["dl"],
            data_dir=ctx.folder(f"reporting-{i}"),
            extra_env={
                "REPORTING_LAG_INTERVAL_S": "30",
                "REPORTING_LOG_LEVEL": "warn",
                **VIEWER_ENV,
            },
        )
        workers.append(WorkerProcess(config, ctx.scratch / f"reporting-{group}-{i}.log").start())
    try:
        for worker in workers:
            worker.wait_ready(timeout=180)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            health = [
                httpx.get(w.url + "/v1/stream-health", headers=AUTH, timeout=10).json()
                for w in workers
            ]
            done = sum(t["processed"] for h in health for t in h["topics"].values())
            if done >= events:
                first = min(h["first_batch_at"] for h in health if h["first_batch_at"])
                last = max(h["last_batch_at"] for h in health if h["last_batch_at"])
                return float(done / (last - first))
            time.sleep(0.5)
        raise TimeoutError(f"two reporting workers processed fewer than {events} events")
    finally:
        for worker in workers:
            worker.stop()


def measure(ctx: BenchContext) -> dict[str, float]:
    events = ctx.size(100_000, 20_000)
    topic = f"bench-participants-{uuid.uuid4().hex[:8]}"
    create_topic(ctx.kafka, topic, PARTITIONS)
    fill_topic(ctx.kafka, topic, sample_events(events))
    reps = ctx.repetitions()
    raw = repeat(lambda: raw_aiokafka_rate(ctx.kafka, topic, events), repetitions=reps)
    noop_runs, reporting_runs = [], []
    for _ in range(reps):  # alternate, so drift on a shared machine hits both alike
        noop_runs.append(measure_noop(ctx.kafka, topic, events).per_second)
        rate = measure_reporting(ctx.kafka, topic, events, ctx.folder("reporting"))
        reporting_runs.append(rate.per_second)
    noop, one = sorted(noop_runs)[reps // 2], sorted(reporting_runs)[reps // 2]
    two = _two_workers(ctx, topic, events)
    return {
        "reporting.raw_aiokafka_per_s": raw.median,
        "reporting.noop_faust_per_s": noop,
        "reporting.events_per_s": one,
        "reporting.ratio_vs_noop_faust": one / noop,
        "reporting.two_worker_per_s": two,
        "reporting.two_worker_speedup": two / one,
    }
