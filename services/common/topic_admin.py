"""Topic administration through the Kafka protocol, for any cluster (embedded or real)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topics import CATALOGUE, Topic
from services.common.kafka_settings import KafkaSettings


def _group_id(listing: Any) -> str:
    # kafka-python 3 lists groups as dicts; older releases as (group_id, protocol) tuples
    if isinstance(listing, dict):
        return str(listing["group_id"])
    return str(listing[0] if isinstance(listing, tuple) else listing)


def committed_offsets(
    admin: KafkaAdminClient, groups: Iterable[str] | None = None
) -> dict[str, dict[TopicPartition, int]]:
    """Each consumer group's committed offsets (every group of the cluster unless named)."""
    names = list(groups) if groups else sorted(_group_id(g) for g in admin.list_groups())
    found: dict[str, dict[TopicPartition, int]] = {}
    for group in names:
        offsets = admin.list_group_offsets(group).get(group, {})
        found[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    return found


def admin_client(settings: KafkaSettings, timeout_ms: int = 5000) -> KafkaAdminClient:
    return KafkaAdminClient(
        client_id="bebas-admin",
        request_timeout_ms=timeout_ms,
        # kafka-python 3 waits 30 s for the first metadata by default, whatever the request
        # timeout: without this, wait_for_broker overran its deadline on an unreachable or
        # refusing cluster
        bootstrap_timeout_ms=timeout_ms,
        **settings.kafka_python_config(),
    )


def wait_for_broker(
    settings: KafkaSettings,
    timeout: float = 30.0,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Block until the cluster answers a metadata request, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the broker process exited while starting")
        try:
            client = admin_client(settings, timeout_ms=2000)
        except (KafkaError, OSError) as exc:
            last_error = exc
            time.sleep(0.1)
            continue
        try:
            client.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            client.close()
        time.sleep(0.1)
    raise TimeoutError(f"no Kafka broker answered at {settings.bootstrap_servers}: {last_error}")


def new_topic(
    topic: Topic,
    replication_factor: int | None = None,
    extra_config: Mapping[str, str] | None = None,
) -> NewTopic:
    """The CreateTopics request for one catalogue topic; -1 replicas means the cluster default."""
    return NewTopic(
        name=topic.name,
        num_partitions=topic.partitions,
        replication_factor=replication_factor if replication_factor is not None else -1,
        topic_configs={**topic.topic_config(), **(extra_config or {})},
    )


def ensure_topics(
    settings: KafkaSettings,
    topics: Iterable[Topic] = CATALOGUE,
    *,
    replication_factor: int | None = None,
    extra_config: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created.

    `replication_factor` defaults to `settings.replication_factor`, then to the cluster's
    default; `extra_config` adds broker-side settings (e.g. min.insync.replicas) to every topic.
    """
    wanted = list(topics)
    replicas = replication_factor if replication_factor is not None else settings.replication_factor
    client = admin_client(settings)
    try:
        existing = set(client.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        created = []
        for topic in missing:
            try:
                client.create_topics([new_topic(topic, replicas, extra_config)])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process: that is fine
        return created
    finally:
        client.close()


def partition_counts(settings: KafkaSettings, names: Iterable[str]) -> dict[str, int]:
    """How many partitions each named topic has on the cluster (absent topics are left out)."""
    client = admin_client(settings)
    try:
        wanted = set(names) & set(client.list_topics())
        if not wanted:
            return {}
        return {
            description["name"]: len(description["partitions"])
            for description in client.describe_topics(sorted(wanted))
        }
    finally:
        client.close()


def create_topic(settings: KafkaSettings, name: str, partitions: int = 1) -> None:
    """Create one plain topic (tests use this for uniquely named topics)."""
    client = admin_client(settings)
    try:
        client.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=-1)]
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        client.close()


#: the cluster id tansu reports unless started with another (services/common/broker.py keeps it)
EMBEDDED_CLUSTER_ID = "tansu_cluster"


_embedded: dict[str, bool] = {}


#: fetch waits when KAFKA_FETCH_MAX_WAIT_MS is unset (KafkaSettings.fetch_max_wait_ms)
EMBEDDED_FETCH_WAIT_MS = 100
KAFKA_FETCH_WAIT_MS = 1500


def fetch_wait_ms(settings: KafkaSettings) -> int:
    """The fetch wait consumers use: the configured one, else one that suits the broker."""
    if settings.fetch_max_wait_ms is not None:
        return settings.fetch_max_wait_ms
    return EMBEDDED_FETCH_WAIT_MS if is_embedded_broker(settings) else KAFKA_FETCH_WAIT_MS


def is_embedded_broker(settings: KafkaSettings) -> bool:
    """Whether the cluster behind `settings` is the embedded broker (by its cluster id).

    Asked once per process and cluster; a cluster that cannot be asked (unreachable, or too old
    for DescribeCluster) counts as a real one this time and is asked again next time, so a
    broker that was down for a moment is not taken for another kind for good."""
    known = _embedded.get(settings.bootstrap_servers)
    if known is None:
        cluster_id = _cluster_id(settings)
        if cluster_id is None:
            return False
        known = _embedded[settings.bootstrap_servers] = cluster_id == EMBEDDED_CLUSTER_ID
    return known


def _cluster_id(settings: KafkaSettings) -> str | None:
    try:
        client = admin_client(settings, timeout_ms=3000)
    except (KafkaError, OSError):
        return None
    try:
        cluster_id = client.describe_cluster().get("cluster_id")
        return str(cluster_id) if cluster_id else None
    except (KafkaError, OSError):
        return None
    finally:
        client.close()
