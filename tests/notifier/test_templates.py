"""Every template renders in every language (snapshots), SMS fit one GSM-7 segment for every
sample, SMS cannot be mistaken for a scam (agency, participant number, payment channels from
the table, links only to the official domain, how to stop), e-mail has plain + HTML parts and
List-Unsubscribe, HTML is escaped, a missing variable is an error.

Regenerate snapshots after an intended wording change: UPDATE_SNAPSHOTS=1 pytest tests/notifier
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jinja2 import UndefinedError

from services.common.clock import FrozenClock
from services.enrollment.settings import Settings as EnrollmentSettings
from services.notifier.domain import unsubscribe
from services.notifier.domain.gsm import is_gsm7, segments, septets
from services.notifier.domain.links import SMS_DOMAIN_MAX
from services.notifier.domain.model import CONSENT_KINDS, REMINDER_KINDS, EmailMessage, SmsMessage
from services.notifier.domain.payment_channels import PAYMENT_CHANNELS, sms_channels
from services.notifier.render import (
    KINDS,
    LANGUAGES,
    SMS_NAME_MAX,
    STOP_LINES,
    TEMPLATE_DIR,
    Content,
    Renderer,
    Unsubscribe,
    rupiah,
)
from services.notifier.settings import Settings as NotifierSettings

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: snapshots are rendered at one instant, so the links' signed expiry is the same every run
SENT_AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LINKS = Unsubscribe(url="https://bebas-cemas.example/unsubscribe", secret=b"template-test-key")
RENDERER = Renderer(Content(unsubscribe=LINKS), clock=FrozenClock(SENT_AT))
#: segment count each SMS may take; every one of ours fits one
ALLOWED_SEGMENTS = {kind: 1 for kind in KINDS}
AGENCY = "BPJS Ketenagakerjaan"
NUMBER = "12345678903"
OFFICIAL = "bpjsketenagakerjaan.go.id"
#: the longest domain settings accept, so the measure holds for any configured one
LONGEST_DOMAIN = "b" * (SMS_DOMAIN_MAX - len(".go.id")) + ".go.id"
PAYMENT_KINDS = REMINDER_KINDS | {"welcome"}


def person(language: str, **kw: Any) -> dict[str, Any]:
    fields = {
        "participant_id": "0b9f6c1e-3f47-4d3a-9a57-4f1c9d0e2a11",
        "full_name": "Sri Wahyuni",
        "sex": "F",
        "participant_number": NUMBER,
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


@dataclass(frozen=True)
class Sample:
    """One person and one configuration every SMS template is measured with."""

    name: str
    person: dict[str, Any]
    content: Content = field(default_factory=Content)
    params: dict[str, Any] = field(default_factory=lambda: dict(PARAMS))


#: the longest call name an SMS greets with, after the longer honorific
LONGEST_CALL_NAME = "W" * SMS_NAME_MAX
WORST = {"monthly_contribution": 9_999_999, "sex": "M"}
SAMPLES = [
    Sample("typical", {"full_name": "Sri Wahyuni"}),
    Sample("typical-with-link", {"full_name": "Sri Wahyuni"}, Content(official_domain=OFFICIAL)),
    Sample(
        "no-number-yet-no-sex", {"full_name": "Sukarno", "participant_number": None, "sex": None}
    ),
    Sample("balinese", {"full_name": "I Gusti Ngurah Made Wirawan", "sex": "M"}),
    Sample("hajjah", {"full_name": "Hj. Siti Aminah", "sex": "F"}),
    Sample(
        "long-accented-name-large-amount",
        {**WORST, "full_name": "Ñoman Maximiliano Bartholomeus Setiawan-Wijayakusuma"},
    ),
    Sample(
        "longest-name-largest-amount-longest-domain-late-due-day-old-claim-age",
        {**WORST, "full_name": f"H. {LONGEST_CALL_NAME} Santoso"},
        Content(official_domain=LONGEST_DOMAIN, due_day=28, jht_age=120),
        {
            "period": "2026-12",
            "campaign_params": {},
            "unpaid_periods": ["2026-11", "2026-12", "2027-01"],  # across a year
            "amount_owed": 3 * 9_999_999,
        },
    ),
    # the same, the period partially paid: reminders ask for what it still owes ("kurang",
    # "balance"), with the largest amount that can still be owed
    Sample(
        "partially-paid-longest-name-largest-owed-longest-domain-late-due-day",
        {
            **WORST,
            "full_name": f"H. {LONGEST_CALL_NAME} Santoso",
            "partial_owed": {"2026-12": 9_999_998},
        },
        Content(official_domain=LONGEST_DOMAIN, due_day=28, jht_age=120),
        {
            "period": "2026-12",
            "campaign_params": {},
            "unpaid_periods": ["2026-11", "2026-12", "2027-01"],
            "amount_owed": 3 * 9_999_999,
        },
    ),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
@pytest.mark.parametrize("template", [f"{k}.{lang}" for k in KINDS for lang in LANGUAGES])
def test_every_sms_template_fits_one_gsm7_segment_for_every_sample(
    template: str, sample: Sample
) -> None:
    kind, language = template.split(".")
    message = Renderer(sample.content).render(
        key="k",
        kind=kind,
        channel="sms",
        person=person(language, **sample.person),
        params=sample.params,
    )
    assert is_gsm7(message.text), message.text
    assert segments(message.text) <= ALLOWED_SEGMENTS[kind], message.text


def test_the_partially_paid_sample_is_measured_with_the_owed_wording() -> None:
    # else the length test above would not measure the longer wording at all
    worst = SAMPLES[-1]
    for kind in sorted(REMINDER_KINDS):
        text = Renderer(worst.content).render(
            key="k",
            kind=kind,
            channel="sms",
            person=person("id", **worst.person),
            params=worst.params,
        )
        assert "kurang Rp9.999.998" in text.text, text.text


@pytest.mark.parametrize(
    ("language", "sms_says", "email_says"),
    [
        ("id", "kurang Rp6.800 batas 15 Mar", "sisa iuran bulan Mar 2026 sebesar Rp6.800"),
        ("en", "balance Rp6.800 due 15 Mar", "of Rp6.800 (the part still owed)"),
    ],
)
def test_a_partially_paid_period_asks_for_what_it_still_owes(
    language: str, sms_says: str, email_says: str
) -> None:
    owing = {"partial_owed": {"2026-03": 6_800}}
    sms = render("contribution_due_d7", "sms", language, **owing)
    assert sms_says in sms.text, sms.text
    assert "46.800" not in sms.text
    mail = render("contribution_due_d7", "email", language, **owing)
    assert isinstance(mail, EmailMessage)
    assert email_says in mail.text, mail.text
    # another period's partial payment changes nothing in this one's reminder
    other = render("contribution_due_d7", "sms", language, partial_owed={"2026-02": 6_800})
    assert other.text == render("contribution_due_d7", "sms", language).text


def test_the_worst_sample_greets_with_the_longest_name_it_may() -> None:
    # else the length test above would measure a shorter greeting than the SMS can carry
    text = render("contribution_overdue", "sms", "id", **SAMPLES[-1].person).text
    assert f"Bapak {LONGEST_CALL_NAME}," in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_sms_names_the_agency_and_the_participant_number(kind: str, language: str) -> None:
    text = render(kind, "sms", language).text
    assert text.startswith(f"{AGENCY}: ")
    assert f"KPJ {NUMBER}" in text
    assert "Ibu Sri" in text or "Ms Sri" in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(PAYMENT_KINDS))
def test_sms_asking_for_money_names_the_payment_channels_of_the_table(
    kind: str, language: str
) -> None:
    text = render(kind, "sms", language).text
    assert sms_channels(language) in text
    for channel in PAYMENT_CHANNELS:
        if channel.in_sms:
            assert channel.label[language] in text


def test_no_template_spells_out_a_payment_channel() -> None:
    # the channels change without a template edit: they come from the table only
    for path in TEMPLATE_DIR.rglob("*.*"):
        if path.stem.split(".")[0] == "jht_claim":
            continue  # JMO there is where to claim, not where to pay
        words = path.read_text(encoding="utf-8")
        for channel in PAYMENT_CHANNELS:
            for label in channel.label.values():
                assert label not in words, f"{path.name} spells out {label!r}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_no_link_at_all_unless_an_official_domain_is_configured(kind: str, language: str) -> None:
    sms = render(kind, "sms", language).text
    assert "http" not in sms
    assert "www" not in sms
    assert ".example" not in sms
    if kind in PAYMENT_KINDS:
        mail = render(kind, "email", language)
        assert Content().pay_url not in mail.text
        assert Content().pay_url not in mail.html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(PAYMENT_KINDS))
def test_with_an_official_domain_payment_messages_link_to_it(kind: str, language: str) -> None:
    content = Content(official_domain=OFFICIAL, pay_url=f"https://www.{OFFICIAL}/bayar")
    renderer = Renderer(content)
    sms = renderer.render(key="k", kind=kind, channel="sms", person=person(language), params=PARAMS)
    mail = renderer.render(
        key="k", kind=kind, channel="email", person=person(language), params=PARAMS
    )
    assert OFFICIAL in sms.text
    assert content.pay_url in mail.text
    assert f'href="{content.pay_url}"' in mail.html


def test_a_pay_url_off_the_official_domain_is_never_linked() -> None:
    content = Content(official_domain=OFFICIAL, pay_url=f"https://{OFFICIAL}.example/bayar")
    mail = Renderer(content).render(
        key="k", kind="welcome", channel="email", person=person("id"), params=PARAMS
    )
    assert content.pay_url not in mail.text
    assert content.pay_url not in mail.html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_non_transactional_sms_ends_with_how_to_stop(kind: str, language: str) -> None:
    text = render(kind, "sms", language).text
    if kind in CONSENT_KINDS:
        assert text.endswith(f" {STOP_LINES[language]}")
    else:
        assert STOP_LINES[language] not in text


def test_the_welcome_says_registered_and_protected_only_once_paid() -> None:
    indonesian = render("welcome", "sms", "id", monthly_contribution=16_800).text
    assert "Ibu Sri terdaftar, KPJ" in indonesian
    assert "Terlindungi stlh bayar iuran Rp16.800" in indonesian
    english = render("welcome", "sms", "en", monthly_contribution=16_800).text
    assert "Ms Sri, you're registered, KPJ" in english
    assert "Covered once you pay Rp16.800" in english
    assert "you are covered" not in english.lower()
    mail = render("welcome", "email", "en", monthly_contribution=16_800)
    assert "Your protection starts once your first monthly contribution of Rp16.800" in mail.text
    assert "covered by" not in mail.text


def test_the_campaign_template_adds_no_more_than_enrollment_budgets_for() -> None:
    # enrollment accepts a broadcast after counting its message plus this many characters
    budget = EnrollmentSettings.model_fields["broadcast_template_chars"].default
    for sample in SAMPLES:
        for language in LANGUAGES:
            text = (
                Renderer(sample.content)
                .render(
                    key="k",
                    kind="campaign_announcement",
                    channel="sms",
                    person=person(language, **sample.person),
                    params={"campaign_params": {"message": "X"}},
                )
                .text
            )
            assert septets(text) - septets("X") <= budget, (sample.name, language, text)


def test_settings_carry_the_sender_id_and_the_official_domain() -> None:
    settings = NotifierSettings(
        sms_sender_id="BPJSTK",
        official_domain=OFFICIAL,
        payment_howto_url=f"https://www.{OFFICIAL}/bayar",
        unsubscribe_secret="a-long-random-link-key",
    )
    assert (settings.sms_sender_id, settings.official_domain) == ("BPJSTK", OFFICIAL)
    # e-mails link to /unsubscribe on the official domain unless another address is set
    assert settings.effective_unsubscribe_url == f"https://{OFFICIAL}/unsubscribe"
    assert NotifierSettings().official_domain is None
    assert NotifierSettings().effective_unsubscribe_url is None


@pytest.mark.parametrize(
    ("overrides", "field_named"),
    [
        ({"sms_sender_id": "BPJS KETENAGAKERJAAN"}, "sms_sender_id"),
        ({"official_domain": "x" * SMS_DOMAIN_MAX + ".id"}, "official_domain"),
        ({"official_domain": "https://bpjs.go.id/"}, "official_domain"),
        ({"official_domain": OFFICIAL}, "payment_howto_url"),  # default URL is elsewhere
        (
            {"official_domain": OFFICIAL, "payment_howto_url": f"http://{OFFICIAL}/bayar"},
            "payment_howto_url",
        ),
        # an unsubscribe link that could not be checked, or off the official domain
        ({"unsubscribe_url": "http://127.0.0.1:8001/unsubscribe"}, "unsubscribe_secret"),
        (
            {
                "official_domain": OFFICIAL,
                "payment_howto_url": f"https://{OFFICIAL}/bayar",
                "unsubscribe_secret": "a-long-random-link-key",
                "unsubscribe_url": "https://bebas-cemas.example/unsubscribe",
            },
            "unsubscribe_url",
        ),
        ({"unsubscribe_secret": "short"}, "unsubscribe_secret"),
    ],
)
def test_settings_refuse_what_would_make_a_message_look_like_a_scam(
    overrides: dict[str, str], field_named: str
) -> None:
    with pytest.raises(ValueError, match=field_named):
        NotifierSettings(**overrides)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_email_snapshot_parts_and_unsubscribe(kind: str, language: str) -> None:
    message = render(kind, "email", language)
    assert isinstance(message, EmailMessage)
    check_snapshot(
        f"email/{kind}.{language}.txt",
        f"Subject: {message.subject}\n\n{message.text}\n----\n{message.html}\n",
    )
    # RFC 8058 one-click: one https URL (no mailto: the platform reads no mailbox) whose
    # token names this person and e-mail, signed, valid for 60 days from sending
    header = message.headers["List-Unsubscribe"]
    assert header.startswith("<https://bebas-cemas.example/unsubscribe?token=")
    assert "mailto:" not in header
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = parse_qs(urlsplit(header.strip("<>")).query)["token"][0]
    grant = unsubscribe.verify(LINKS.secret, token, SENT_AT)
    assert (grant.participant_id, grant.channel) == (person(language)["participant_id"], "email")
    assert grant.expires_at == SENT_AT + timedelta(days=60)
    assert header.strip("<>") in message.text  # the same link in the body, for people
    assert "<html" in message.html
    assert "<" not in message.text


def test_a_mailbox_that_acts_on_unsubscribe_mail_joins_the_header() -> None:
    content = Content(unsubscribe=Unsubscribe(LINKS.url, LINKS.secret, mailto="stop@x.go.id"))
    mail = Renderer(content, clock=FrozenClock(SENT_AT)).render(
        key="P|welcome|once|email", kind="welcome", channel="email", person=person("id"), params={}
    )
    assert isinstance(mail, EmailMessage)
    https, mailto = mail.headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://")
    assert mailto.startswith("<mailto:stop@x.go.id?")


@pytest.mark.parametrize("language", LANGUAGES)
def test_without_unsubscribe_links_an_email_says_to_call_and_has_no_header(
    language: str,
) -> None:
    mail = Renderer(Content()).render(
        key="k", kind="welcome", channel="email", person=person(language), params={}
    )
    assert isinstance(mail, EmailMessage)
    assert "List-Unsubscribe" not in mail.headers
    assert "List-Unsubscribe-Post" not in mail.headers
    assert "unsubscribe" not in mail.text.lower()
    assert "unsubscribe" not in mail.html
    assert mail.text.rstrip().endswith(("hubungi 175", "call 175"))


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
    assert message.text == (
        f"{AGENCY}: Ibu Sri, KPJ {NUMBER}, Iuran mulai Rp16.800. Balas BERHENTI"
    )


def test_a_missing_variable_is_an_error_not_a_hole() -> None:
    # the D-7 reminder names its due date, which comes from the period
    with pytest.raises(UndefinedError):
        RENDERER.render(
            key="k", kind="contribution_due_d7", channel="sms", person=person("id"), params={}
        )


def test_unknown_language_falls_back_to_indonesian() -> None:
    assert render("welcome", "sms", "jv").text.startswith(f"{AGENCY}: Ibu Sri terdaftar")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("unpaid", "shown"),
    [
        (
            ["2026-01", "2026-02", "2026-03"],
            {"id": "Jan 2026 sampai Mar 2026", "en": "Jan 2026 to Mar 2026"},
        ),
        (["2026-12", "2027-01"], {"id": "Des 2026 sampai Jan 2027", "en": "Dec 2026 to Jan 2027"}),
    ],
)
def test_the_reactivation_message_says_what_is_owed_the_sms_in_one_segment(
    language: str, unpaid: list[str], shown: dict[str, str]
) -> None:
    owed = len(unpaid) * 9_999_999
    rendered = {
        channel: RENDERER.render(
            key="k",
            kind="reactivation",
            channel=channel,
            person=person(language, full_name="Bartholomeus Setiawan-Wijayakusuma"),
            params={"unpaid_periods": unpaid, "amount_owed": owed},
        )
        for channel in ("sms", "email")
    }
    sms, mail = rendered["sms"], rendered["email"]
    assert isinstance(sms, SmsMessage)
    assert isinstance(mail, EmailMessage)
    assert f" {len(unpaid)} " in f" {sms.text} "
    assert rupiah(owed) in sms.text
    assert is_gsm7(sms.text)
    assert segments(sms.text) == 1, sms.text
    assert shown[language] in mail.text  # the months themselves: the e-mail has the room
    assert rupiah(owed) in mail.text
