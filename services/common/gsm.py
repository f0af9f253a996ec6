"""How many SMS segments a text costs, and why (GSM 03.38 / 3GPP TS 23.040). Stdlib only.

A text whose characters are all in the GSM-7 alphabet travels as 7-bit septets: 160 in one
SMS, 153 per part once it needs several (the rest of each part is the concatenation header).
One character outside that alphabet (an em dash pasted from a word processor, a curly quote)
turns the whole text into UCS-2: 70 code units in one SMS, 67 per part. Extension characters
(`€ [ ] { } ~ ^ | \\`) cost two septets, a character outside the Basic Multilingual Plane
(emoji) two UTF-16 units, and neither pair is split across parts.

Shared by every service that needs it (enrollment's broadcast checks, the notifier's
template checks through `services/notifier/domain/gsm.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
#: The usual offenders from word processors and phones, with the GSM-7 text that replaces them.
GSM7_REPLACEMENTS = {
    "\u2014": "-",  # em dash
    "\u2013": "-",  # en dash
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00a0": " ",  # no-break space
    "\u2022": "-",  # bullet
}

Encoding = Literal["GSM-7", "UCS-2"]
#: (units in a single SMS, units per part of a longer one)
LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsLength:
    encoding: Encoding
    #: septets (GSM-7) or UTF-16 code units (UCS-2)
    units: int
    segments: int
    #: characters that forced UCS-2, each once, in order of first appearance
    non_gsm: tuple[str, ...]


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def measure(text: str) -> SmsLength:
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC | GSM7_EXTENSION))
    encoding: Encoding = "UCS-2" if non_gsm else "GSM-7"
    if encoding == "GSM-7":
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength(encoding, sum(widths), _segments(widths, *LIMITS[encoding]), non_gsm)


def _segments(widths: list[int], single: int, multi: int) -> int:
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > multi:  # a two-unit character never straddles two parts
            parts, used = parts + 1, 0
        used += width
    return parts
