"""Fixtures every test may use: the session's Kafka broker and factories for unique names."""

import os

from tests.kafka_fixtures import (  # noqa: F401 - pytest finds fixtures by name
    group_factory,
    kafka,
    kafka_settings,
    pytest_report_header,
    topic_factory,
)

# Short group sessions for every consumer the suite starts, in-process or spawned (they inherit
# the environment): the embedded broker holds each join about half the session, and a SIGKILLed
# worker keeps its partitions for a whole one. 6 s is the least Apache Kafka accepts by default
# (group.min.session.timeout.ms), so the suite runs unchanged against an external cluster.
os.environ.setdefault("KAFKA_GROUP_SESSION_TIMEOUT_MS", "6000")
