"""A faust worker that starts on a backlog and works slowly, for the recovery-order test (run
as a subprocess).

`python -m tests.foundation.backlog_worker APP_ID TOPIC OUT`: appends the offset of every
record its agent is given to OUT, one per line, taking a little time over each, so that records
fetched as the worker starts are still queued when faust finishes recovery.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings

WORK_S = 0.002


def main(app_id: str, topic: str, out: Path) -> None:
    app = make_faust_app(app_id, KafkaSettings(), topic_partitions=1, datadir=str(out.parent))
    # a table, like every worker of the platform: a restart reads its changelog first, so the
    # fetcher is running when recovery ends
    table = app.Table("seen", default=int, partitions=1)

    async def handle(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        with out.open("a", encoding="utf-8") as seen:
            async for event in stream.events():
                seen.write(f"{event.message.offset}\n")
                seen.flush()
                table["records"] += 1
                await asyncio.sleep(WORK_S)
                yield None

    app.agent(app.topic(topic, value_serializer="raw"), name="backlog-agent")(handle)
    faust.Worker(app, loglevel="info", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
