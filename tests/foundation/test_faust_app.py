"""What make_faust_app changes in the clients faust builds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings


def test_worker_consumers_wait_for_data_as_long_as_the_settings_say() -> None:
    """faust hard-codes a 1,500 ms fetch wait, which the embedded broker adds to every hop."""
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=75)

    async def build() -> int:
        app = make_faust_app("bebas-test-fetch-wait", kafka)
        thread = app.consumer._thread  # type: ignore[attr-defined]
        client = thread._create_worker_consumer(app.transport)
        wait: int = client._fetch_max_wait_ms
        return wait

    assert asyncio.run(build()) == 75


def test_consumers_on_a_real_cluster_keep_aiokafka_s_fetcher() -> None:
    """The offset-gap guard is for the embedded broker only: on Apache Kafka a gap is real."""
    from aiokafka.consumer import fetcher

    from services.common.internals import GapStoppingPartitionRecords

    plain = fetcher.PartitionRecords
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")  # nothing answers: not embedded

    async def build() -> None:
        app = make_faust_app("bebas-test-no-guard", kafka)
        app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]

    fetcher.PartitionRecords = GapStoppingPartitionRecords.__base__
    try:
        asyncio.run(build())
        assert fetcher.PartitionRecords is GapStoppingPartitionRecords.__base__
    finally:
        fetcher.PartitionRecords = plain


def test_consumers_on_the_embedded_broker_stop_at_offset_gaps(
    kafka_settings: KafkaSettings,
) -> None:
    """Its fetches can return a later batch before an earlier one is readable."""
    from aiokafka.consumer import fetcher

    from services.common.internals import GapStoppingPartitionRecords

    plain = fetcher.PartitionRecords

    async def build() -> None:
        app = make_faust_app("bebas-test-guard", kafka_settings)
        app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]

    fetcher.PartitionRecords = GapStoppingPartitionRecords.__base__
    try:
        asyncio.run(build())
        assert fetcher.PartitionRecords is GapStoppingPartitionRecords
    finally:
        fetcher.PartitionRecords = plain


def test_the_fetch_wait_suits_the_broker_unless_it_is_configured(
    kafka_settings: KafkaSettings,
) -> None:
    from services.common.topic_admin import fetch_wait_ms

    unset = kafka_settings.model_copy(update={"fetch_max_wait_ms": None})
    assert fetch_wait_ms(unset) == 100  # the embedded broker: the wait is added to every hop
    assert fetch_wait_ms(unset.model_copy(update={"fetch_max_wait_ms": 700})) == 700
    # a cluster that cannot be asked counts as Apache Kafka: faust's own wait
    assert fetch_wait_ms(KafkaSettings(bootstrap_servers="127.0.0.1:9")) == 1500


def test_table_recovery_reads_true_ends_only_on_the_embedded_broker(
    kafka_settings: KafkaSettings, monkeypatch: Any
) -> None:
    """Apache Kafka reports exact ends: there recovery takes them as reported, no probe."""
    from services.common import faust_app

    probed: list[object] = []

    async def probe(kafka: KafkaSettings, reported: Any) -> dict[Any, int | None]:
        probed.append(reported)
        return {tp: (end or 0) + 1 for tp, end in reported.items()}

    monkeypatch.setattr(faust_app, "true_end_offsets", probe)
    reported = {("bebas.x", 0): 4}
    on_tansu = asyncio.run(faust_app.recovery_ends(kafka_settings)(reported))
    assert on_tansu == {("bebas.x", 0): 5}
    assert probed == [reported]
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:9")  # counts as Apache Kafka
    assert asyncio.run(faust_app.recovery_ends(unreachable)(reported)) == reported
    assert probed == [reported]


def test_a_cluster_that_could_not_be_asked_is_asked_again(kafka_settings: KafkaSettings) -> None:
    from services.common import topic_admin

    down = kafka_settings.model_copy(update={"bootstrap_servers": "127.0.0.1:9"})
    assert topic_admin.is_embedded_broker(down) is False
    assert "127.0.0.1:9" not in topic_admin._embedded  # not remembered: it may come back
    assert topic_admin.is_embedded_broker(kafka_settings) is True


def test_the_group_session_comes_from_the_kafka_settings() -> None:
    """KAFKA_GROUP_SESSION_TIMEOUT_MS reaches the consumer faust builds; heartbeats stay at one
    a second, so a session shorter than three of them is refused."""
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9", group_session_timeout_ms=7_000)

    async def build() -> tuple[int, int]:
        app = make_faust_app("bebas-test-session", kafka)
        client = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
        return client._session_timeout_ms, client._heartbeat_interval_ms

    assert asyncio.run(build()) == (7_000, 1_000)
    with pytest.raises(ValidationError, match="group_session_timeout_ms"):
        KafkaSettings(group_session_timeout_ms=2_000)
