"""What every bench section shares: one broker, a scratch folder, the run's size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic


@dataclass
class BenchContext:
    kafka: KafkaSettings
    scratch: Path
    quick: bool
    figures: dict[str, float] = field(default_factory=dict)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def repetitions(self) -> int:
        return 1 if self.quick else 3

    def topic(self, prefix: str, partitions: int) -> str:
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        create_topic(self.kafka, name, partitions=partitions)
        return name

    def folder(self, name: str) -> Path:
        path = self.scratch / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path
