"""Who may call the notifier: callback signatures (generic gateway, Twilio) and admin keys.

Pure functions of `domain/signatures.py` in tables, then `access.web_access`: a worker that
could not verify callbacks refuses to start."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from services.common.apikeys import key_digest
from services.enrollment.apikeys import hash_key
from services.notifier.access import Callback, HmacGuard, TwilioGuard, web_access
from services.notifier.domain.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TWILIO_HEADER,
    admin_refusal,
    hmac_refusal,
    hmac_signature,
    signed_headers,
    twilio_refusal,
    twilio_signature,
)
from services.notifier.settings import Settings

SECRET = b"shared-callback-secret-0123"
BODY = b'{"reference": "P1|welcome|once|sms", "status": "delivered"}'
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
MAX_AGE = 300.0


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() -> None:
    # computed here from the README's description, independently of the module
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert hmac_signature(SECRET, str(NOW), BODY) == f"sha256={expected}"
    assert signed_headers(SECRET, BODY, NOW) == {
        "X-Bebas-Timestamp": str(NOW),
        "X-Bebas-Signature": f"sha256={expected}",
    }


def assert_refusal(reason: str | None, refused_for: str | None) -> None:
    """None expected: the request passes; else the reason names `refused_for`."""
    if refused_for is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused_for in reason


GOOD = hmac_signature(SECRET, str(NOW), BODY)


@pytest.mark.parametrize(
    ("signature", "timestamp", "body", "now", "refused_for"),
    [
        (GOOD, str(NOW), BODY, NOW, None),
        (GOOD, str(NOW), BODY, NOW + 300, None),  # at the edge of the window
        (GOOD, str(NOW), BODY, NOW - 300, None),  # the gateway's clock a little ahead
        (f"  {GOOD} ", str(NOW), BODY, NOW, None),  # whitespace around a header value
        (None, str(NOW), BODY, NOW, "X-Bebas-Signature header missing"),
        ("", str(NOW), BODY, NOW, "X-Bebas-Signature header missing"),
        (GOOD, None, BODY, NOW, "X-Bebas-Timestamp header missing"),
        (GOOD, "2026-01-01T00:00:00Z", BODY, NOW, "must be a Unix time"),
        (GOOD, "-5", BODY, NOW, "must be a Unix time"),
        (GOOD, "١٢٣", BODY, NOW, "must be a Unix time"),  # digits, but not ASCII ones
        (GOOD, str(NOW), BODY, NOW + 301, "more than 300 s away"),  # replayed later
        (GOOD, str(NOW), BODY, NOW - 3600, "more than 300 s away"),
        (GOOD, str(NOW + 1), BODY, NOW, "does not match"),  # timestamp changed after signing
        (GOOD, str(NOW), BODY.replace(b"delivered", b"failed"), NOW, "does not match"),
        (
            hmac_signature(b"another-secret-entirely", str(NOW), BODY),
            str(NOW),
            BODY,
            NOW,
            "does not match",
        ),
        (GOOD.removeprefix("sha256="), str(NOW), BODY, NOW, "does not match"),  # no scheme
        (GOOD.upper(), str(NOW), BODY, NOW, "does not match"),
        (GOOD[:-1], str(NOW), BODY, NOW, "does not match"),
        ("sha256=é", str(NOW), BODY, NOW, "does not match"),  # non-ASCII: no TypeError
    ],
)
def test_hmac_refusal(
    signature: str | None, timestamp: str | None, body: bytes, now: int, refused_for: str | None
) -> None:
    reason = hmac_refusal(SECRET, body, signature, timestamp, now=now, max_age=MAX_AGE)
    assert_refusal(reason, refused_for)


# Twilio's documented example (https://www.twilio.com/docs/usage/security, "Validating
# requests"): auth token 12345, this URL and these parameters give 0/KCTR6DLpKmkAf8muzZqo1nDgQ=
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
TWILIO_EXAMPLE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_signature_matches_twilios_documented_example() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_EXAMPLE
    # the parameters are sorted by name whatever order the form had
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS[::-1]) == TWILIO_EXAMPLE


@pytest.mark.parametrize(
    ("token", "url", "params", "signature", "refused_for"),
    [
        (TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_EXAMPLE, None),
        (TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, None, "X-Twilio-Signature header missing"),
        ("54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_EXAMPLE, "does not match"),
        # the URL the notifier sees behind a proxy is not the one Twilio signed
        (
            TWILIO_TOKEN,
            "http://notifier:8001/myapp.php?foo=1&bar=2",
            TWILIO_PARAMS,
            TWILIO_EXAMPLE,
            "NOTIFIER_SMS_CALLBACK_URL",
        ),
        (
            TWILIO_TOKEN,
            TWILIO_URL,
            [*TWILIO_PARAMS[:2], ("Digits", "9999"), *TWILIO_PARAMS[3:]],
            TWILIO_EXAMPLE,
            "does not match",
        ),
        (TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS[:-1], TWILIO_EXAMPLE, "does not match"),
        (TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_EXAMPLE[:-1], "does not match"),
    ],
)
def test_twilio_refusal(
    token: str,
    url: str,
    params: list[tuple[str, str]],
    signature: str | None,
    refused_for: str | None,
) -> None:
    reason = twilio_refusal(token, url, params, signature)
    assert_refusal(reason, refused_for)


ADMIN = "bck_an-admin-key-of-enrollment-0123456789"
DIGESTS = frozenset({key_digest(ADMIN), key_digest("bck_another-admin-key-9876543210")})


def test_key_digest_is_the_hash_enrollment_stores() -> None:
    assert key_digest(ADMIN) == hash_key(ADMIN)


@pytest.mark.parametrize(
    ("authorization", "digests", "refused_for"),
    [
        (f"Bearer {ADMIN}", DIGESTS, None),
        (f"bearer  {ADMIN} ", DIGESTS, None),
        (None, DIGESTS, "send an admin API key"),
        ("", DIGESTS, "send an admin API key"),
        (ADMIN, DIGESTS, "must be 'Bearer <key>'"),
        (f"Basic {ADMIN}", DIGESTS, "must be 'Bearer <key>'"),
        ("Bearer ", DIGESTS, "must be 'Bearer <key>'"),
        ("Bearer bck_a-viewer-or-unknown-key", DIGESTS, "not an admin key"),
        (f"Bearer {key_digest(ADMIN)}", DIGESTS, "not an admin key"),  # the digest is no key
        (f"Bearer {ADMIN}", frozenset(), "not an admin key"),  # none configured: closed
    ],
)
def test_admin_refusal(
    authorization: str | None, digests: frozenset[str], refused_for: str | None
) -> None:
    reason = admin_refusal(authorization, digests)
    assert_refusal(reason, refused_for)


# --- access.py: guards built from settings ----------------------------------------------------


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_a_worker_without_a_callback_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NOTIFIER_SMS_CALLBACK_SECRET is not set"):
        web_access(settings(tmp_path))
    with pytest.raises(ValueError, match="needs NOTIFIER_SMS_CALLBACK_URL"):
        web_access(settings(tmp_path, sms_provider="twilio"))


def test_settings_refuse_a_short_secret_and_keys_listed_instead_of_digests(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        settings(tmp_path, sms_callback_secret="short")
    with pytest.raises(ValidationError, match="entry 2 is not a SHA-256") as raised:
        settings(tmp_path, admin_key_hashes=f"{key_digest(ADMIN)},{ADMIN}")
    assert ADMIN not in str(raised.value)  # a key pasted by mistake is not echoed
    listed = settings(tmp_path, admin_key_hashes=f" {key_digest(ADMIN).upper()} ,")
    assert listed.admin_digests == {key_digest(ADMIN)}


def test_the_generic_gateway_guard_checks_the_raw_body_on_the_system_clock(
    tmp_path: Path,
) -> None:
    access = web_access(settings(tmp_path, sms_callback_secret=SecretStr(SECRET.decode())))
    assert isinstance(access.callbacks, HmacGuard)
    guard = HmacGuard(SECRET, MAX_AGE, wall=lambda: NOW + 10.0)
    signed = Callback("/receipts", signed_headers(SECRET, BODY, NOW), BODY)
    assert guard.refusal(signed) is None
    late = HmacGuard(SECRET, MAX_AGE, wall=lambda: NOW + 301.0)
    assert "away from the notifier's clock" in (late.refusal(signed) or "")
    assert guard.refusal(Callback("/receipts", {}, BODY)) is not None


def test_the_twilio_guard_signs_the_public_url_and_the_form(tmp_path: Path) -> None:
    access = web_access(
        settings(
            tmp_path,
            sms_provider="twilio",
            sms_api_key=SecretStr(TWILIO_TOKEN),
            sms_callback_url="https://mycompany.com/",
        )
    )
    assert access.callbacks == TwilioGuard(TWILIO_TOKEN, "https://mycompany.com/")
    # out of order on purpose: the signature sorts the parameters
    form = (
        b"To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234"
        b"&From=%2B12349013030&Caller=%2B12349013030"
    )
    headers = {TWILIO_HEADER: TWILIO_EXAMPLE}
    assert access.callbacks.refusal(Callback("/myapp.php?foo=1&bar=2", headers, form)) is None
    other_query = Callback("/myapp.php?foo=1&bar=3", headers, form)
    assert access.callbacks.refusal(other_query) is not None
    assert access.callbacks.header == TWILIO_HEADER


def test_header_names_are_the_documented_ones() -> None:
    assert (SIGNATURE_HEADER, TIMESTAMP_HEADER, TWILIO_HEADER) == (
        "X-Bebas-Signature",
        "X-Bebas-Timestamp",
        "X-Twilio-Signature",
    )
