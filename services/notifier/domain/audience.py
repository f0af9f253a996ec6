"""Which participants a broadcast reaches: each non-empty list must match."""

from __future__ import annotations

from collections.abc import Sequence


def matches(
    *,
    branch_code: str,
    segment: str,
    campaign_code: str | None,
    branch_codes: Sequence[str],
    segments: Sequence[str],
    campaign_codes: Sequence[str],
) -> bool:
    if branch_codes and branch_code not in branch_codes:
        return False
    if segments and segment not in segments:
        return False
    return not campaign_codes or campaign_code in campaign_codes
