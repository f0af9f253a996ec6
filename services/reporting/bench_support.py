"""Throughput of the reporting worker against a no-op faust agent, on the same topic.

For the benchmark harness (`make bench`) and for a quick look by hand:

    .venv/bin/python -m services.reporting.bench_support compare --events 100000

Both consumers run as separate processes on a topic filled beforehand; each is timed from
its first processed batch to the batch that reaches the target count (wall clock), so group
join and start-up are excluded the same way for both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaProducer

from schemas.envelope import encode_event, new_event
from schemas.events import ParticipantRegisteredV2
from services.common.apikeys import key_digest
from services.common.broker import EmbeddedBroker
from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.common.topic_admin import create_topic
from services.reporting.runner import WorkerConfig, WorkerProcess

#: the key the bench reads stream health with (a viewer: figures and stream health only)
BENCH_KEY = "bck_bench-reporting-viewer-key-000001"
AUTH = {"Authorization": f"Bearer {BENCH_KEY}"}
VIEWER_ENV = {"REPORTING_KEY_HASHES": f"{key_digest(BENCH_KEY)}:viewer"}

BRANCHES = (("SKA", "Asia/Jakarta"), ("MKS", "Asia/Makassar"), ("JAY", "Asia/Jayapura"))
SEGMENTS = ("pedagang", "ojek", "petani", "nelayan")


@dataclass(frozen=True)
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def sample_events(count: int, start: datetime | None = None) -> list[tuple[bytes, bytes]]:
    """(key, value) of realistic participant.registered events over three time zones."""
    start = start or datetime(2023, 12, 16, 0, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        branch, zone = BRANCHES[i % len(BRANCHES)]
        pid = f"P{i:08d}"
        data = ParticipantRegisteredV2(
            participant_id=pid,
            full_name="Peserta Uji",
            nik_hash="ab" * 32,
            nik_masked="3372**********01",
            birth_date=datetime(1980, 1, 1).date(),
            sex="F",
            phone_e164="+6281234567890",
            segment=SEGMENTS[i % len(SEGMENTS)],
            branch_code=branch,
            branch_timezone=zone,
            campaign_code=f"CAMP{i % 5}",
            officer_id=f"OFF-{i % 40}",
            programmes=["JKK", "JKM"],
            declared_income=1_000_000,
            monthly_contribution=16_800,
            preferred_channel="sms",
            consent_reminders=True,
            source="field",
            registered_at=start + timedelta(seconds=37 * i),
        )
        out.append((pid.encode(), encode_event(new_event(data, source="/bench", subject=pid))))
    return out


def fill_topic(kafka: KafkaSettings, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(linger_ms=5, batch_size=256 * 1024, **kafka.kafka_python_config())
    try:
        for key, value in events:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def measure_reporting(
    kafka: KafkaSettings, topic: str, events: int, workdir: Path, timeout: float = 600.0
) -> Rate:
    """Run one reporting worker (memory store) on `topic` until it has processed `events`."""
    others = {name: f"bench-{name}-{uuid.uuid4().hex[:8]}" for name in ("c", "n", "dl")}
    create_topic(kafka, others["c"], 3)
    create_topic(kafka, others["n"], 6)
    create_topic(kafka, others["dl"], 1)
    config = WorkerConfig(
        bootstrap_servers=kafka.bootstrap_servers,
        port=free_port(),
        group_id=f"bench-reporting-{uuid.uuid4().hex[:8]}",
        participants_topic=topic,
        campaigns_topic=others["c"],
        notifications_topic=others["n"],
        deadletter_topic=others["dl"],
        data_dir=workdir / "reporting",
        extra_env={"REPORTING_LAG_INTERVAL_S": "30", "REPORTING_LOG_LEVEL": "warn", **VIEWER_ENV},
    )
    worker = WorkerProcess(config, workdir / "reporting.log").start()
    try:
        worker.wait_ready(timeout=120)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = httpx.get(worker.url + "/v1/stream-health", headers=AUTH, timeout=10)
            answer.raise_for_status()  # a refusal names itself, not a missing field later
            health = answer.json()
            done = sum(t["processed"] for t in health["topics"].values())
            if done >= events:
                return Rate(done, health["last_batch_at"] - health["first_batch_at"])
            time.sleep(0.5)
        raise TimeoutError(f"reporting processed fewer than {events} events in {timeout}s")
    finally:
        worker.stop()


def measure_noop(kafka: KafkaSettings, topic: str, events: int, timeout: float = 600.0) -> Rate:
    """Run a faust agent that only counts (same batching as reporting) in a child process."""
    with tempfile.TemporaryDirectory(prefix="bench-noop-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "services.reporting.bench_support", "noop"]
        command += ["--topic", topic, "--events", str(events), "--result-file", str(result_file)]
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
        subprocess.run(command, env=env, capture_output=True, timeout=timeout, check=True)  # noqa: S603
        result = json.loads(result_file.read_text())
    return Rate(int(result["events"]), float(result["seconds"]))


def _noop(topic_name: str, events: int, result_file: Path) -> None:
    """The reference: faust consuming the topic with take_events(5000) and doing nothing."""
    app = make_faust_app(f"bench-noop-{uuid.uuid4().hex[:8]}", KafkaSettings())
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    seen = {"count": 0, "first": 0.0}

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for batch in stream.take_events(5000, 0.2):
            now = time.time()
            if not seen["count"]:
                seen["first"] = now
            seen["count"] += len(batch)
            if seen["count"] >= events:
                result = {"events": seen["count"], "seconds": now - seen["first"]}
                # faust redirects stdout into its logs, so the result goes to a file
                result_file.write_text(json.dumps(result))  # noqa: ASYNC240 - exits next
                os._exit(0)

    worker = app.Worker(loglevel="warn")
    worker.execute_from_commandline()


def compare(kafka: KafkaSettings, events: int, partitions: int = 6) -> dict[str, float]:
    topic = f"bench-participants-{uuid.uuid4().hex[:8]}"
    create_topic(kafka, topic, partitions)
    fill_topic(kafka, topic, sample_events(events))
    noop = measure_noop(kafka, topic, events)
    with tempfile.TemporaryDirectory(prefix="bench-reporting-") as tmp:
        reporting = measure_reporting(kafka, topic, events, Path(tmp))
    return {
        "events": events,
        "noop_events_per_s": round(noop.per_second, 1),
        "reporting_events_per_s": round(reporting.per_second, 1),
        "ratio": round(reporting.per_second / noop.per_second, 3) if noop.per_second else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reporting.bench_support")
    sub = parser.add_subparsers(dest="command", required=True)
    noop = sub.add_parser("noop", help="(internal) the no-op faust consumer")
    noop.add_argument("--topic", required=True)
    noop.add_argument("--events", type=int, required=True)
    noop.add_argument("--result-file", type=Path, required=True)
    cmp_ = sub.add_parser("compare", help="fill a topic, time no-op faust and reporting on it")
    cmp_.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    if args.command == "noop":
        sys.argv = [sys.argv[0], "worker"]  # faust's command line wants a sub-command
        _noop(args.topic, args.events, args.result_file)
        return 0
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print(json.dumps(compare(KafkaSettings(), args.events)))
        return 0
    with EmbeddedBroker() as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        print(json.dumps(compare(kafka, args.events)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
