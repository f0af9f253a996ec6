"""How every Kafka client of the platform connects: one settings object, read from `KAFKA_*`.

All three services and the test suite share it, so TLS and SASL are configured once.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        pattern=r"^[^\s,]+:\d+(,[^\s,]+:\d+)*$",
        description="comma-separated host:port list",
    )
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="replicas of every topic the platform creates (catalogue topics and faust "
        "changelogs); unset: the cluster's default.replication.factor",
    )
    fetch_max_wait_ms: int | None = Field(
        default=None,
        ge=1,
        le=30_000,
        description="longest a consumer's fetch waits for data. Unset: 100 ms on the embedded "
        "broker, which answers a waiting fetch only when the wait is over, so the wait is "
        "added to every hop (measured per hop: p50 371 ms at 1,500, 2.8 ms at 100); 1,500 ms "
        "(faust's own) on Apache Kafka, which answers as soon as data arrives "
        "(services.common.topic_admin.fetch_wait_ms)",
    )

    group_session_timeout_ms: int = Field(
        default=10_000,
        ge=3_000,
        le=300_000,
        description="consumer-group session timeout of every consumer of the platform: how "
        "long a dead member keeps its partitions, and on the embedded broker about twice how "
        "long each join waits (measured: 10 s joins in ~5 s, kafka-python's 45 s in ~23 s). "
        "Apache Kafka refuses less than its group.min.session.timeout.ms (6 s by default). "
        "Heartbeats go every second, so at least 3 s",
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        if self.uses_sasl:
            missing = [
                f"KAFKA_{name.upper()}"
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs {', '.join(missing)}"
                )
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @property
    def servers(self) -> list[str]:
        return self.bootstrap_servers.split(",")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile:
            context.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
            )
        return context

    def kafka_python_config(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer / KafkaAdminClient."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            conf.update(self._sasl_credentials())
        if self.uses_tls:
            conf["ssl_context"] = self.ssl_context()
        return conf

    def aiokafka_config(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's clients (same names, one context for TLS)."""
        return self.kafka_python_config()

    def _sasl_credentials(self) -> dict[str, Any]:
        assert self.sasl_password is not None  # guaranteed by the validator
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password.get_secret_value(),
        }
