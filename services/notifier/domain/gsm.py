"""SMS length in GSM 03.38 terms, as the notifier's templates are checked against it: the
platform's one measure (`services/common/gsm.py`, also used by enrollment's broadcast checks)."""

from __future__ import annotations

from services.common.gsm import is_gsm7, measure

__all__ = ["is_gsm7", "segments", "septets"]


def septets(text: str) -> int:
    """GSM-7 length of a GSM-7 text: extension characters take an escape plus the character."""
    return measure(text).units


def segments(text: str) -> int:
    """Segments the text costs: 160/153 septets in GSM-7, else 70/67 UCS-2 code units."""
    return measure(text).segments
