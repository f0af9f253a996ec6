"""python -m services.notifier worker | messages"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notifier")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run the notifier (faust worker + HTTP on NOTIFIER_PORT)")
    listing = sub.add_parser("messages", help="list what the local SMS gateway and SMTP sink got")
    listing.add_argument("--sink-dir", type=Path, default=None)
    listing.add_argument("--participant", default=None)
    listing.add_argument("--json", action="store_true")
    from services.common import deadletter_cli

    deadletter_cli.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "worker":
        return _worker()
    if args.command == "deadletters":
        from services.notifier.replay import deadletter_config

        return deadletter_cli.run(args, deadletter_config())
    from services.notifier.listing import format_listing, read_sinks
    from services.notifier.settings import Settings

    sink_dir = args.sink_dir or Settings().sink_dir or Path("data/notifier/sinks")
    sinks = read_sinks(sink_dir)
    print(json.dumps(sinks, indent=2) if args.json else format_listing(sinks, args.participant))
    return 0


def _worker() -> int:
    import faust

    from schemas.topics import NOTIFIER_WORK, PARTICIPANTS
    from services.common.kafka_settings import KafkaSettings
    from services.common.topic_admin import partition_counts
    from services.notifier.bootstrap import create_app
    from services.notifier.settings import Settings

    settings = Settings()
    kafka = KafkaSettings()
    names = [settings.topic(PARTICIPANTS.name), settings.topic(NOTIFIER_WORK.name)]
    counts = partition_counts(kafka, names)
    if len(set(counts.values())) != 1 or len(counts) != len(names):
        print(f"notifier: {names} must exist with equal partition counts, got {counts}")
        return 2
    notifier = create_app(settings, kafka, partitions=counts[names[0]])
    worker = faust.Worker(notifier.app, loglevel=settings.loglevel, quiet=True)
    # at "warn" and above faust keeps its terminal spinner and sets the root logger to DEBUG
    # for it, so every library's debug call built a log record (3 % of a worker's CPU, py-spy)
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
