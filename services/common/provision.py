"""One-shot topic provisioning for a real cluster: `python -m services.common.provision`.

Creates every topic of the catalogue (`schemas/topics.py`) that is missing, with production
settings: the catalogue's partitions, retention and cleanup policy, the replication factor and any
extra broker-side settings given here. Existing topics are never changed, only checked: a topic
whose partition count differs from the catalogue is reported and the job fails, because adding
partitions to a keyed topic moves keys to other partitions and breaks per-key order and the
co-partitioning of faust tables. That decision belongs to an operator (docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.topics import CATALOGUE, Topic
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import ensure_topics, partition_counts, wait_for_broker


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    replication_factor: int | None
    config: dict[str, str] = field(default_factory=dict)


def plan(
    topics: Sequence[Topic] = CATALOGUE,
    replication_factor: int | None = None,
    extra_config: dict[str, str] | None = None,
) -> list[TopicPlan]:
    """What the job asks the cluster for, topic by topic (no connection needed)."""
    return [
        TopicPlan(
            name=topic.name,
            partitions=topic.partitions,
            replication_factor=replication_factor,
            config={**topic.topic_config(), **(extra_config or {})},
        )
        for topic in topics
    ]


def drift(topics: Sequence[Topic], actual: dict[str, int]) -> list[str]:
    """One line per topic whose partition count on the cluster differs from the catalogue."""
    return [
        f"{t.name}: {actual[t.name]} partitions on the cluster, {t.partitions} in the catalogue"
        for t in topics
        if t.name in actual and actual[t.name] != t.partitions
    ]


def _config_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m services.common.provision",
        description="Create the catalogue's topics on the cluster named by KAFKA_* settings.",
    )
    p.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="replicas per partition (default: KAFKA_REPLICATION_FACTOR, else the cluster's)",
    )
    p.add_argument(
        "--config",
        type=_config_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra broker-side topic setting for every topic, e.g. min.insync.replicas=2",
    )
    p.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for the cluster to answer"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan as JSON and connect to nothing"
    )
    return p


def main(argv: Sequence[str] | None = None, settings: KafkaSettings | None = None) -> int:
    args = parser().parse_args(argv)
    if args.replication_factor is not None and args.replication_factor < 1:
        print("--replication-factor must be at least 1", file=sys.stderr)
        return 2
    extra = dict(args.config)
    kafka = settings or KafkaSettings()
    replicas = (
        args.replication_factor if args.replication_factor is not None else kafka.replication_factor
    )
    wanted = plan(CATALOGUE, replicas, extra)
    if args.dry_run:
        print(json.dumps([p.__dict__ for p in wanted], indent=2))
        return 0
    wait_for_broker(kafka, timeout=args.wait)
    created = ensure_topics(kafka, CATALOGUE, replication_factor=replicas, extra_config=extra)
    for name in created:
        print(f"created {name}", flush=True)
    problems = drift(CATALOGUE, partition_counts(kafka, [t.name for t in CATALOGUE]))
    for line in problems:
        print(f"DRIFT {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"{len(CATALOGUE)} catalogue topics present ({len(created)} created)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
