"""Make faust's `producer.flush()` a real barrier, so an input offset is committed only after
the table changes it caused are on the broker.

faust-streaming 0.15.3 writes table changes with `send_soon`: into the producer's buffer, which
a background task hands to aiokafka one message at a time. `Producer.flush()` then calls
`ProducerBuffer.flush()`, which gives up as soon as no message left the buffer for 0.1 s and
never counts the message the background task is handing over, and only then flushes aiokafka.
With one-record batches (the tansu workaround) handing over is slow, so flush() returned while
changelog writes were still queued; the consumer commits offsets right after flush(), and a
SIGKILL then lost a registration for good: its offset was committed, its participant and
outbox entry never reached the changelog (seen in `make reliability`, notifier_sigkill_x3).

`make_flush_durable` records every future handed to `send_soon` and makes `flush()` wait
until each one issued before the call is acknowledged by the broker (and no longer for the
buffer to run empty, which a busy worker's never does). The consumer's commit,
the dispatchers' "in flight is durable before sending" step and shutdown all use that flush.
Every app made by `services.common.faust_app.make_faust_app` gets it (the notifier, reporting).
A changelog write that fails makes flush() raise, so the commit does not happen (the worker
stops and the input is processed again after the restart), instead of being skipped silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import FutureMessage, ProducerT


def make_flush_durable(producer: ProducerT) -> None:
    """Patch this faust producer instance (before it starts)."""
    pending: set[asyncio.Future[Any]] = set()
    send_soon: Callable[[FutureMessage], None] = producer.send_soon
    flush: Callable[[], Awaitable[None]] = producer.flush

    def tracked_send_soon(fut: FutureMessage) -> None:
        pending.add(fut)
        fut.add_done_callback(pending.discard)
        send_soon(fut)

    async def durable_flush() -> None:
        issued = list(pending)  # later writes belong to a later flush: no livelock
        if not issued or producer.buffer.state != "running":
            await flush()  # faust's own (also what stopping uses)
            return
        # faust's buffer flush waits until its buffer is empty, which under a steady stream of
        # table writes is never (measured: a dispatcher's flush lasted as long as a burst).
        # The writes issued so far are acked once their futures resolve; aiokafka's flush
        # then covers what `topic.send()` handed to it directly.
        await asyncio.gather(*issued)  # raises if a write failed: better than a lie
        transport = getattr(producer, "_producer", None)
        if transport is not None:
            await transport.flush()

    # instance attributes win over the class's methods; faust's Consumer and Topic look the
    # methods up on the instance (`app.producer.flush()`, `app.producer.send_soon(fut)`)
    setattr(producer, "send_soon", tracked_send_soon)  # noqa: B010
    setattr(producer, "flush", durable_flush)  # noqa: B010
