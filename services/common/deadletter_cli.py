"""`python -m services.<name> deadletters list | replay`: one implementation, each service
says which dead-letter topic is its own, where the ledger is, and how its inputs validate."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.topics import DEADLETTER_REPLAYS
from services.common.deadletter_kafka import KafkaReplay, read_dead_letters
from services.common.deadletters import (
    PAGE_SIZE,
    ReplayReport,
    Restore,
    Selection,
    Validator,
    as_it_was,
    counts_by_reason,
    paged,
    replay,
    select,
    view,
)
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import ensure_topics


@dataclass(frozen=True)
class DeadLetterConfig:
    kafka: KafkaSettings
    topic: str  # the service's dead-letter topic
    ledger_topic: str
    validate: Validator
    #: what a letter goes back as (the notifier re-queues a message out of retries)
    restore: Restore = as_it_was


def add_commands(sub: Any) -> None:
    """Adds `deadletters list|replay` to a service's argparse subparsers."""
    parser = sub.add_parser("deadletters", help="list the dead letters, or replay them")
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="newest first, with counts by reason")
    _filters(listing)
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=PAGE_SIZE)
    listing.add_argument("--json", action="store_true")
    again = verbs.add_parser("replay", help="send selected letters back to their source topic")
    _filters(again)
    again.add_argument("--json", action="store_true")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", action="append", default=[], help="a dead letter id (repeat)")
    parser.add_argument("--topic", default=None, help="the source topic")
    parser.add_argument("--reason", default=None, help="a substring of the reason")
    parser.add_argument("--since", type=_when, default=None, help="ISO time, inclusive")
    parser.add_argument("--until", type=_when, default=None, help="ISO time, exclusive")


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}+07:00")
    return when


def selection_of(args: argparse.Namespace) -> Selection:
    return Selection(args.topic, args.reason, args.since, args.until, frozenset(args.id))


def run(args: argparse.Namespace, config: DeadLetterConfig) -> int:
    if args.verb == "list":
        print(
            asyncio.run(listing(config, selection_of(args), args.page, args.page_size, args.json))
        )
        return 0
    selection = selection_of(args)
    if selection.empty:
        print("deadletters replay: say which letters (--id, --reason, --topic, --since/--until)")
        return 2
    report = asyncio.run(replay_selected(config, selection))
    print(json.dumps(report.as_dict(), indent=2) if args.json else summary(report))
    return 0


async def listing_doc(
    config: DeadLetterConfig, selection: Selection, page: int, size: int
) -> dict[str, Any]:
    """One page of the selected letters, newest first, and their counts by reason (what the
    CLI's --json answers)."""
    return await listing_doc_of([config], selection, page, size)


async def listing_doc_of(
    configs: Sequence[DeadLetterConfig], selection: Selection, page: int, size: int
) -> dict[str, Any]:
    """The same over the dead-letter topics of several services, merged (reporting's
    GET /v1/dead-letters: each item names its `service`)."""
    found = await asyncio.gather(*(read_dead_letters(c.kafka, c.topic) for c in configs))
    chosen = select([stored for letters in found for stored in letters], selection)
    shown = paged(chosen, page, size)
    return {
        "total": shown.total,
        "page": shown.page,
        "pages": shown.pages,
        "counts_by_reason": counts_by_reason(chosen),
        "items": [view(stored) for stored in shown.items],
    }


async def listing(
    config: DeadLetterConfig, selection: Selection, page: int, size: int, as_json: bool
) -> str:
    doc = await listing_doc(config, selection, page, size)
    if as_json:
        return json.dumps(doc, indent=2)
    lines = [f"{doc['total']} dead letters (page {doc['page']} of {doc['pages']})"]
    lines += [f"  {n:6d}  {reason}" for reason, n in doc["counts_by_reason"].items()]
    for item in doc["items"]:
        lines.append(
            f"{item['id']}  {item['failed_at']}  {item['source_topic']}"
            f"[{item['partition']}]@{item['offset']}  {item['reason']}"
        )
    return "\n".join(lines)


async def replay_selected(config: DeadLetterConfig, selection: Selection) -> ReplayReport:
    # a blocking admin call: off the event loop, which in reporting's API also runs the worker
    await asyncio.to_thread(
        ensure_topics, config.kafka, [DEADLETTER_REPLAYS.named(config.ledger_topic)]
    )
    chosen = select(await read_dead_letters(config.kafka, config.topic), selection)
    chosen.sort(key=lambda stored: (stored.partition, stored.offset))  # in the order they failed
    async with KafkaReplay(config.kafka, config.ledger_topic) as port:
        return await replay(chosen, port, config.validate, config.restore)


async def replay_selected_of(
    configs: Sequence[DeadLetterConfig], selection: Selection
) -> ReplayReport:
    """The selected letters of several services, each service's replayed by its own rules;
    one report."""
    report = ReplayReport()
    for config in configs:
        part = await replay_selected(config, selection)
        report.replayed += part.replayed
        report.skipped += part.skipped
        report.refused.update(part.refused)
    return report


def summary(report: ReplayReport) -> str:
    data = report.as_dict()
    lines = [
        f"replayed {data['replayed']}, skipped {data['skipped']} (already replayed), "
        f"refused {data['refused']}"
    ]
    lines += [f"  replayed {i}" for i in report.replayed]
    lines += [f"  skipped  {i}" for i in report.skipped]
    lines += [f"  refused  {r['id']}: {r['reason']}" for r in data["refusals"]]
    return "\n".join(lines)
