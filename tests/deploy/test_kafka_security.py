"""SASL (PLAIN, SCRAM-SHA-512) and TLS reach every Kafka client of the platform from KAFKA_*.

The clients are the real ones: kafka-python (enrollment relay, admin client, provisioning job)
checked against its own configuration tables, aiokafka and faust constructed for real (they
connect only on start). The last tests talk to the embedded broker started with
`--authentication`: it must refuse clients without valid credentials.
"""

from __future__ import annotations

import logging
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from services.common.broker import broker_binary
from services.common.faust_app import make_faust_app
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.common.topic_admin import admin_client
from tests.deploy.manifests import EnvScope


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throw-away CA and a client certificate signed by it (openssl, like an operator would)."""
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bebas-test-ca",
        "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt"),
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bebas-client",
        "-keyout", str(folder / "client.key"), "-out", str(folder / "client.csr"),
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(folder / "client.csr"), "-CA", str(folder / "ca.crt"),
        "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "1",
        "-out", str(folder / "client.crt"),
    )  # fmt: skip
    return {name: folder / f"{name}" for name in ("ca.crt", "client.crt", "client.key", "ca.key")}


def from_env(env: dict[str, str]) -> KafkaSettings:
    """KafkaSettings exactly as a container builds them: from its environment."""
    with EnvScope(env, ("KAFKA_",)):
        return KafkaSettings()


PLAIN = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "PLAIN",
    "KAFKA_SASL_USERNAME": "bebas",
    "KAFKA_SASL_PASSWORD": "plain-secret",
}


def scram_tls(files: dict[str, Path]) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-0.example:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "bebas",
        "KAFKA_SASL_PASSWORD": "scram-secret",
        "KAFKA_SSL_CAFILE": str(files["ca.crt"]),
    }


def mutual_tls(files: dict[str, Path]) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-0.example:9093",
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(files["ca.crt"]),
        "KAFKA_SSL_CERTFILE": str(files["client.crt"]),
        "KAFKA_SSL_KEYFILE": str(files["client.key"]),
    }


def ca_subjects(context: ssl.SSLContext) -> list[str]:
    return [
        value
        for cert in context.get_ca_certs()
        for rdn in cert["subject"]
        for key, value in rdn
        if key == "commonName"
    ]


# ---------------------------------------------------------------- kafka-python


@pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
def test_kafka_python_clients_accept_every_option_we_pass(client: Any, tls_files: Any) -> None:
    for env in (PLAIN, scram_tls(tls_files), mutual_tls(tls_files)):
        conf = from_env(env).kafka_python_config()
        # kafka-python refuses unknown options ("Unrecognized configs"): the table is the truth
        unknown = set(conf) - set(client.DEFAULT_CONFIG)
        assert not unknown, f"{client.__name__} does not know {unknown}"


def test_kafka_python_sasl_plain() -> None:
    conf = from_env(PLAIN).kafka_python_config()
    assert conf["bootstrap_servers"] == ["kafka-1:9092", "kafka-2:9092"]
    assert conf["security_protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl_mechanism"] == "PLAIN"
    assert conf["sasl_plain_username"] == "bebas"
    assert conf["sasl_plain_password"] == "plain-secret"
    assert "ssl_context" not in conf


def test_kafka_python_scram_over_tls(tls_files: dict[str, Path]) -> None:
    conf = from_env(scram_tls(tls_files)).kafka_python_config()
    assert conf["security_protocol"] == "SASL_SSL"
    assert conf["sasl_mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl_plain_password"] == "scram-secret"
    context = conf["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert "bebas-test-ca" in ca_subjects(context)


def test_mutual_tls_loads_the_client_certificate(tls_files: dict[str, Path]) -> None:
    context = from_env(mutual_tls(tls_files)).ssl_context()
    assert context is not None
    assert "bebas-test-ca" in ca_subjects(context)
    wrong_key = {**mutual_tls(tls_files), "KAFKA_SSL_KEYFILE": str(tls_files["ca.key"])}
    with pytest.raises(ssl.SSLError):
        from_env(wrong_key).ssl_context()  # a key that does not match the certificate


def test_hostname_check_can_only_be_turned_off_explicitly(tls_files: dict[str, Path]) -> None:
    relaxed = from_env({**scram_tls(tls_files), "KAFKA_SSL_CHECK_HOSTNAME": "false"})
    context = relaxed.ssl_context()
    assert context is not None
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED  # the chain is still verified


def test_sasl_without_credentials_is_a_clear_configuration_error() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD"):
        from_env({k: v for k, v in PLAIN.items() if k != "KAFKA_SASL_PASSWORD"})


def test_password_is_never_shown_in_settings_output() -> None:
    settings = from_env(PLAIN)
    assert "plain-secret" not in repr(settings)
    assert "plain-secret" not in str(settings.model_dump())


# ---------------------------------------------------------------- aiokafka and faust


def assert_aiokafka_client(client: Any, env: dict[str, str], context: Any) -> None:
    inner = client.client if isinstance(client, AIOKafkaProducer) else client._client
    assert inner._security_protocol == env["KAFKA_SECURITY_PROTOCOL"]
    assert inner._sasl_mechanism == env.get("KAFKA_SASL_MECHANISM", inner._sasl_mechanism)
    if "KAFKA_SASL_USERNAME" in env:
        assert inner._sasl_plain_username == env["KAFKA_SASL_USERNAME"]
        assert inner._sasl_plain_password == env["KAFKA_SASL_PASSWORD"]
    if context is None:
        assert inner._ssl_context is None
    else:
        assert "bebas-test-ca" in ca_subjects(inner._ssl_context)


async def test_aiokafka_clients_are_built_with_sasl_and_tls(tls_files: dict[str, Path]) -> None:
    for env in (PLAIN, scram_tls(tls_files), mutual_tls(tls_files)):
        settings = from_env(env)
        conf = settings.aiokafka_config()
        producer = AIOKafkaProducer(**conf)
        consumer = AIOKafkaConsumer(**conf)
        try:
            assert_aiokafka_client(producer, env, conf.get("ssl_context"))
            assert_aiokafka_client(consumer, env, conf.get("ssl_context"))
        finally:
            await consumer.stop()
            await producer.stop()


async def test_faust_apps_get_broker_credentials_for_every_protocol(
    tls_files: dict[str, Path],
) -> None:
    for env in (PLAIN, scram_tls(tls_files), mutual_tls(tls_files)):
        settings = from_env({**env, "KAFKA_REPLICATION_FACTOR": "3"})
        app = make_faust_app(f"deploy-check-{env['KAFKA_SECURITY_PROTOCOL']}", settings)
        assert [str(u) for u in app.conf.broker] == [
            f"kafka://{s}" for s in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")
        ]
        assert app.conf.topic_replication_factor == 3  # changelogs as durable as the catalogue
        # faust hands broker_credentials to aiokafka through this function: use it as faust does
        auth = dict(credentials_to_aiokafka_auth(app.conf.broker_credentials))
        assert auth["security_protocol"] == env["KAFKA_SECURITY_PROTOCOL"]
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.servers, **auth)
        try:
            assert_aiokafka_client(consumer, env, auth.get("ssl_context"))
        finally:
            await consumer.stop()


def test_faust_keeps_the_cluster_default_replication_without_the_setting() -> None:
    app = make_faust_app("deploy-check-default", from_env(PLAIN))
    assert app.conf.topic_replication_factor == 1  # faust's own default, as before


# ---------------------------------------------------------------- a broker that authenticates


@pytest.fixture(scope="module")
def authenticating_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """tansu started with `--authentication` (SCRAM offered; its user store starts empty)."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu-auth") / "broker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--authentication"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b"ready" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "tansu --authentication did not start"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.integration
def test_authenticating_broker_refuses_a_client_without_credentials(
    authenticating_broker: str,
) -> None:
    settings = KafkaSettings(bootstrap_servers=authenticating_broker)
    with pytest.raises(KafkaError):
        admin_client(settings, timeout_ms=3000).list_topics()


@pytest.mark.integration
def test_authenticating_broker_refuses_unknown_scram_credentials(
    authenticating_broker: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = KafkaSettings(
        bootstrap_servers=authenticating_broker,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="bebas-unknown",
        sasl_password="not-a-user",
    )
    with caplog.at_level(logging.DEBUG, logger="kafka"), pytest.raises(KafkaError):
        admin_client(settings, timeout_ms=3000).list_topics()
    wire = caplog.text
    # the platform's admin client (the provisioning job's too) negotiated SCRAM-SHA-512
    # with our user name, and the broker said no
    assert "SaslHandshakeRequest" in wire
    assert "mechanism='SCRAM-SHA-512'" in wire
    assert "n=bebas-unknown" in wire
    assert "e=unknown-user" in wire
