"""Settings of the reporting service, read from `REPORTING_*` (Kafka itself from `KAFKA_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import (
    CAMPAIGNS,
    DEADLETTER_REPLAYS,
    ENROLLMENT_DEADLETTER,
    ENROLLMENT_REQUESTS,
    NOTIFICATIONS,
    NOTIFIER_DEADLETTER,
    NOTIFIER_WORK,
    PARTICIPANTS,
    REPORTING_DEADLETTER,
)
from services.reporting.domain.access import parse_keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)
    advertised_url: str | None = Field(
        default=None,
        description="URL other workers use to reach this one (default http://HOST:PORT)",
    )
    data_dir: Path = Path("data/reporting")
    store: str = Field(default="rocksdb://", pattern=r"^(memory|rocksdb)://")
    group_id: str = Field(default="bebas-reporting", min_length=1)
    participants_topic: str = PARTICIPANTS.name
    campaigns_topic: str = CAMPAIGNS.name
    notifications_topic: str = NOTIFICATIONS.name
    deadletter_topic: str = REPORTING_DEADLETTER.name
    replay_ledger_topic: str = Field(
        default=DEADLETTER_REPLAYS.name,
        description="compacted topic of the dead letters already replayed (shared with the "
        "notifier: ids are uuids)",
    )
    # the other services' dead letters, listed and replayed by the API beside reporting's own
    notifier_deadletter_topic: str = NOTIFIER_DEADLETTER.name
    notifier_work_topic: str = Field(
        default=NOTIFIER_WORK.name,
        description="where a notifier message out of retries is replayed to (a requeue record)",
    )
    enrollment_deadletter_topic: str = ENROLLMENT_DEADLETTER.name
    enrollment_requests_topic: str = ENROLLMENT_REQUESTS.name
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    batch_within_s: float = Field(default=0.2, gt=0, le=10)
    dedupe_window: int = Field(
        default=100_000, ge=100, description="event ids remembered per source partition"
    )
    lag_interval_s: float = Field(default=5.0, gt=0, le=300)
    lag_groups: str = Field(
        default="",
        description="comma-separated consumer groups to report lag for; empty = every group",
    )
    peer_timeout_s: float = Field(default=3.0, gt=0, le=60)
    log_level: Literal["crit", "error", "warn", "info", "debug"] = "warn"
    key_hashes: str = Field(
        default="",
        description="comma-separated `sha256-digest:role[:branch]` of the enrollment API keys "
        "that may sign in (the digest is enrollment's api_keys.key_hash; roles admin, viewer, "
        "officer; an officer entry names its branch); empty: nobody may",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of the dashboard's session cookies (16+ random characters), the "
        "same on every worker; unset: a random one per process",
    )
    session_hours: float = Field(default=8.0, gt=0, le=168, description="a session's lifetime")
    session_cookie_secure: bool = Field(
        default=False, description="mark the session cookie Secure (set it behind HTTPS)"
    )

    @field_validator("advertised_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("key_hashes")
    @classmethod
    def _keys(cls, value: str) -> str:
        parse_keys(value)  # its ValueError names the entry that is wrong
        return value

    @field_validator("session_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use a random value)")
        return value

    @property
    def url(self) -> str:
        return self.advertised_url or f"http://{self.host}:{self.port}"

    @property
    def source_topics(self) -> tuple[str, str, str]:
        return (self.participants_topic, self.campaigns_topic, self.notifications_topic)

    @property
    def lag_group_list(self) -> list[str]:
        return [g.strip() for g in self.lag_groups.split(",") if g.strip()]
