"""The phone and e-mail adapter: real phonenumbers and email-validator libraries."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.adapters.contacts import LibraryContactRules

RULES = LibraryContactRules()
MOBILE_PREFIXES = ["811", "812", "813", "821", "822", "852", "853", "857", "878", "881", "896"]


@st.composite
def written_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """An Indonesian mobile written the ways officers write it, and its E.164 form."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=8))
    national = prefix + rest
    e164 = "+62" + national
    sep = draw(st.sampled_from(["", "-", " "]))
    groups = sep.join([national[:3], national[3:7], national[7:]])
    style = draw(st.sampled_from(["0{}", "62{}", "+62 {}", "+62{}", "(0{})"]))
    return style.format(groups), e164


@given(written_mobiles())
def test_every_written_form_of_a_mobile_becomes_the_same_e164(case: tuple[str, str]) -> None:
    written, e164 = case
    assert RULES.phone(written) == e164


@given(st.text(max_size=20).filter(lambda s: sum(c.isdigit() for c in s) < 5))
def test_text_without_enough_digits_is_never_a_phone(raw: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked below
        RULES.phone(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is required"),
        ("021-555-1234", "landline"),
        ("+65 8123 4567", "Indonesian"),
        ("0812", "not a valid"),
        ("hello", "not a phone number"),
    ],
)
def test_bad_phones_say_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RULES.phone(raw)


def test_email_is_normalised_and_bad_ones_explained() -> None:
    assert RULES.email(" Sri.Wahyuni@Example.CO.ID ") == "Sri.Wahyuni@example.co.id"
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        RULES.email("sri@@example")


def reference_phone(raw: str) -> str | None:
    """What phonenumbers alone says, the slow general way: E.164 of a valid mobile, or None."""
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 62 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@given(
    st.sampled_from(["0", "62", "+62", "+62 ", "(0", "+1 ", "+65", "00", ""]),
    st.one_of(
        st.text(alphabet="0123456789 -.", min_size=1, max_size=16),
        st.from_regex(r"8[0-9][0-9 -]{5,13}", fullmatch=True),
    ),
)
def test_the_fast_path_agrees_with_phonenumbers_general_parser(prefix: str, rest: str) -> None:
    raw = prefix + rest
    expected = reference_phone(raw)
    try:
        got: str | None = RULES.phone(raw)
    except ValueError:
        got = None
    assert got == expected
