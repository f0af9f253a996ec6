"""The alert rules (deploy/prometheus/alerts.yaml): promtool unit tests, wiring, runbooks, and
that every metric a rule reads is one a service really exports (or one asked of the notifier)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.manifests import (
    COMPOSE_FILES,
    DEPLOY,
    K8S_OVERLAYS,
    ROOT,
    compose,
    load_yaml_documents,
    rendered,
)

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "alerts.yaml"
RULE_TESTS = PROMETHEUS / "tests"
GUIDE = ROOT / "docs" / "operations.md"

#: Notifier metrics made for these rules (docs/operations.md §10 describes them, with these
#: labels); `service_metrics` must find them exported like every other.
NOTIFIER_FOR_RULES = {
    "notifier_provider_requests_total": {"channel", "provider", "result"},
    "notifier_quiet_hours_overdue_seconds": {"channel"},
}
#: Series that come from outside the services: Prometheus itself and kafka-exporter (compose).
EXTERNAL = {
    "up": set[str](),
    "kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
}
#: Labels every scraped series gets from Prometheus, not from the service.
TARGET_LABELS = {"job", "instance"}


def rule_groups() -> list[dict[str, Any]]:
    (document,) = load_yaml_documents(RULES)
    groups: list[dict[str, Any]] = document["groups"]
    return groups


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


def recorded() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run `make prometheus` (apt-get install prometheus)"
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


# ---------------------------------------------------------------- promtool


def test_the_issue_asks_for_these_alerts_at_least() -> None:
    assert {
        "ConsumerLagGrowing",
        "DeadLettersWritten",
        "EnrollmentOutboxStalled",
        "WorkerNotReady",
        "ProviderErrorRateHigh",
        "CampaignDeliveryRateLow",
        "QuietHoursBacklogStuck",
    } <= set(alerts())


def test_rules_and_the_scrape_configuration_pass_promtool_check() -> None:
    rules = promtool("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # the config names alerts.yaml relative to itself: checking it loads the rules from there
    config = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout


@pytest.mark.parametrize("alert", sorted(alerts()))
def test_promtool_unit_tests_fire_the_alert_and_keep_it_quiet(alert: str) -> None:
    path = RULE_TESTS / f"{alert}.yaml"
    assert path.exists(), f"{alert} has no promtool test file {path.relative_to(ROOT)}"
    (suite,) = load_yaml_documents(path)
    assert suite["rule_files"] == ["../alerts.yaml"]
    checks = [c for test in suite["tests"] for c in test.get("alert_rule_test", [])]
    assert {c["alertname"] for c in checks} == {alert}, "one file per alert"
    assert any(c["exp_alerts"] for c in checks), f"no test where {alert} fires"
    assert any(not c["exp_alerts"] for c in checks), f"no test where {alert} stays quiet"
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_promtool_test_file_belongs_to_an_alert() -> None:
    assert {p.stem for p in RULE_TESTS.glob("*.yaml")} <= set(alerts())


# ---------------------------------------------------------------- runbooks


def github_anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("alert", sorted(alerts()))
def test_each_alert_links_a_runbook_that_says_what_to_do(alert: str) -> None:
    rule = alerts()[alert]
    url = rule["annotations"]["runbook_url"]
    assert url == f"docs/operations.md#{alert.lower()}"
    guide = GUIDE.read_text()
    assert alert.lower() in github_anchors(guide)
    section = guide.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
    for part in ("**Means:**", "**Look first:**", "**Fix:**", "**Replay:**"):
        assert part in section, f"the runbook of {alert} lacks {part}"
    assert {"summary", "description"} <= set(rule["annotations"])
    assert rule["labels"]["severity"] in {"page", "ticket"}


# ---------------------------------------------------------------- where the rules are loaded


def test_compose_prometheus_mounts_the_rules_where_its_config_looks() -> None:
    (config,) = load_yaml_documents(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yaml"]
    for path in COMPOSE_FILES:
        service = compose(path)["services"]["prometheus"]
        mounts = {m.split(":")[0]: m.split(":")[1] for m in service["volumes"]}
        assert mounts["./prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
        assert mounts["./prometheus/alerts.yaml"] == "/etc/prometheus/alerts.yaml"


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_kubernetes_overlay_ships_the_rules_as_a_configmap(overlay: Path) -> None:
    (configmap,) = [
        d
        for d in rendered(overlay)
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "bebas-prometheus-rules"
    ]
    assert configmap["data"]["alerts.yaml"] == RULES.read_text()
    assert configmap["metadata"]["namespace"] == "bebas-cemas"


# ---------------------------------------------------------------- the metrics behind the rules


def exported(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Sample names on a registry's /metrics text, with their label names."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def with_a_child_each(metrics: object) -> None:
    """A labelled metric shows nothing until it has a child: make one per metric, so its name
    and label names appear (the label names are the metric's own, not guessed here)."""
    for metric in vars(metrics).values():
        names = getattr(metric, "_labelnames", ())
        if isinstance(metric, MetricWrapperBase) and names:
            metric.labels(*["x"] * len(names))


def service_metrics() -> dict[str, set[str]]:
    """What enrollment, the notifier and reporting export today, from their own objects."""
    # importing them registers enrollment's metrics (API and relay) on the default registry
    import services.enrollment.adapters.relay
    import services.enrollment.api.app  # noqa: F401
    from services.notifier.metrics import Metrics
    from services.reporting.lag import LagCollector, LagSnapshot, PartitionLag
    from services.reporting.telemetry import Telemetry

    found = exported(REGISTRY)

    notifier = Metrics()
    with_a_child_each(notifier)
    found.update(exported(notifier.registry))

    telemetry = Telemetry()
    telemetry.source("bebas.participants")
    telemetry.watch_readiness(lambda: True)
    telemetry.campaign_messages.labels("KLEWER23", "sms", "sent")
    lag = LagSnapshot([PartitionLag("bebas-notifier", "bebas.participants", 0, 1, 2)], time.time())
    telemetry.registry.register(LagCollector(lag))
    found.update(exported(telemetry.registry))
    return found


def metrics_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (recorded names included)."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = re.findall(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\(?)", text)
    keywords = {"and", "or", "unless", "bool", "offset"}
    return {w for w, call in words if not call and w not in keywords}


def test_metrics_in_expr_finds_names_and_skips_functions_labels_and_keywords() -> None:
    expr = 'sum by (job, topic) (increase(a_total{x="y_z"}[15m])) > 0 or b_seconds offset 5m'
    assert metrics_in(expr) == {"a_total", "b_seconds"}


def test_rules_read_only_metrics_the_services_export() -> None:
    known = service_metrics()
    for name, labels in EXTERNAL.items():
        known[name] = known.get(name, set()) | labels
    exprs = [r["expr"] for g in rule_groups() for r in g["rules"]]
    used = set().union(*(metrics_in(e) for e in exprs))
    assert used - recorded() - set(known) == set()

    # and the promtool tests feed the rules series with the labels the services really set
    for path in RULE_TESTS.glob("*.yaml"):
        (suite,) = load_yaml_documents(path)
        for test in suite["tests"]:
            for series in test["input_series"]:
                match = re.fullmatch(r"([a-z_:]+)\{(.*)\}", series["series"])
                assert match, series["series"]
                name, labels = match[1], set(re.findall(r'(\w+)="', match[2]))
                assert name in known, f"{path.name}: {name} is exported by nothing"
                assert labels - TARGET_LABELS <= known[name], f"{path.name}: {series['series']}"


def test_the_notifier_exports_and_the_guide_describes_the_metrics_made_for_the_rules() -> None:
    exported_now = service_metrics()
    guide = GUIDE.read_text()
    for name, labels in NOTIFIER_FOR_RULES.items():
        sample = name if name in exported_now else f"{name}_total"
        assert labels <= exported_now.get(sample, set()) | exported_now.get(name, set()), name
        (row,) = [line for line in guide.splitlines() if line.startswith(f"| `{name}` |")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert set(re.findall(r"`(\w+)`", cells[2])) == labels, row
