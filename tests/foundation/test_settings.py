"""Kafka connection settings: read from KAFKA_*, bad values name the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.kafka_settings import KafkaSettings


def test_defaults_are_local_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = KafkaSettings()
    assert settings.servers == ["127.0.0.1:9092"]
    assert settings.kafka_python_config() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "relay")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = KafkaSettings()
    conf = settings.kafka_python_config()
    assert conf["bootstrap_servers"] == ["k1:9092", "k2:9092"]
    assert conf["sasl_mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl_plain_password"] == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "no port here", "bootstrap_servers"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS", "security_protocol"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI", "sasl_mechanism"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        KafkaSettings()


def test_sasl_without_credentials_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD"):
        KafkaSettings()
