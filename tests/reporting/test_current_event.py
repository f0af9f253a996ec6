"""A batch's table writes borrow the stream's current event and give it back.

faust's `take_events` buffers the next message together with the stream's `current_event`.
Left pointing at an event of the batch being written, the next message's value was buffered
with that old event: the old event was counted again (as a duplicate) and the new one never.
"""

from __future__ import annotations

from typing import Any

import faust

from services.common.internals import current_event_lent
from services.reporting.state import TableState
from services.reporting.worker import _writing_as


class Event:
    """Stands in for a faust event (the stream keeps a weak reference to it)."""


def a_stream() -> Any:
    app = faust.App("bebas-test-current-event", broker="memory://")
    return app.stream(app.channel())


def test_the_event_current_before_is_current_again_after_a_loan() -> None:
    stream, before, lent = a_stream(), Event(), Event()
    stream._set_current_event(before)
    with current_event_lent(stream) as use:
        use(lent)
        assert stream.current_event is lent
    assert stream.current_event is before


def test_a_batch_writes_as_its_partition_s_event_and_leaves_the_stream_as_it_found_it() -> None:
    stream, buffered_next, of_partition_3 = a_stream(), Event(), Event()
    stream._set_current_event(buffered_next)  # what take_events is about to buffer
    state = TableState({}, capacity=10)
    with _writing_as(state, stream, {3: of_partition_3}):
        state.enter(3)
        assert stream.current_event is of_partition_3
    assert stream.current_event is buffered_next
    state.enter(3)  # after the batch, entering a partition touches the stream no more
    assert stream.current_event is buffered_next
