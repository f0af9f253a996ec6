"""Exponential backoff with full jitter; a provider's Retry-After wins when it asks for longer."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay: float = ceiling / 2 + rand() * ceiling / 2  # half fixed, half jitter: never zero
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
