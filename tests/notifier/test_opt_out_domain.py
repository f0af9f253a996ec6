"""The two doors a person stops messages through, as pure functions: the words of an SMS reply
that mean stop, and the signed, expiring token of an e-mail's one-click unsubscribe link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain.replies import stop_word
from services.notifier.domain.unsubscribe import TokenRefused, link, sign, verify

SECRET = b"unit-test-link-key-0123456789"
PID = "0b9f6c1e-3f47-4d3a-9a57-4f1c9d0e2a11"
SENT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
EXPIRES = SENT + timedelta(days=60)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        ("  Berhenti \n", "BERHENTI"),
        ("BERHENTI.", "BERHENTI"),
        ("berhenti!", "BERHENTI"),
        ('"Berhenti"', "BERHENTI"),
        ("\u201cstop\u201d", "STOP"),
        ("UNREG BPJS", "UNREG"),  # what operators taught for premium SMS
        ("unreg", "UNREG"),
        ("Unsubscribe", "UNSUBSCRIBE"),
        ("stop ya pak", "STOP"),
        ("", None),
        ("   ", None),
        ("sudah bayar", None),
        ("jangan berhenti", None),  # the first word decides
        ("STOPKAN", None),  # a longer word is not the keyword
        ("BERHENTI2", None),
        ("Halo", None),
    ],
)
def test_stop_words(text: str, word: str | None) -> None:
    assert stop_word(text) == word


def test_a_token_grants_stopping_email_for_that_person_until_it_expires() -> None:
    token = sign(SECRET, PID, "email", EXPIRES)
    grant = verify(SECRET, token, SENT)
    assert (grant.participant_id, grant.channel, grant.expires_at) == (PID, "email", EXPIRES)
    assert verify(SECRET, token, EXPIRES - timedelta(seconds=1)) == grant
    assert PID not in token  # not readable at a glance; not secret either (a random UUID)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=400)])
def test_an_expired_token_is_refused_and_says_so(late: timedelta) -> None:
    token = sign(SECRET, PID, "email", EXPIRES)
    with pytest.raises(TokenRefused, match="expired on 2026-04-30") as refused:
        verify(SECRET, token, EXPIRES + late)
    assert refused.value.expired


def _tampered() -> dict[str, str]:
    token = sign(SECRET, PID, "email", EXPIRES)
    payload, signature = token.split(".")
    other = sign(SECRET, "another-participant", "email", EXPIRES)
    later = sign(b"a-key-we-never-had-00000000", PID, "email", EXPIRES + timedelta(days=999))
    return {
        "empty": "",
        "no signature part": payload,
        "signature only": "." + signature,
        "another person's payload, this signature": other.split(".")[0] + "." + signature,
        "signed with another key": later,
        "one character changed": payload[:-1]
        + ("A" if payload[-1] != "A" else "B")
        + "."
        + signature,
        "a middle character changed": payload[:5]
        + ("A" if payload[5] != "A" else "B")
        + payload[6:]
        + "."
        + signature,
        "not base64": payload + ".!!!",
        "cut short": token[: len(token) // 2],
    }


@pytest.mark.parametrize("case", list(_tampered()))
def test_a_broken_or_forged_token_is_refused_naming_the_token(case: str) -> None:
    with pytest.raises(TokenRefused, match=r"^token: ") as refused:
        verify(SECRET, _tampered()[case], SENT)
    assert not refused.value.expired


def test_only_email_links_are_signed() -> None:
    with pytest.raises(ValueError, match="sms"):
        sign(SECRET, PID, "sms", EXPIRES)


def test_the_link_carries_the_token_url_safe() -> None:
    token = sign(SECRET, PID, "email", EXPIRES)
    assert (
        link("https://x.go.id/unsubscribe", token) == f"https://x.go.id/unsubscribe?token={token}"
    )
    assert link("https://x.go.id/u?lang=id", "a.b") == "https://x.go.id/u?lang=id&token=a.b"
