"""Every setting of the enrollment service, read from `ENROLLMENT_*` (Kafka from `KAFKA_*`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import CAMPAIGNS, ENROLLMENT_DEADLETTER, ENROLLMENT_REQUESTS, PARTICIPANTS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("data/enrollment")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default a SQLite file under data_dir"
    )
    nik_hash_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for NIK hashes; when unset a random key is kept in data_dir",
    )
    bootstrap_admin_key: SecretStr | None = None
    relay_enabled: bool = True
    relay_batch_size: int = Field(default=2000, ge=1, le=20_000)
    relay_poll_interval: float = Field(default=0.5, gt=0, le=60)
    relay_import_interval: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="while a CSV import runs, the relay publishes one batch per this many s",
    )
    participants_topic: str = PARTICIPANTS.name
    campaigns_topic: str = CAMPAIGNS.name
    requests_enabled: bool = Field(
        default=True,
        description="read people's requests (SMS STOP, e-mail unsubscribe) from the requests "
        "topic inside `serve`; any number of readers share it (one consumer group)",
    )
    requests_topic: str = ENROLLMENT_REQUESTS.name
    requests_group: str = Field(
        default="bebas-enrollment-requests",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="consumer group of the requests readers",
    )
    deadletter_topic: str = Field(
        default=ENROLLMENT_DEADLETTER.name,
        description="requests that can never be applied, with the reason",
    )
    event_source: str = "urn:bebas-cemas:enrollment"
    import_chunk_size: int = Field(default=5000, ge=1, le=50_000)
    reference_dir: Path | None = Field(
        default=None, description="folder with provinces/branches/segments/rates JSON overrides"
    )
    api_key_cache_seconds: float = Field(default=30.0, ge=0)
    clock_offset_file: Path | None = Field(
        default=None,
        description="seconds added to the system clock, read from this file (local runs and "
        "end-to-end tests register people on a chosen day); unset in production",
    )
    broadcast_max_segments: int = Field(
        default=2, ge=1, le=10, description="SMS segments a broadcast message may take per person"
    )
    broadcast_price_per_segment: int = Field(
        default=350, ge=0, description="rupiah per SMS segment, for a broadcast's estimated cost"
    )
    broadcast_template_chars: int = Field(
        # the notifier's campaign SMS around the message, at its longest: agency, `Bapak` and
        # the longest call name, participant number, `Balas BERHENTI` (checked by its tests)
        default=72,
        ge=0,
        le=150,
        description="GSM-7 characters the notifier's SMS template adds around params.message",
    )

    contribution_due_day: int = Field(
        default=15,
        ge=1,
        le=28,
        description="day of the month contributions fall due (as the notifier's "
        "NOTIFIER_DUE_DAY); a period costs the monthly amount in force at the end of that day",
    )

    @field_validator("nik_hash_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("ENROLLMENT_NIK_HASH_KEY must be at least 16 characters")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'enrollment.sqlite3').resolve()}"

    def nik_secret(self) -> bytes:
        """The NIK hash key; generated once and kept in data_dir when not configured.

        The hash must stay stable across restarts (it is how duplicates are found), so a
        generated key is written to a 0600 file rather than held in memory.
        """
        if self.nik_hash_key is not None:
            return self.nik_hash_key.get_secret_value().encode()
        path = self.data_dir / "nik-hash.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
