"""The yardstick for faust consumers: an agent that reads the topic and does nothing else.

Same app factory, group timeouts and batch size as the platform's workers, so reporting's ratio
against it is the cost of the metrics themselves. Run as its own process (faust owns the loop):
    python -m bench.faust_noop --bootstrap HOST:PORT --topic T --partitions 6 --count N --data-dir D
Prints one JSON line: {"events_per_s": ..., "count": ...} (faust routes stdout through its
logger, so read it from the combined output) and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings

BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    app = make_faust_app(
        f"bench-noop-{uuid.uuid4().hex[:8]}",
        KafkaSettings(bootstrap_servers=args.bootstrap),
        data_dir=args.data_dir,
        topic_partitions=args.partitions,
    )
    topic = app.topic(args.topic, value_serializer="raw", partitions=args.partitions)
    state: dict[str, Any] = {"seen": 0, "first": 0.0}

    @app.agent(topic)
    async def noop(stream: Any) -> None:
        async for batch in stream.take(BATCH, within=0.5):
            if not state["first"]:
                state["first"] = time.perf_counter()
            state["seen"] += len(batch)
            if state["seen"] >= args.count:
                rate = state["seen"] / (time.perf_counter() - state["first"])
                print(json.dumps({"events_per_s": round(rate, 1), "count": state["seen"]}))
                sys.stdout.flush()
                os._exit(0)  # the figure is out; faust's graceful stop adds nothing to it

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
