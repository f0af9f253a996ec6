"""SMS segments in GSM-7 and UCS-2: the limits at every boundary, and what forces UCS-2."""

from __future__ import annotations

import pytest

from services.common.gsm import is_gsm7, measure

EM_DASH = "\u2014"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),  # the escape pair moves to part two
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("é" * 70, "GSM-7", 70, 1),  # é is in the GSM-7 alphabet
        ("ę" * 70, "UCS-2", 70, 1),  # ę is not
        ("ę" * 71, "UCS-2", 71, 2),
        ("ę" * 134, "UCS-2", 134, 2),
        ("ę" * 135, "UCS-2", 135, 3),
        ("Halo 😀", "UCS-2", 7, 1),  # an emoji is two UTF-16 units
        ("ę" * 66 + "😀" + "ę" * 5, "UCS-2", 73, 2),
    ],
)
def test_segments_at_every_boundary(text: str, encoding: str, units: int, segments: int) -> None:
    length = measure(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_one_em_dash_makes_the_whole_text_ucs2_and_is_named() -> None:
    """The sample from issue 14: 218 characters with an em dash cost four segments."""
    text = "Kerja Keras Bebas Cemas " + EM_DASH + " " + "x" * 192
    assert len(text) == 218
    length = measure(text)
    assert (length.encoding, length.segments, length.non_gsm) == ("UCS-2", 4, (EM_DASH,))
    assert measure(text.replace(EM_DASH, "-")).segments == 2
    assert is_gsm7(text.replace(EM_DASH, "-"))
    assert not is_gsm7(text)
