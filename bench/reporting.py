"""reporting.*: the metrics worker against a no-op faust agent and a raw aiokafka consumer."""

from __future__ import annotations

from bench.context import BenchContext, run_rate_process
from bench.kafka_load import produce, raw_aiokafka_rate, registrations
from bench.stats import repeat

PARTITIONS = 6


def noop_faust_rate(ctx: BenchContext, topic: str, count: int) -> float:
    argv = ["-m", "bench.faust_noop", "--bootstrap", ctx.kafka.bootstrap_servers]
    argv += ["--topic", topic, "--partitions", str(PARTITIONS), "--count", str(count)]
    argv += ["--data-dir", str(ctx.folder("noop"))]
    return run_rate_process(argv, timeout=600)


def measure(ctx: BenchContext) -> dict[str, float]:
    count = ctx.size(100_000, 20_000)
    topic = ctx.topic("reporting", PARTITIONS)
    produce(ctx.kafka, topic, registrations(count))
    reps = ctx.repetitions()
    raw = repeat(lambda: raw_aiokafka_rate(ctx.kafka, topic, count), repetitions=reps)
    noop = repeat(lambda: noop_faust_rate(ctx, topic, count), warmup=0, repetitions=reps)
    return {
        "reporting.raw_aiokafka_per_s": raw.median,
        "reporting.noop_faust_per_s": noop.median,
    }
