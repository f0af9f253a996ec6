"""The reporting worker on the real broker: exact figures, restart, two workers, dead letters."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.kafka_settings import KafkaSettings
from tests.reporting import mix
from tests.reporting.harness import (
    OFFICER_KEY,
    VIEWER_KEY,
    dead_letters,
    get,
    json_or_none,
    make_topics,
    poll,
    publish,
    read_records,
    stream_health,
    worker,
)

pytestmark = pytest.mark.integration


def processed(url: str) -> int:
    health = get(url, "/v1/stream-health").json()
    return sum(t["processed"] for t in health["topics"].values())


def lag_labels(group: str, ends: dict[tuple[str, int], int]) -> set[str]:
    return {f'group="{group}",partition="{p}",topic="{t}"' for t, p in ends}


def caught_up(url: str, group: str, ends: dict[tuple[str, int], int]) -> dict[str, float]:
    """The group's lag per partition as the worker exports it, once every partition that got
    records shows a committed offset at its end (or the poll's deadline passed)."""
    labels = lag_labels(group, ends)
    return poll(
        lambda: metric_values(get(url, "/metrics").text, "kafka_consumergroup_lag", group=group),
        lambda v: set(v) == labels and sum(v.values()) == 0,
    )


def overview_totals(url: str) -> dict[str, object] | None:
    body = json_or_none(get(url, "/v1/overview"))
    return body["totals"] if body else None


def assert_every_figure(url: str) -> None:
    assert get(url, "/v1/campaigns/KLEWER23/metrics").json() == mix.KLEWER
    assert get(url, "/v1/branches/MKS/metrics").json() == mix.BRANCH_MKS
    assert get(url, "/v1/overview").json() == mix.OVERVIEW
    csv = get(url, "/v1/campaigns/KLEWER23/report.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == mix.KLEWER_CSV


def metric_values(text: str, name: str, **labels: str) -> dict[str, float]:
    """Samples of one metric whose labels include `labels`, keyed by their label text."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match[1] for k, v in labels.items()):
            found[match[1]] = float(match[2])
    return found


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_restart_mid_stream_keeps_every_figure_exact(
    store: str,
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topics = make_topics(topic_factory)
    group = group_factory("reporting")
    first, second = mix.build()

    one = worker(kafka_settings, topics, group, tmp_path, "first", store, data="store").start()
    try:
        one.wait_ready()
        ends = publish(kafka_settings, topics, first)
        assert poll(lambda: processed(one.url), lambda n: n >= len(first)) == len(first)
        metrics = get(one.url, "/metrics").text
        assert metric_values(metrics, "reporting_dead_letters_total", topic=topics.participants)
        assert sum(metric_values(metrics, "reporting_duplicates_total").values()) == 1
        # what the delivery-rate and readiness alerts read agrees with the API's figures
        assert "\nreporting_ready 1.0\n" in metrics
        figures = get(one.url, "/v1/campaigns/KLEWER23/metrics").json()["messages"]
        assert figures["sent"] > 0
        for status in ("sent", "delivered", "failed", "deferred"):
            by_channel = metric_values(
                metrics, "reporting_campaign_messages_total", campaign="KLEWER23", status=status
            )
            assert sum(by_channel.values()) == figures[status], status
        # and so do the campaign messages the notifier's frequency cap dropped
        dropped = metric_values(metrics, "reporting_campaign_suppressed_total", campaign="KLEWER23")
        assert dropped == {'campaign="KLEWER23",channel="sms",reason="frequency_cap"': 1.0}
        assert figures["suppressed_by_reason"] == {"frequency_cap": 1}
        # the first half is committed, so what the restarted worker knows of it can only
        # come from the changelogs (checked below: it reads just the second half)
        lag = caught_up(one.url, group, ends)
        assert set(lag) == lag_labels(group, ends)
        assert sum(lag.values()) == 0
    finally:
        assert one.stop() == 0

    for where, end in publish(kafka_settings, topics, second).items():
        ends[where] = max(ends.get(where, 0), end)
    again = worker(
        kafka_settings, topics, group, tmp_path, "restarted", store, data="store"
    ).start()
    try:
        again.wait_ready()
        totals = poll(lambda: overview_totals(again.url), lambda t: t == mix.OVERVIEW["totals"])
        assert totals == mix.OVERVIEW["totals"], stream_health(again.url)
        # the totals can be complete while redeliveries on other partitions, which change no
        # figure, are still on their way: count what was read once every partition is committed
        lag = caught_up(again.url, group, ends)
        assert set(lag) == lag_labels(group, ends)
        assert sum(lag.values()) == 0
        # the first half's counts came back from the changelogs, not from re-reading it
        assert processed(again.url) == len(second)
        assert_every_figure(again.url)

        # a date range narrows the totals and the series to its days
        day = get(
            again.url,
            "/v1/campaigns/KLEWER23/metrics",
            **{"from": "2023-12-17", "to": "2023-12-17"},
        ).json()
        assert day["series"] == mix.KLEWER["series"][2:]
        assert (day["enrolments"]["total"], day["messages"]["delivered"]) == (1, 2)
        assert (day["payments"]["payers"], day["opt_outs"]["total"]) == (1, 2)

        # the malformed input went to the dead-letter topic, with why, and nothing stalled
        records = read_records(kafka_settings, topics.deadletter, expect=2)
        letters = list(dead_letters([r.value for r in records]))
        distinct = {(d["partition"], d["offset"]): d for d in letters}
        assert len(distinct) == mix.DEAD_LETTERS
        reasons = sorted(d["reason"].split(":")[0] for d in distinct.values())
        assert reasons == ["not JSON", "schema-invalid"]
        assert all(d["source_topic"] == topics.participants for d in letters)
        assert any(b"oops" in d["original"] for d in letters)
        # the same context as Kafka headers, in the manner of Kafka Connect's __connect.errors.*
        for record, letter in zip(records, letters, strict=True):
            headers = {name: value.decode() for name, value in record.headers}
            assert headers["__bebas.errors.topic"] == letter["source_topic"]
            assert headers["__bebas.errors.partition"] == str(letter["partition"])
            assert headers["__bebas.errors.offset"] == str(letter["offset"])
            assert headers["__bebas.errors.reason"] == letter["reason"]
            assert headers["__bebas.errors.exception.class.name"] == letter["error_class"]
            assert letter["error_class"] == "schemas.envelope.DecodeError"
            assert headers["__bebas.errors.service.name"] == "reporting"
            assert headers["__bebas.errors.service.version"] == letter["service_version"]
            assert headers["__bebas.errors.attempts"] == "1"
            assert letter["first_attempt_at"] == letter["last_attempt_at"]

        # consumer lag per group and partition: ours drains to 0
        def our_lag() -> dict[str, float]:
            return metric_values(
                get(again.url, "/metrics").text, "kafka_consumergroup_lag", group=group
            )

        # every partition with data has a committed offset (empty ones have none)
        with_data = {f'group="{group}",partition="{p}",topic="{t}"' for t, p in ends}
        lag = poll(our_lag, lambda v: set(v) == with_data and sum(v.values()) == 0)
        assert set(lag) == with_data
        assert sum(lag.values()) == 0
        # end offsets are exact although the producer wrote multi-record batches
        end_metrics = metric_values(
            get(again.url, "/metrics").text,
            "kafka_topic_partition_end_offset",
            topic=topics.participants,
        )
        expected = {
            f'partition="{partition}",topic="{topic}"': float(end)
            for (topic, partition), end in ends.items()
            if topic == topics.participants
        }
        assert end_metrics == expected

        assert_bad_requests_get_problem_details(again.url)
    finally:
        assert again.stop() == 0


def test_two_workers_give_the_same_answers_as_one(
    kafka_settings: KafkaSettings,
    topic_factory: Callable[..., str],
    group_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topics = make_topics(topic_factory)
    group = group_factory("reporting-pair")
    first, second = mix.build()
    publish(kafka_settings, topics, first + second)
    pair = [worker(kafka_settings, topics, group, tmp_path, name).start() for name in ("a", "b")]
    try:
        for w in pair:
            w.wait_ready()
        for w in pair:
            totals = poll(
                lambda w=w: overview_totals(w.url), lambda t: t == mix.OVERVIEW["totals"], 45
            )
            assert totals == mix.OVERVIEW["totals"], stream_health(w.url)
        owned = [get(w.url, "/readyz").json()["owned"] for w in pair]
        for topic, count in (
            (topics.participants, 6),
            (topics.campaigns, 3),
            (topics.notifications, 6),
        ):
            a, b = (set(o[topic]) for o in owned)
            assert not a & b
            assert a | b == set(range(count))
        assert owned[0][topics.participants]
        assert owned[1][topics.participants]
        for w in pair:
            assert_every_figure(w.url)
        assert_each_role_reads_what_it_may(*(w.url for w in pair))

        # one worker stops: until the survivor owns and has recovered every partition it
        # answers 503 naming what is missing, never a low figure; then the full figures again
        pair[1].stop()
        survivor = pair[0].url
        seen: list[httpx.Response] = []

        def answer() -> httpx.Response:
            seen.append(get(survivor, "/v1/overview"))
            return seen[-1]

        final = poll(answer, lambda r: r.status_code == 200 and r.json() == mix.OVERVIEW, 60)
        assert final.json() == mix.OVERVIEW, stream_health(survivor)
        for response in seen:
            if response.status_code != 200:
                assert response.status_code == 503
                assert response.json()["missing_partitions"]
            else:
                assert response.json() == mix.OVERVIEW
        assert_every_figure(survivor)
    finally:
        for w in pair:
            w.stop()


def assert_each_role_reads_what_it_may(url: str, other: str) -> None:
    """Sign-in on real workers: no key, an officer of MKS, a viewer, and a session cookie
    one worker gave that the other accepts (they share REPORTING_SESSION_SECRET)."""
    unsigned = httpx.get(url + "/v1/overview", timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert httpx.get(url + "/metrics", timeout=10).status_code == 200  # Prometheus needs no key

    officer = get(url, "/v1/campaigns/KLEWER23/metrics", key=OFFICER_KEY).json()
    assert list(officer["by_branch"]) == ["MKS"]
    every_branch: Any = mix.KLEWER["by_branch"]
    assert officer["by_branch"]["MKS"] == every_branch["MKS"]
    totals = get(url, "/v1/overview", key=OFFICER_KEY).json()["totals"]
    mks: Any = mix.BRANCH_MKS["enrolments"]
    assert totals["enrolments"] == mks["total"]
    assert get(url, "/v1/branches/MKS/metrics", key=OFFICER_KEY).json() == mix.BRANCH_MKS
    assert get(url, "/v1/branches/SKA/metrics", key=OFFICER_KEY).status_code == 403
    assert get(url, "/v1/dead-letters", key=OFFICER_KEY).status_code == 403
    assert get(url, "/v1/stream-health", key=OFFICER_KEY).status_code == 403

    assert get(url, "/v1/overview", key=VIEWER_KEY).json() == mix.OVERVIEW
    listed = get(url, "/v1/dead-letters", key=VIEWER_KEY).json()
    assert listed["total"] == mix.DEAD_LETTERS
    assert sorted(r.split(":")[0] for r in listed["counts_by_reason"]) == [
        "not JSON",
        "schema-invalid",
    ]
    assert all("value_b64" not in item for item in listed["items"])  # never the raw bytes

    signed = httpx.post(url + "/v1/session", json={"key": VIEWER_KEY}, timeout=10)
    assert signed.status_code == 200
    with httpx.Client(cookies=signed.cookies, timeout=10) as browser:
        assert browser.get(other + "/v1/overview").json() == mix.OVERVIEW


def assert_bad_requests_get_problem_details(url: str) -> None:
    bad_date = get(url, "/v1/overview", **{"from": "16-12-2023"})
    assert bad_date.status_code == 422
    assert bad_date.headers["content-type"] == "application/problem+json"
    assert bad_date.json()["errors"][0]["field"] == "from"
    inverted = get(
        url, "/v1/campaigns/KLEWER23/metrics", **{"from": "2023-12-17", "to": "2023-12-01"}
    )
    assert inverted.status_code == 422
    assert "'from' is after 'to'" in inverted.json()["detail"]
    bad_code = get(url, "/v1/branches/%20oops/metrics")
    assert bad_code.status_code == 422
    assert bad_code.json()["errors"][0]["field"] == "code"
    assert get(url, "/openapi.json").json()["paths"]["/v1/overview"]
