from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.kafka_settings import KafkaSettings
from tests.notifier.harness import Stack, running_stack


@pytest.fixture(scope="module")
def stack(
    kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("notifier-stack")
    with running_stack(kafka_settings, root) as running:
        yield running
