"""Every template renders in every language (snapshots), SMS fit one GSM-7 segment, e-mail has
plain + HTML parts and List-Unsubscribe, HTML is escaped, a missing variable is an error.

Regenerate snapshots after an intended wording change: UPDATE_SNAPSHOTS=1 pytest tests/notifier
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from services.notifier.domain.gsm import is_gsm7, segments
from services.notifier.domain.model import EmailMessage, SmsMessage
from services.notifier.render import KINDS, LANGUAGES, Content, Renderer, rupiah

SNAPSHOTS = Path(__file__).parent / "snapshots"
RENDERER = Renderer(Content())
#: segment count each SMS may take; every one of ours fits one
ALLOWED_SEGMENTS = {kind: 1 for kind in KINDS}


def person(language: str, **kw: Any) -> dict[str, Any]:
    fields = {
        "participant_id": "0b9f6c1e-3f47-4d3a-9a57-4f1c9d0e2a11",
        "full_name": "Sri Wahyuni",
        "phone_e164": "+6281234567890",
        "email": "sri@example.id",
        "language": language,
        "programmes": ["JKK", "JKM", "JHT"],
        "monthly_contribution": 46_800,
    }
    fields.update(kw)
    return fields


PARAMS = {
    "period": "2026-03",
    "campaign_params": {},
    # what a reactivation message says is owed: three months at the sample's monthly amount
    "unpaid_periods": ["2026-01", "2026-02", "2026-03"],
    "amount_owed": 3 * 46_800,
}


def render(kind: str, channel: str, language: str, **kw: Any) -> Any:
    key = f"P|{kind}|x|{channel}"
    return RENDERER.render(
        key=key, kind=kind, channel=channel, person=person(language, **kw), params=PARAMS
    )


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"snapshot {name} was missing and has been written: review and commit it")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_sms_snapshot_and_length(kind: str, language: str) -> None:
    message = render(kind, "sms", language)
    assert isinstance(message, SmsMessage)
    check_snapshot(f"sms/{kind}.{language}.txt", message.text + "\n")
    assert is_gsm7(message.text)
    assert segments(message.text) <= ALLOWED_SEGMENTS[kind]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_sms_fits_even_with_a_long_accented_name_and_large_amount(kind: str, language: str) -> None:
    message = render(
        kind,
        "sms",
        language,
        full_name="Ñoman Maximiliano Bartholomeus Setiawan-Wijayakusuma",
        monthly_contribution=9_999_999,
    )
    assert is_gsm7(message.text)
    assert segments(message.text) <= ALLOWED_SEGMENTS[kind]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_email_snapshot_parts_and_unsubscribe(kind: str, language: str) -> None:
    message = render(kind, "email", language)
    assert isinstance(message, EmailMessage)
    check_snapshot(
        f"email/{kind}.{language}.txt",
        f"Subject: {message.subject}\n\n{message.text}\n----\n{message.html}\n",
    )
    assert message.headers["List-Unsubscribe"].startswith("<https://")
    assert "mailto:" in message.headers["List-Unsubscribe"]
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<html" in message.html
    assert "<" not in message.text


def test_html_escapes_and_plain_text_does_not() -> None:
    message = render("welcome", "email", "en", full_name="Tom <b>&</b> Jerry")
    assert "Tom &lt;b&gt;&amp;&lt;/b&gt; Jerry" in message.html
    assert "Tom <b>&</b> Jerry" in message.text


def test_campaign_params_reach_the_text() -> None:
    message = RENDERER.render(
        key="k",
        kind="campaign_announcement",
        channel="sms",
        person=person("id"),
        params={"campaign_params": {"message": "Iuran mulai Rp16.800."}},
    )
    assert message.text == "Iuran mulai Rp16.800. Balas BERHENTI utk stop."


def test_a_missing_variable_is_an_error_not_a_hole() -> None:
    with pytest.raises(UndefinedError):
        RENDERER.render(
            key="k", kind="contribution_due_d1", channel="sms", person=person("id"), params={}
        )


def test_unknown_language_falls_back_to_indonesian() -> None:
    assert render("welcome", "sms", "jv").text.startswith("Kerja Keras Bebas Cemas! Sri, Anda")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("unpaid", "shown"),
    [
        (["2026-01", "2026-02", "2026-03"], {"id": "(Jan-Mar 2026)", "en": "(Jan-Mar 2026)"}),
        (["2026-12", "2027-01"], {"id": "(Des 2026-Jan 2027)", "en": "(Dec 2026-Jan 2027)"}),
        (["2026-05"], {"id": "(Mei 2026)", "en": "(May 2026)"}),
    ],
)
def test_the_reactivation_sms_says_what_is_owed_in_one_segment(
    language: str, unpaid: list[str], shown: dict[str, str]
) -> None:
    owed = len(unpaid) * 9_999_999
    message = RENDERER.render(
        key="k",
        kind="reactivation",
        channel="sms",
        person=person(language, full_name="Bartholomeus Setiawan-Wijayakusuma"),
        params={"unpaid_periods": unpaid, "amount_owed": owed},
    )
    assert shown[language] in message.text
    assert f" {len(unpaid)} " in f" {message.text} "
    assert rupiah(owed) in message.text
    assert is_gsm7(message.text)
    assert segments(message.text) == 1, message.text
