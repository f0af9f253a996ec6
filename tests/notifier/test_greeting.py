"""How an SMS addresses a person: `Bapak`/`Ibu` from the sex enrollment reads off the NIK, and
the name people are called by (titles and Balinese prefixes left out)."""

from __future__ import annotations

from datetime import date

import pytest

from services.enrollment.domain.nik import parse_nik
from services.enrollment.domain.reference import load_reference
from services.notifier.domain.greeting import call_name, greeting, honorific

PROVINCES = load_reference().provinces


@pytest.mark.parametrize(
    ("nik", "indonesian", "english"),
    [
        ("3372011708450001", "Bapak", "Mr"),  # day 17: a man born on the 17th
        ("3372015708450001", "Ibu", "Ms"),  # day 57 = 17 + 40: a woman born on the 17th
        ("3372010101900002", "Bapak", "Mr"),  # day 01, the lowest a man's can be
        ("3372014101900002", "Ibu", "Ms"),  # day 41 = 1 + 40, the lowest a woman's can be
        ("3372013112800003", "Bapak", "Mr"),  # day 31, the highest a man's can be
        ("3372017112800003", "Ibu", "Ms"),  # day 71 = 31 + 40, the highest a woman's can be
    ],
)
def test_the_honorific_follows_the_day_field_of_the_nik(
    nik: str, indonesian: str, english: str
) -> None:
    # enrollment parses the NIK and publishes only the sex; the notifier turns that into words
    sex = parse_nik(nik, PROVINCES, date(2026, 12, 1)).sex
    assert honorific(sex, "id") == indonesian
    assert honorific(sex, "en") == english


def test_a_record_from_before_the_sex_was_kept_gets_no_honorific() -> None:
    assert honorific(None, "id") is None


@pytest.mark.parametrize(
    ("full_name", "called"),
    [
        # one name only, as many Indonesians have
        ("Sukarno", "Sukarno"),
        ("Tukiyem", "Tukiyem"),
        # several names: the first is the one used
        ("Sri Wahyuni", "Sri"),
        ("Budi Santoso", "Budi"),
        # pilgrimage titles, with or without the dot or the space after it
        ("H. Ahmad Dahlan", "Ahmad"),
        ("Hj. Siti Aminah", "Siti"),
        ("Hj.Siti Aminah", "Siti"),
        ("HJ SITI AMINAH", "SITI"),
        ("Hajjah Fatimah", "Fatimah"),
        ("Haji Agus Salim", "Agus"),
        ("Dr. Ir. H. Joko Widodo", "Joko"),
        ("Moh. Hatta", "Hatta"),  # an abbreviated name is not what people say
        # Balinese birth-order and caste names come first and are not names on their own
        ("I Made Wirawan", "Wirawan"),
        ("I Wayan Sudarma", "Sudarma"),
        ("Ni Ketut Sariasih", "Sariasih"),
        ("Ni Luh Putu Ayu Lestari", "Ayu"),
        ("Ni Nyoman Rai", "Rai"),
        ("Wayan Sudarsana", "Sudarsana"),
        ("Made Sutama", "Sutama"),
        ("Komang Ayu Dewi", "Ayu"),
        ("Putu Gede Arsana", "Arsana"),
        ("I Gusti Ngurah Rai", "Rai"),
        ("I Gusti Ayu Ratna Sari", "Ratna"),
        ("Gusti Ayu Made Sri", "Sri"),
        ("Ida Bagus Oka", "Oka"),
        ("Anak Agung Gede Agung", "Agung"),
        # a name made only of prefixes keeps its last word: that is what the person is called
        ("Made", "Made"),
        ("I Ketut", "Ketut"),
        ("Hj.", "Hj"),
        # "Ayu" is a name of its own when no caste title precedes it
        ("Ayu Lestari", "Ayu"),
        ("", ""),
    ],
)
def test_call_name(full_name: str, called: str) -> None:
    assert call_name(full_name) == called


@pytest.mark.parametrize(
    ("full_name", "sex", "language", "greeted"),
    [
        ("Hj. Siti Aminah", "F", "id", "Ibu Siti"),
        ("I Made Wirawan", "M", "id", "Bapak Wirawan"),
        ("I Made Wirawan", "M", "en", "Mr Wirawan"),
        ("Ni Luh Sari", "F", "en", "Ms Sari"),
        ("Sukarno", None, "id", "Sukarno"),
        # a call name too long for the SMS budget is left out, never cut
        ("Sulistyowati", "F", "id", "Ibu"),
        ("Sulistyowati", None, "id", ""),
        ("Kusumawati", "F", "id", "Ibu Kusumawati"),
    ],
)
def test_greeting(full_name: str, sex: str | None, language: str, greeted: str) -> None:
    assert greeting(full_name, sex, language, max_name=10) == greeted
