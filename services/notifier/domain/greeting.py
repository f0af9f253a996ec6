"""How an SMS addresses a person: `Bapak`/`Ibu` and the name people actually call them by.

Enrollment reads the sex from the NIK (women's birth day has 40 added) and carries it in the
participant events; the NIK itself never reaches the notifier. Standard library only.
"""

from __future__ import annotations

import re

#: the polite address per language and sex ("M"/"F", as schemas.vocab.Sex)
HONORIFICS: dict[str, dict[str, str]] = {
    "id": {"M": "Bapak", "F": "Ibu"},
    "en": {"M": "Mr", "F": "Ms"},
}
#: pilgrimage and academic titles written before the name (compared without their dot)
TITLES = frozenset({"h", "hj", "haji", "hajjah", "hajah", "dr", "drs", "dra", "ir", "prof"})
#: Balinese caste and birth-order names: part of the full name, not what people are called by
#: alone; several words where the words alone are ordinary names elsewhere ("Ayu", "Agung")
BALINESE_PREFIXES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(phrase.split())
            for phrase in (
                "i",
                "ni",
                "luh",
                "ni luh",
                "i gusti",
                "i gusti ayu",
                "i gusti agung",
                "gusti",
                "gusti ayu",
                "ngurah",
                "ida bagus",
                "ida ayu",
                "anak agung",
                "cokorda",
                "wayan",
                "putu",
                "gede",
                "kadek",
                "made",
                "nengah",
                "nyoman",
                "komang",
                "ketut",
            )
        ),
        key=len,
        reverse=True,
    )
)
#: a word, with the dot that marks it as an abbreviation ("Hj.Siti" is two words)
_WORD = re.compile(r"[^\s.]+\.?")


def honorific(sex: str | None, language: str) -> str | None:
    """`Bapak`/`Ibu` (or the English pair); None when the record predates the sex field."""
    if sex is None:
        return None
    return HONORIFICS.get(language, HONORIFICS["id"]).get(sex)


def call_name(full_name: str) -> str:
    """The name after titles and Balinese prefixes; a name made only of them keeps its last
    word (someone registered as just "Made" is called Made)."""
    words: list[str] = _WORD.findall(full_name)
    start = 0
    while start < len(words):
        step = _prefix_length(words[start:])
        if step == 0:
            break
        start += step
    if start < len(words):
        return words[start]
    return words[-1].rstrip(".") if words else ""


def greeting(full_name: str, sex: str | None, language: str, max_name: int) -> str:
    """`Bapak Budi`; a call name longer than `max_name` is left out rather than cut, since a
    truncated name reads like a mistake and `Ibu` alone is still polite."""
    name = call_name(full_name)
    title = honorific(sex, language)
    if len(name) > max_name:
        return title or ""
    return f"{title} {name}" if title else name


def _prefix_length(words: list[str]) -> int:
    first = words[0].lower()
    if first.endswith(".") or first in TITLES:
        return 1  # a title, or any abbreviation ("Moh.", "Gst."): never a call name
    lowered = tuple(word.lower() for word in words)
    for phrase in BALINESE_PREFIXES:
        if lowered[: len(phrase)] == phrase:
            return len(phrase)
    return 0
