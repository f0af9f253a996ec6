"""A minimal faust worker with a table and an agent that notes every input record it is handed
(run as a subprocess): `python -m tests.foundation.delivery_worker APP_ID TOPIC OUT`.

Each record becomes a line "partition offset" in OUT, so a test sees a record handed over twice.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings

PARTITIONS = 3


def main(app_id: str, topic: str, out: Path) -> None:
    app = make_faust_app(
        app_id, KafkaSettings(), topic_partitions=PARTITIONS, datadir=str(out.parent / app_id)
    )
    # a table, so that every assignment goes through faust's recovery and its final seek
    seen = app.Table("seen", default=int, partitions=PARTITIONS)

    async def handle(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            seen[message.partition] += 1
            with out.open("a") as lines:
                lines.write(f"{message.partition} {message.offset}\n")
            yield None

    topic = app.topic(topic, key_serializer="raw", value_serializer="raw")
    app.agent(topic, name="delivery-agent")(handle)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
