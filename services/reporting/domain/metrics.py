"""What a metric is: a family name, its dimensions, and an integer amount to add.

Counters are the only state the figures are computed from, so every rule is a pure function
from one event to a few `Increment`s, and any worker can add them up in any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Families of counters, with the names of their dimensions (the last one is always `day`,
#: except for campaign names).
ENROLMENTS: Final = "enr"
MESSAGES: Final = "msg"
FAILURES: Final = "fail"
SUPPRESSIONS: Final = "supp"
PAYMENTS: Final = "pay"
AMOUNTS: Final = "amt"
PAYERS: Final = "payer"
OPT_OUTS: Final = "opt"
LAPSES: Final = "lapse"
CAMPAIGNS: Final = "camp"
#: messages sent, by the provider that took them (`notification.sent.provider`: the notifier's
#: configured name, e.g. one of several SMS gateways); only sent events name a provider
SENT_BY_PROVIDER: Final = "sentp"

#: what a participant's payment status did (the `change` dimension of LAPSES)
LAPSE_CHANGES: Final = ("lapsed", "reactivated")

DIMENSIONS: Final[dict[str, tuple[str, ...]]] = {
    ENROLMENTS: ("campaign", "branch", "segment", "source", "officer", "day"),
    MESSAGES: ("campaign", "branch", "kind", "channel", "status", "day"),
    FAILURES: ("campaign", "branch", "channel", "reason", "day"),
    #: messages the notifier decided not to send, for good (a campaign over the frequency cap)
    SUPPRESSIONS: ("campaign", "branch", "kind", "channel", "reason", "day"),
    PAYMENTS: ("campaign", "branch", "period", "day"),
    AMOUNTS: ("campaign", "branch", "period", "day"),
    PAYERS: ("campaign", "branch", "day"),
    OPT_OUTS: ("campaign", "branch", "channel", "day"),
    LAPSES: ("campaign", "branch", "change", "day"),
    CAMPAIGNS: ("campaign", "name"),
    SENT_BY_PROVIDER: ("campaign", "branch", "channel", "provider", "day"),
}

#: Stands for "no campaign" / "no officer": never a valid code (codes start alphanumeric).
NONE: Final = "-"

#: Separates the parts of a stored key; `clean` keeps it out of free-text dimensions.
SEPARATOR: Final = "|"


@dataclass(frozen=True, slots=True)
class Increment:
    family: str
    dims: tuple[str, ...]
    amount: int = 1


def clean(text: str | None, limit: int = 120) -> str:
    """A free-text value made safe as a dimension (officer ids, failure reasons, names)."""
    if not text:
        return NONE
    return " ".join(text.replace(SEPARATOR, "/").split())[:limit] or NONE


def encode_key(partition: int, inc_family: str, dims: tuple[str, ...]) -> str:
    """The table key of a counter: the source partition first, so partitions never collide."""
    return SEPARATOR.join((str(partition), inc_family, *dims))


def decode_key(key: str) -> tuple[int, str, tuple[str, ...]] | None:
    """(partition, family, dims) of a counter key, or None for keys that are not counters."""
    parts = key.split(SEPARATOR)
    if len(parts) < 3 or parts[1] not in DIMENSIONS:
        return None
    dims = tuple(parts[2:])
    if len(dims) != len(DIMENSIONS[parts[1]]):
        return None
    return int(parts[0]), parts[1], dims
