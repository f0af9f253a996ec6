"""Fixtures for enrollment tests: both databases, a wired container, an API client with keys."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from services.common.kafka_settings import KafkaSettings
from services.enrollment.api.app import create_app
from services.enrollment.bootstrap import Container, bootstrap
from services.enrollment.seed import DEMO_CAMPAIGN_CODE, seed_demo
from services.enrollment.settings import Settings
from tests.enrollment.factory import nik_for

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NIK_KEY = "test-nik-hash-key-0123456789"


@pytest.fixture(scope="session")
def pg_available() -> bool:
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        return False
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, or a private schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'enrollment.sqlite3'}"
        return
    if not request.getfixturevalue("pg_available"):
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set TEST_DATABASE_URL)")
    schema = f"enr_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        nik_hash_key=NIK_KEY,  # type: ignore[arg-type]
        **{
            "relay_poll_interval": 0.1,
            "api_key_cache_seconds": 0,
            "requests_enabled": False,  # tests that read requests turn it on
            **overrides,
        },
    )


@pytest.fixture
def container(database_url: str, tmp_path: Path) -> Iterator[Container]:
    """Enrollment without a relay: outbox rows are written and stay for the test to read."""
    built = bootstrap(
        make_settings(database_url, tmp_path / "data"),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        relay=False,
    )
    seed_demo(built)
    yield built
    built.engine.dispose()


@dataclass
class Keys:
    admin: str
    officer_skt: str
    officer_smg: str
    viewer: str

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(container: Container) -> Keys:
    create = container.api_keys.create
    return Keys(
        admin=create("admin").plaintext,
        officer_skt=create("officer", "SURAKARTA").plaintext,
        officer_smg=create("officer", "SEMARANG").plaintext,
        viewer=create("viewer").plaintext,
    )


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as test_client:
        yield test_client


@pytest.fixture
def person() -> Callable[..., dict[str, Any]]:
    """A valid registration body; each call a new NIK unless one is given."""
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> dict[str, Any]:
        n = next(counter)
        body: dict[str, Any] = {
            "full_name": f"Sri Wahyuni {n}",
            "nik": nik_for(n),
            "phone": f"0812-3456-{n:04d}",
            "segment": "trader",
            "branch_code": "SURAKARTA",
            "campaign_code": DEMO_CAMPAIGN_CODE,
            "declared_income": 1_500_000,
            "consent_reminders": True,
        }
        body.update(overrides)
        return body

    return make
