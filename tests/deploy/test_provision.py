"""The provisioning job: its plan matches the catalogue, and it really creates topics."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kafka.admin import NewTopic

from schemas.topics import CATALOGUE, Topic
from services.common import provision
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import new_topic, partition_counts


def test_plan_carries_every_catalogue_topic_with_its_production_settings() -> None:
    planned = provision.plan(CATALOGUE, 3, {"min.insync.replicas": "2"})
    assert [p.name for p in planned] == [t.name for t in CATALOGUE]
    for topic, p in zip(CATALOGUE, planned, strict=True):
        assert p.partitions == topic.partitions
        assert p.replication_factor == 3
        assert p.config["retention.ms"] == str(topic.retention_ms)
        assert p.config["cleanup.policy"] == ("compact" if topic.compact else "delete")
        assert p.config["min.insync.replicas"] == "2"


def test_new_topic_request_defaults_to_the_cluster_replication_factor() -> None:
    request = new_topic(CATALOGUE[0])
    assert isinstance(request, NewTopic)
    assert request.replication_factor == -1
    assert new_topic(CATALOGUE[0], 3, {"min.insync.replicas": "2"}).replication_factor == 3


def test_compacted_topic_is_requested_with_cleanup_policy_compact() -> None:
    keyed = Topic("x.state", 4, "id", 1000, ("a",), ("b",), compact=True)
    request = new_topic(keyed, 3)
    assert dict(request.topic_configs)["cleanup.policy"] == "compact"


def test_dry_run_prints_the_plan_without_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    code = provision.main(
        ["--dry-run", "--replication-factor", "3", "--config", "min.insync.replicas=2"],
        settings=unreachable,
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in printed} == {t.name for t in CATALOGUE}
    assert all(p["replication_factor"] == 3 for p in printed)


@pytest.mark.parametrize("bad", ["min.insync.replicas", "=2", "a="])
def test_malformed_config_is_refused_with_a_clear_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        provision.main(["--dry-run", "--config", bad])
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_drift_names_topics_whose_partition_count_differs() -> None:
    first = CATALOGUE[0]
    lines = provision.drift(CATALOGUE, {first.name: first.partitions + 2})
    assert len(lines) == 1
    assert first.name in lines[0]
    assert provision.drift(CATALOGUE, {first.name: first.partitions}) == []


@pytest.mark.integration
def test_job_creates_the_catalogue_on_a_real_broker(
    kafka_settings: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = provision.main(["--replication-factor", "1", "--wait", "30"], settings=kafka_settings)
    assert code == 0, capsys.readouterr().err
    counts = partition_counts(kafka_settings, [t.name for t in CATALOGUE])
    assert counts == {t.name: t.partitions for t in CATALOGUE}
    # a second run is a no-op that still succeeds: the job is safe to re-run on every deploy
    assert provision.main(["--wait", "30"], settings=kafka_settings) == 0
    assert "0 created" in capsys.readouterr().out


@pytest.mark.integration
def test_drift_is_read_from_the_cluster(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    name = topic_factory("drift", partitions=3)
    expected = Topic(name, 5, "id", 1000, ("a",), ())
    actual = partition_counts(kafka_settings, [name])
    assert provision.drift([expected], actual) == [
        f"{name}: 3 partitions on the cluster, 5 in the catalogue"
    ]
