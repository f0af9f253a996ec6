"""Everything the notifier reads from its environment (prefix NOTIFIER_); nothing connects here."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.apikeys import parse_digests
from services.notifier.domain.links import SMS_DOMAIN_MAX, on_domain
from services.notifier.domain.routing import Route, parse_routes
from services.notifier.domain.whatsapp import template_names


class SmsProvider(BaseModel):
    """One SMS provider of the ordered failover list (NOTIFIER_SMS_PROVIDERS)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$",
        description="names the provider in notification.sent and metrics labels; keep it "
        "stable (a retry bound to a provider finds it by name)",
    )
    kind: Literal["gateway", "twilio"]
    url: str = Field(pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    key: SecretStr = Field(description="gateway: X-API-Key; twilio: the auth token")
    account_sid: str | None = Field(default=None, description="twilio only")
    timeout_seconds: float | None = Field(default=None, gt=0)
    rate_per_second: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _twilio_has_account(self) -> SmsProvider:
        if self.kind == "twilio" and not self.account_sid:
            raise ValueError(f"account_sid is required for provider {self.name!r} (kind twilio)")
        if self.kind == "gateway" and self.account_sid:
            raise ValueError(f"account_sid is for kind twilio, not gateway ({self.name!r})")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    # --- runtime -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    data_dir: Path = Path("data/notifier")
    store: str = Field(
        default="rocksdb://",
        description="faust table store: rocksdb:// only (state lives on disk, so memory does not "
        "grow with participants; the store's per-partition databases are read directly)",
    )
    app_id: str = Field(
        default="bebas-notifier",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="faust app id = consumer group id = prefix of the changelog topics",
    )
    topic_namespace: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="prefix for every topic name (tests isolate themselves with it)",
    )
    loglevel: str = Field(default="info", pattern=r"^(crit|error|warn|info|debug)$")
    clock_offset_file: Path | None = None
    tick_seconds: float = Field(default=0.25, gt=0, le=60)
    stuck_after_seconds: float = Field(
        default=900.0,
        gt=0,
        description="a worker unready this long after being ready fails /healthz (restart it)",
    )
    scan_batch: int = Field(default=500, ge=1, le=100_000)
    sink_dir: Path | None = Field(
        default=None, description="local sinks' data folder, listed by GET /messages"
    )

    # --- schedule ----------------------------------------------------------------------------
    due_day: int = Field(default=15, ge=1, le=28)
    reminder_local_time: time = time(9, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    jht_claim_age: int = Field(default=56, ge=1, le=120)
    lapse_after_periods: int = Field(
        default=3,
        ge=1,
        le=24,
        description="consecutive unpaid periods after which monthly reminders stop and the "
        "participant is lapsed (an assumption of BPU practice: keep it a setting)",
    )

    # --- frequency cap: non-transactional messages per person (domain/frequency.py) ----------
    frequency_cap_per_week: int = Field(
        default=4,
        ge=0,
        le=100,
        description="reminders and campaigns one person gets in any 7 days at most (0: no cap)",
    )
    frequency_cap_per_day: int = Field(
        default=2,
        ge=0,
        le=100,
        description="reminders and campaigns one person gets in any 24 hours at most (0: no cap)",
    )

    # --- routing: which channels each message kind takes (domain/routing.py) -----------------
    routes: str = Field(
        default="",
        description="JSON object of message kind (or 'default') -> {'mode': 'all'|'first', "
        "'channels': [sms|email|preferred, ...]} over the built-in routes (the welcome on "
        "every channel, everything else on the preferred one, else another)",
    )

    # --- retries -----------------------------------------------------------------------------
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)

    # --- e-mail over SMTP --------------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_from: str = "Bebas Cemas <no-reply@bebas-cemas.example>"
    smtp_concurrency: int = Field(default=4, ge=1, le=100)
    smtp_rate_per_second: float = Field(default=50.0, gt=0)

    # --- one-click unsubscribe (RFC 8058): the notifier serves GET/POST /unsubscribe ---------
    unsubscribe_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="the public address of this service's /unsubscribe that e-mails link to "
        "(List-Unsubscribe); default https://<official_domain>/unsubscribe when "
        "official_domain is set. Neither set: e-mails carry no unsubscribe link and say to "
        "call contact_number instead",
    )
    unsubscribe_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of the links' tokens, the same for every worker (any worker "
        "answers a link) and kept across restarts (links in old e-mails stay valid); "
        "required when an unsubscribe URL is in effect",
    )
    unsubscribe_link_days: int = Field(
        default=60, ge=1, le=366, description="days an unsubscribe link works after sending"
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="a mailbox that acts on 'unsubscribe' mails, added to List-Unsubscribe; "
        "leave unset unless one exists (the platform runs none)",
    )

    # --- SMS over an HTTP gateway ------------------------------------------------------------
    sms_provider: str = Field(default="json", pattern=r"^(json|twilio)$")
    sms_gateway_url: str = "http://127.0.0.1:8025"
    sms_api_key: SecretStr = SecretStr("local-dev-key")
    sms_sender_id: str = Field(
        default="BEBASCEMAS",
        pattern=r"^[A-Za-z0-9 ]{1,11}$",
        description="alphanumeric sender ID people see (operators allow at most 11 characters); "
        "use the one registered for the agency, since an unknown sender marks a scam",
    )
    sms_timeout_seconds: float = Field(default=5.0, gt=0)
    sms_concurrency: int = Field(default=8, ge=1, le=100)
    sms_rate_per_second: float = Field(default=100.0, gt=0)
    twilio_account_sid: str | None = None
    sms_providers: list[SmsProvider] | None = Field(
        default=None,
        description="ordered SMS providers for failover, JSON: [{name, kind: gateway|twilio, "
        "url, key, account_sid (twilio), timeout_seconds, rate_per_second}]; unset: the one "
        "provider of sms_provider / sms_gateway_url / sms_api_key / twilio_account_sid",
    )
    sms_breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="transient failures in a row that open a breaker"
    )
    sms_breaker_error_rate: float = Field(
        default=0.5, gt=0, le=1, description="share of failed requests that opens a breaker"
    )
    sms_breaker_window_seconds: float = Field(default=30.0, gt=0, le=3600)
    sms_breaker_min_requests: int = Field(
        default=20, ge=1, description="requests the window needs before its rate counts"
    )
    sms_breaker_cool_down_seconds: float = Field(
        default=15.0, gt=0, le=3600, description="an open breaker's wait before one probe"
    )

    # --- WhatsApp Business Cloud API (adapters/whatsapp.py); off while whatsapp_url is unset --
    whatsapp_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="Graph API base URL (https://graph.facebook.com, or a local sink); unset: "
        "no WhatsApp channel, and people who prefer it are reached on SMS",
    )
    whatsapp_api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    whatsapp_phone_number_id: str | None = Field(
        default=None, pattern=r"^\d{1,32}$", description="the business number's id at Meta"
    )
    whatsapp_token: SecretStr | None = Field(
        default=None, description="system-user access token (Authorization: Bearer)"
    )
    whatsapp_app_secret: SecretStr | None = Field(
        default=None,
        description="the Meta app's secret: status webhooks to /webhooks/whatsapp are signed "
        "with it (X-Hub-Signature-256); unsigned or wrongly signed ones are refused",
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None,
        description="the token typed into the app's webhook settings; the subscription "
        "handshake (GET /webhooks/whatsapp) answers only it",
    )
    whatsapp_templates: str = Field(
        default="",
        description="JSON object of message kind -> registered template name (or {id: …, en: "
        "…}) over the defaults bebas_<kind>",
    )
    whatsapp_timeout_seconds: float = Field(default=10.0, gt=0)
    whatsapp_concurrency: int = Field(default=8, ge=1, le=100)
    whatsapp_rate_per_second: float = Field(
        default=50.0, gt=0, description="stay under the business number's throughput tier"
    )

    # --- who may call the HTTP doors (README "Security") --------------------------------------
    sms_callback_secret: SecretStr | None = Field(
        default=None,
        description="secret shared with the generic JSON gateway, which signs /receipts and "
        "/inbound-sms with it (X-Bebas-Signature); the worker refuses to start without one "
        "(the Twilio adapter signs with its auth token, NOTIFIER_SMS_API_KEY, instead)",
    )
    sms_callback_max_age_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="a signed callback older (or newer) than this on the system clock is "
        "refused: bounds replays of a captured callback",
    )
    sms_callback_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="public base URL the provider calls (e.g. https://sms-callbacks.example); "
        "Twilio signs the full URL it called, which behind a proxy differs from the one the "
        "notifier sees. Needed with NOTIFIER_SMS_PROVIDER=twilio (also its status callback)",
    )
    admin_key_hashes: str = Field(
        default="",
        description="comma-separated SHA-256 hex digests of the enrollment admin keys that may "
        "read GET /participants/{id}/notifications; empty: nobody may",
    )

    # --- content -----------------------------------------------------------------------------
    payment_howto_url: str = Field(
        default="https://bebas-cemas.example/bayar",
        description="how-to-pay page, linked from e-mail only when it is on official_domain",
    )
    official_domain: str | None = Field(
        default=None,
        max_length=SMS_DOMAIN_MAX,
        pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$",
        description="the agency's own domain (e.g. bpjsketenagakerjaan.go.id); unset, no "
        "message carries a link. Its length is capped so that every SMS stays one segment",
    )
    contact_number: str = "175"

    @field_validator("whatsapp_templates")
    @classmethod
    def _templates_parse(cls, value: str) -> str:
        template_names(value)  # the ValueError names the kind and language
        return value

    @property
    def whatsapp_template_names(self) -> dict[tuple[str, str], str]:
        return template_names(self.whatsapp_templates)

    @model_validator(mode="after")
    def _whatsapp_complete(self) -> Settings:
        if self.whatsapp_url is None:
            return self
        missing = [
            name
            for name in (
                "whatsapp_phone_number_id",
                "whatsapp_token",
                "whatsapp_app_secret",
                "whatsapp_verify_token",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"whatsapp_url is set, so {', '.join(missing)} must be set too")
        return self

    @field_validator("routes")
    @classmethod
    def _routes_parse(cls, value: str) -> str:
        parse_routes(value)  # the ValueError names the kind and field
        return value

    @property
    def route_table(self) -> dict[str, Route]:
        return parse_routes(self.routes)

    @field_validator("sms_providers")
    @classmethod
    def _providers_named_once(cls, value: list[SmsProvider] | None) -> list[SmsProvider] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one provider (or leave it unset)")
        names = [provider.name for provider in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"provider names must differ: {', '.join(twice)} repeated")
        return value

    @property
    def sms_route_list(self) -> list[SmsProvider]:
        """The SMS providers in failover order: NOTIFIER_SMS_PROVIDERS, else the single one of
        the older variables, named as events named it before (sms-json / twilio)."""
        if self.sms_providers is not None:
            return list(self.sms_providers)
        twilio = self.sms_provider == "twilio"
        if twilio and not self.twilio_account_sid:
            raise ValueError("NOTIFIER_SMS_PROVIDER=twilio needs NOTIFIER_TWILIO_ACCOUNT_SID")
        return [
            SmsProvider(
                name="twilio" if twilio else "sms-json",
                kind="twilio" if twilio else "gateway",
                url=self.sms_gateway_url,
                key=self.sms_api_key,
                account_sid=self.twilio_account_sid if twilio else None,
            )
        ]

    @model_validator(mode="after")
    def _routes_name_known_providers(self) -> Settings:
        if self.sms_providers is None:
            return self  # one provider, named by the older variables (checked where built)
        known = {provider.name for provider in self.sms_providers}
        for kind, route in parse_routes(self.routes).items():
            unknown = [name for name in route.sms_providers if name not in known]
            if unknown:
                raise ValueError(
                    f"routes: {kind}.sms_providers names {', '.join(unknown)}, not in "
                    f"sms_providers ({', '.join(sorted(known))})"
                )
        return self

    @field_validator("store")
    @classmethod
    def _rocksdb_only(cls, value: str) -> str:
        if not value.startswith("rocksdb://"):
            raise ValueError(
                "only rocksdb:// is supported: the notifier reads one partition of its tables "
                "in key order (its wake-up index), which faust's memory store cannot do"
            )
        return value

    @field_validator("official_domain", mode="before")
    @classmethod
    def _blank_domain_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _day_cap_within_week_cap(self) -> Settings:
        week, day = self.frequency_cap_per_week, self.frequency_cap_per_day
        if week and day > week:
            raise ValueError(
                f"NOTIFIER_FREQUENCY_CAP_PER_DAY ({day}) is more than "
                f"NOTIFIER_FREQUENCY_CAP_PER_WEEK ({week}): a day's cap above the week's "
                "could never be reached; lower it (or set the week's to 0 for no weekly cap)"
            )
        return self

    @model_validator(mode="after")
    def _pay_link_is_official(self) -> Settings:
        # a configured domain with a how-to-pay page elsewhere would silently drop the link:
        # say so at start-up instead
        if self.official_domain and not on_domain(self.payment_howto_url, self.official_domain):
            raise ValueError(
                f"payment_howto_url must be an https address on official_domain "
                f"{self.official_domain!r} (got {self.payment_howto_url!r})"
            )
        return self

    @model_validator(mode="after")
    def _unsubscribe_is_signed_and_official(self) -> Settings:
        url = self.effective_unsubscribe_url
        if url is None:
            return self
        if self.unsubscribe_secret is None:
            raise ValueError(
                f"unsubscribe_secret must be set: e-mails link to {url}, whose tokens are "
                "signed with it (NOTIFIER_UNSUBSCRIBE_SECRET, a random value of 16+ characters)"
            )
        if self.official_domain and not on_domain(url, self.official_domain):
            raise ValueError(
                f"unsubscribe_url must be an https address on official_domain "
                f"{self.official_domain!r} (got {url!r})"
            )
        return self

    @property
    def effective_unsubscribe_url(self) -> str | None:
        if self.unsubscribe_url:
            return self.unsubscribe_url
        return f"https://{self.official_domain}/unsubscribe" if self.official_domain else None

    @field_validator(
        "smtp_password",
        "sms_callback_secret",
        "sms_callback_url",
        "unsubscribe_url",
        "unsubscribe_secret",
        "unsubscribe_mailto",
        "whatsapp_url",
        "whatsapp_phone_number_id",
        "whatsapp_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("sms_callback_secret", "unsubscribe_secret", "whatsapp_app_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use a random value)")
        return value

    @field_validator("admin_key_hashes")
    @classmethod
    def _digests(cls, value: str) -> str:
        for number, digest in enumerate(parse_digests(value), start=1):
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                # the entry itself is not echoed: it may be a key pasted by mistake
                raise ValueError(
                    f"entry {number} is not a SHA-256 hex digest (64 characters 0-9a-f): list "
                    "digests of admin keys (printf %s KEY | sha256sum), never the keys"
                )
        return value

    @property
    def admin_digests(self) -> frozenset[str]:
        return frozenset(parse_digests(self.admin_key_hashes))

    def topic(self, name: str) -> str:
        return f"{self.topic_namespace}{name}"
