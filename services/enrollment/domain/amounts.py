"""Rupiah amounts as Indonesians write them on forms and sign-up sheets.

Indonesian writes `1.500.000` (dot groups thousands) and `1.500.000,00` (comma before sen);
spreadsheets with English settings export `1500000.00` or `1,500,000`. A separator is read as
a thousands separator or a decimal mark only when the text leaves one reading:
- several equal separators group thousands; a last, different one is the decimal mark;
- one or two digits after a single separator are sen;
- one separator followed by exactly three digits (`1.500`, `1,500`) fits both readings and is
  rejected with both spelled out: a guess there is off by a factor of a thousand (the bug that
  read `Rp 1.500.000,00` as Rp150.000.000). `Rp` in front is the exception for a dot: it
  announces Indonesian notation, in which `Rp16.800` (a receipt, a price tag) is sixteen
  thousand eight hundred; a comma after `Rp` (`Rp1,500`) stays ambiguous.
Sen must be zero: contributions and incomes are whole rupiah.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^(?:rp|idr)\.?", re.IGNORECASE)
_DIGITS = re.compile(r"^[0-9]+$")  # not str.isdigit(): that also takes '²' and '١'
_GROUPED = re.compile(r"^[0-9]{1,3}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*$")
# Spaces inside a number (`1 500 000`) and the non-breaking spaces spreadsheets put there.
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_EXAMPLE = "write e.g. 1500000, 1.500.000 or Rp1.500.000"


class AmbiguousAmount(ValueError):
    """The text reads as two different amounts; the message names both."""


def parse_rupiah(raw: str) -> int:
    """Whole rupiah from `1500000`, `1.500.000`, `Rp 1.500.000,00`, `1500000.00`, `Rp1.500.000,-`.

    ValueError (AmbiguousAmount when two readings fit) says what is wrong, quoting the input.
    """
    shown = raw.strip()
    prefixed = _PREFIX.match(shown) is not None
    text = _SPACES.sub("", _PREFIX.sub("", shown))
    text = text.removesuffix(",-").removesuffix(".-")  # `Rp1.500.000,-` means "no sen"
    if text.startswith("-") and _DIGITS.match(text[1:].replace(".", "").replace(",", "")):
        raise ValueError(f"{shown!r} is negative; an amount in rupiah is 0 or more")
    whole, sen = _split(shown, text, prefixed)
    if sen and int(sen):
        raise ValueError(
            f"{shown!r} has {sen.ljust(2, '0')} sen; amounts are whole rupiah "
            f"(write {_rupiah(int(whole))})"
        )
    return int(whole)


def _split(shown: str, text: str, prefixed: bool) -> tuple[str, str]:
    """(digits of whole rupiah, digits of sen) or ValueError."""
    if _DIGITS.match(text):
        return text, ""
    separators = [ch for ch in text if ch in ".,"]
    if len(separators) == 1:
        mark = separators[0]
        whole, _, tail = text.partition(mark)
        if _DIGITS.match(whole) and _DIGITS.match(tail) and len(tail) == 3:
            if prefixed and mark == ".":
                return whole + tail, ""
            raise AmbiguousAmount(_both_readings(shown, whole, tail))
        if _DIGITS.match(whole) and _DIGITS.match(tail) and len(tail) <= 2:
            return whole, tail
    elif separators:
        last = separators[-1]
        cut = text.rindex(last)
        head, tail = text[:cut], text[cut + 1 :]
        if last not in head and _DIGITS.match(tail) and len(tail) <= 2 and _GROUPED.match(head):
            return re.sub(r"[.,]", "", head), tail  # `1.500.000,00`, `1,500,000.00`
        if _GROUPED.match(text):
            return re.sub(r"[.,]", "", text), ""  # `1.500.000`, `1,500,000`
    raise ValueError(f"{shown!r} is not an amount in rupiah ({_EXAMPLE})")


def _both_readings(shown: str, whole: str, tail: str) -> str:
    thousands = int(whole + tail)
    fraction = tail.rstrip("0")
    decimal = f"{int(whole)},{fraction}" if fraction else str(int(whole))
    return (
        f"{shown!r} is ambiguous: {thousands} rupiah or {decimal} rupiah; "
        f"write {thousands} (or Rp{whole}.{tail}) if you mean {_rupiah(thousands)}"
    )


def _rupiah(amount: int) -> str:
    """Indonesian style: Rp1.500.000."""
    return "Rp" + f"{amount:,}".replace(",", ".")
