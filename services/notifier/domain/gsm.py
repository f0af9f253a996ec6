"""SMS length in GSM 03.38 terms: how many segments a text costs."""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def septets(text: str) -> int:
    """GSM-7 length: extension characters take an escape plus the character."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def segments(text: str) -> int:
    """Segments needed: 160/153 septets in GSM-7, else 70/67 UCS-2 code units."""
    if not text:
        return 1
    if is_gsm7(text):
        length, single, multi = septets(text), 160, 153
    else:
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else math.ceil(length / multi)
