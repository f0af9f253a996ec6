"""A minimal faust worker with one table, for the recovery test (run as a subprocess).

`python -m tests.foundation.table_worker APP_ID TOPIC OUT`: on b"write" it sets 50 keys in
one go (so the changelog's last batch holds many records) and writes "written" to OUT; on
b"count" it writes how many keys the recovered table holds.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings

KEYS = 50


def _answer(out: Path, text: str) -> None:
    out.write_text(text)


def main(app_id: str, topic: str, out: Path) -> None:
    # linger: the 50 writes leave as one batch, the case the embedded broker under-reports
    app = make_faust_app(
        app_id, KafkaSettings(), topic_partitions=1, datadir=str(out.parent), producer_linger=0.05
    )
    table = app.Table("numbers", default=None, partitions=1)

    async def handle(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for command in stream:
            if command == b"write":
                for i in range(KEYS):
                    table[f"k{i}"] = i
                await app.producer.flush()
                _answer(out, "written")
            else:
                _answer(out, str(len(table)))
            yield None

    app.agent(app.topic(topic, value_serializer="raw"), name="numbers-agent")(handle)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
