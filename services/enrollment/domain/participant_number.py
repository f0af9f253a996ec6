"""The participant number: what a person quotes at a counter and on a payment (NIK stays private).

Eleven digits, like the KPJ number on the agency's card: ten for the serial (offset by
1,000,000,000 so a number never starts with 0, which people drop and spreadsheets strip) and
one Damm check digit. Damm rather than Luhn or ISO 7064 mod 97-10: it is a single decimal digit
(mod 97 needs two, mod 11 sometimes needs an 'X' that a phone keypad lacks), and it catches
every single mistyped digit and every swap of two neighbouring digits, the two mistakes people
make when reading a number aloud or typing it; Luhn misses the swap 09 <-> 90.
Numbers are unique and never change or get reused; they are not gapless (a serial allocated
to a request that then turned out to be a duplicate stays unused).
"""

from __future__ import annotations

import re

SERIAL_OFFSET = 1_000_000_000
LENGTH = 11
#: Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
# People write numbers in groups: `10000 00001 7`, `1000-0000-017`, `1000.0000.017`.
_SEPARATORS = re.compile(r"[\s.\-\u00a0]+")
_DIGITS = re.compile(r"^[0-9]+$")


def damm_digit(digits: str) -> int:
    """The check digit that makes `digits + str(result)` pass damm_valid."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def damm_valid(digits: str) -> bool:
    return damm_digit(digits) == 0


def participant_number(serial: int) -> str:
    """The number of the `serial`-th participant (serials start at 1)."""
    if not 1 <= serial < 10 ** (LENGTH - 1) - SERIAL_OFFSET:
        raise ValueError(f"serial {serial} is outside the participant number range")
    body = str(SERIAL_OFFSET + serial)
    return body + str(damm_digit(body))


def parse_participant_number(raw: str) -> str:
    """The 11 digits of a typed participant number, or ValueError saying what is wrong."""
    text = _SEPARATORS.sub("", raw.strip())
    if not _DIGITS.match(text):
        raise ValueError(f"{raw.strip()!r} is not a participant number: use its 11 digits")
    if len(text) != LENGTH:
        raise ValueError(f"has {len(text)} digits; a participant number has {LENGTH}")
    if not damm_valid(text):
        raise ValueError(
            f"{text} fails its check digit: a digit is mistyped or two digits are swapped"
        )
    return text
