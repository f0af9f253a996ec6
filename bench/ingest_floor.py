"""The yardstick for the notifier's intake: a faust worker doing the least any intake must do.

Per `participant.registered` it keeps the record in a rocksdb table (one write, one changelog
record) and announces one event: what the notifier does at the very least for a deferred
welcome, without its domain logic, its schedule and phone indexes or its second event. It runs
on the notifier's own faust settings (`make_faust_app`, the `people` table's rocksdb options,
no standbys), against the same broker and topics, so `notifier.ingest_floor_per_s` says what
faust, aiokafka and the broker allow on this machine and `notifier.ingest_per_s` can be read
against it.

python -m bench.ingest_floor   (configured by the environment, as `bench.notifier` sets it)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import faust
from prometheus_client import Counter, start_http_server

from schemas.topics import NOTIFICATIONS, PARTICIPANTS
from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.notifier.store import PEOPLE_OPTIONS

#: the size of a `notification.deferred` event's JSON envelope (658 bytes, measured)
EVENT_BYTES = 660


def build(env: dict[str, str]) -> faust.App:
    namespace, partitions = env["FLOOR_TOPIC_NAMESPACE"], int(env["FLOOR_PARTITIONS"])
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    app = make_faust_app(
        env["FLOOR_APP_ID"],
        KafkaSettings(),
        store="rocksdb://",
        data_dir=env["FLOOR_DATA_DIR"],
        table_standby_replicas=0,
        topic_partitions=partitions,
        **raw,
    )
    people = app.Table(
        "people",
        default=None,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        options=dict(PEOPLE_OPTIONS),
    )
    registrations = app.topic(namespace + PARTICIPANTS.name, **raw)
    events = app.topic(namespace + NOTIFICATIONS.name, **raw)
    # the notifier's own counter name, so the bench reads both workers alike
    taken = Counter("notifier_input_events", "input records applied", ["type"]).labels("floor")

    async def intake(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            people[message.key] = message.value
            await events.send(key=message.key, value=message.value[:EVENT_BYTES])
            taken.inc()
            yield None

    app.agent(registrations, name="floor-intake", concurrency=1)(intake)
    return app


def main() -> None:
    app = build(dict(os.environ))
    start_http_server(int(os.environ["FLOOR_PORT"]), addr="127.0.0.1")
    worker = faust.Worker(app, loglevel="warn", quiet=True)
    worker.spinner = None  # as the notifier: no per-call debug records (services.notifier)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
