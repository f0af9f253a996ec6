"""A faust worker built like the platform's (`make_faust_app`, so with its durable flush) that
writes table entries, awaits `app.producer.flush()` -- the call faust's consumer makes right
before it commits input offsets -- and SIGKILLs itself the moment flush returns.

    python -m tests.notifier.flush_then_kill COUNT   (NOTIFIER_APP_ID, NOTIFIER_DATA_DIR and
                                                      KAFKA_* from the environment)

Whatever the changelog lacks afterwards was lost by a commit that flush claimed was safe. The
table is a memory one written with `use_partitioner=True` so that one task can write many
entries at once, as a burst of stream events would.
"""

from __future__ import annotations

import os
import signal
import sys

import faust

from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.notifier.settings import Settings


def main(count: int) -> None:
    settings = Settings()
    app = make_faust_app(
        settings.app_id, KafkaSettings(), store="memory://", data_dir=str(settings.data_dir)
    )
    table = app.Table("probe", default=None, partitions=6, use_partitioner=True)

    async def write_flush_kill() -> None:
        await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]
        for i in range(count):
            table[f"p{i}"] = {"participant_id": f"p{i}"}
        await app.producer.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    app.task(write_flush_kill)
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(int(sys.argv[1]))
