"""A notifier worker that writes table entries outside stream iteration (as the dispatchers
and the agents' handlers do), awaits `app.producer.flush()` -- the call faust's consumer makes
right before it commits input offsets -- and SIGKILLs itself the moment flush returns.

    python -m tests.notifier.flush_then_kill COUNT   (NOTIFIER_* / KAFKA_* from the environment)

Whatever the changelog lacks afterwards was lost by a commit that flush claimed was safe.
"""

from __future__ import annotations

import os
import signal
import sys

import faust
from services.notifier.app import create_app

from services.common.kafka_settings import KafkaSettings
from services.notifier.settings import Settings


def main(count: int) -> None:
    settings = Settings()
    notifier = create_app(settings, KafkaSettings(), channels=[])
    app = notifier.app
    table = notifier.service.s.participants

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
