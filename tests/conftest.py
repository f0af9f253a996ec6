"""Fixtures every test may use: the session's Kafka broker and factories for unique names."""

from tests.kafka_fixtures import (  # noqa: F401 - pytest finds fixtures by name
    group_factory,
    kafka,
    kafka_settings,
    pytest_report_header,
    topic_factory,
)
