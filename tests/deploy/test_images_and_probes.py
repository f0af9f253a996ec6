"""Images run as non-root with a HEALTHCHECK; probes and scrapes point at the services' routes."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from services.platform import LaunchContext
from tests.deploy import k8s_schema
from tests.deploy.manifests import (
    COMPOSE_FILES,
    DEPLOY,
    DOCKERFILE,
    K8S_BASE,
    K8S_OVERLAYS,
    POD_KINDS,
    ROOT,
    SERVICES,
    compose,
    compose_workloads,
    dockerfile_stages,
    effective,
    import_or_skip,
    k8s_base_documents,
    load_yaml_documents,
    pod_spec,
    rendered,
    stage_chain,
    target_env,
)

STAGES = dockerfile_stages()
ALL_YAML = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


# ---------------------------------------------------------------- lint


def _tool(name: str) -> str:
    """A linter installed by `make install` (requirements.lock) next to this Python."""
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} is missing: it is in requirements.lock, run `make install`"
    return found


def test_hadolint_accepts_the_dockerfile() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_accepts_every_yaml_file_under_deploy() -> None:
    assert len(ALL_YAML) >= 10
    result = subprocess.run(
        [_tool("yamllint"), "--strict", "-c", str(ROOT / ".yamllint.yaml"), str(DEPLOY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses_to_documents(path: Path) -> None:
    documents = load_yaml_documents(path)
    assert documents, f"{path} holds no document"
    assert all(isinstance(d, dict) for d in documents)


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_overlay_renders_with_kustomize(overlay: Path) -> None:
    docs = rendered(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Job", "ConfigMap", "PodDisruptionBudget"} <= kinds
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert len(namespaces) == 1, namespaces
    assert None not in namespaces


def test_base_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_yaml_documents(K8S_BASE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


# ---------------------------------------------------------------- Dockerfile


def test_one_shared_base_stage_and_a_target_per_service() -> None:
    assert set(SERVICES) <= set(STAGES)
    for service in SERVICES:
        chain = [s.name for s in stage_chain(STAGES, service)]
        assert chain[-1] == "base", chain
        assert "runtime" in chain
    assert STAGES["base"].base.startswith("${PYTHON_IMAGE}")
    assert "python:3.11-slim" in DOCKERFILE.read_text()


def test_runtime_copies_only_the_built_virtualenv() -> None:
    copies = STAGES["runtime"].values("COPY")
    assert any(c.startswith("--from=build /opt/venv") for c in copies)
    assert not STAGES["runtime"].values("RUN apt-get")


def test_images_install_the_locked_runtime_dependencies() -> None:
    build = " ".join(STAGES["build"].values("RUN"))
    assert "--constraint requirements.lock" in build
    runtime, marker, dev = (ROOT / "requirements.in").read_text().partition("# Dev")
    assert marker, "requirements.in lost its '# Dev' marker that splits runtime from dev"
    for package in ("faust-streaming", "fastapi", "kafka-python", "psycopg", "rocksdict"):
        assert package in runtime
    for tool in ("pytest", "mypy", "ruff", "playwright"):
        assert tool not in runtime
        assert tool in dev


@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_as_non_root(service: str) -> None:
    user = effective(STAGES, service, "USER")
    assert user is not None, f"{service} image has no USER"
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER {user}: numeric, so Kubernetes can verify runAsNonRoot"
    assert int(uid) != 0, f"USER {user} is root"
    assert f"--uid {uid}" in " ".join(STAGES["base"].values("RUN"))


@pytest.mark.parametrize("service", SERVICES)
def test_image_healthcheck_and_entrypoint(service: str) -> None:
    prefix, port = SERVICES[service]
    (healthcheck,) = STAGES[service].values("HEALTHCHECK")
    assert f'"{prefix}PORT", "{port}"' in healthcheck
    assert effective(STAGES, service, "ENTRYPOINT") == f'["python", "-m", "services.{service}"]'
    assert STAGES[service].values("EXPOSE") == [str(port)]
    assert target_env(STAGES, service)[f"{prefix}PORT"] == str(port)


def test_healthcheck_script_succeeds_and_fails_for_real() -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = str(DEPLOY / "docker" / "healthcheck.py")
    port = str(server.server_address[1])
    try:

        def run(*args: str) -> int:
            env = {"TEST_PORT": port}
            return subprocess.run(
                [sys.executable, script, *args], env=env, capture_output=True, timeout=30
            ).returncode

        assert run("TEST_PORT", "1") == 0
        assert run("TEST_PORT", "1", "/readyz") == 1
    finally:
        server.shutdown()
    assert run("TEST_PORT", "1") == 1  # nothing listens any more


def test_dockerignore_lets_through_everything_the_dockerfile_copies() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    allowed = [r[1:].rstrip("/") for r in rules if r.startswith("!")]
    assert rules[0] == "*", "everything is excluded first, then allowed one by one"
    for stage in STAGES.values():
        for instruction in stage.values("COPY"):
            if instruction.startswith("--from"):
                continue
            for source in instruction.split()[:-1]:
                assert any(source.rstrip("/") == a for a in allowed), (
                    f"COPY {source} is excluded by .dockerignore"
                )
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


# ---------------------------------------------------------------- Kubernetes pods


def base_pods() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", pod_spec(d))
        for d in k8s_base_documents()
        if d["kind"] in POD_KINDS
    ]


@pytest.mark.parametrize(("where", "pod"), base_pods(), ids=[w for w, _ in base_pods()])
def test_pods_run_as_non_root_with_least_privilege(where: str, pod: dict[str, Any]) -> None:
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True, where
    assert security["runAsUser"] != 0, where
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False, where
        assert ctx["capabilities"]["drop"] == ["ALL"], where
        assert ctx["readOnlyRootFilesystem"] is True, where
        res = container["resources"]
        assert {"cpu", "memory"} <= set(res["requests"]), where
        assert {"cpu", "memory"} <= set(res["limits"]), where


def service_containers() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    found = []
    for doc in k8s_base_documents():
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        for container in pod_spec(doc)["containers"]:
            service = container["image"].rsplit("/", 1)[-1]
            if service in SERVICES and "ports" in container:
                found.append((doc["metadata"]["name"], service, doc, container))
    return found


SERVED = service_containers()


def test_every_service_has_an_http_workload_in_kubernetes() -> None:
    assert {s for _, s, _, _ in SERVED} == set(SERVICES)


@pytest.mark.parametrize(
    ("name", "service", "doc", "container"), SERVED, ids=[n for n, *_ in SERVED]
)
def test_probes_use_the_health_routes_on_the_service_port(
    name: str, service: str, doc: dict[str, Any], container: dict[str, Any]
) -> None:
    _, port = SERVICES[service]
    (declared,) = container["ports"]
    assert declared == {"name": "http", "containerPort": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def _enrollment_app(tmp: Path) -> Any:
    """The FastAPI app exactly as `python -m services.enrollment serve` builds it
    (cli._serve: Settings → bootstrap → create_app), minus the two steps that would open a
    connection: migrations, the relay and the requests reader. SQLAlchemy engines connect
    lazily."""
    from services.enrollment.api.app import create_app
    from services.enrollment.bootstrap import bootstrap
    from services.enrollment.settings import Settings

    settings = Settings(
        data_dir=tmp,
        database_url="postgresql+psycopg://bebas:unused@db.invalid:5432/bebas",
        nik_hash_key="route-table-test-key",  # type: ignore[arg-type]
    )
    return create_app(bootstrap(settings, run_migrations=False, relay=False, requests=False))


def _notifier_app(tmp: Path) -> Any:
    """The aiohttp app the notifier worker serves: bootstrap.create_app builds the faust app,
    tables, service, readiness and metrics (no connection until the worker starts); build_web is
    what its HTTP task serves, from that same Notifier (no local sinks, as in production)."""
    from services.common.kafka_settings import KafkaSettings
    from services.notifier.bootstrap import create_app
    from services.notifier.settings import Settings
    from services.notifier.web import build_web

    # a worker without the callback secret refuses to start (as the manifests' Secret gives)
    settings = Settings(data_dir=tmp, sms_callback_secret="route-table-test-secret")
    notifier = create_app(settings, KafkaSettings())
    return build_web(notifier, None)


def _reporting_app(tmp: Path) -> Any:
    """The FastAPI app of `python -m services.reporting worker` (__main__.bootstrap), with the
    partition counts the catalogue gives instead of asking the broker for them."""
    from schemas.topics import CATALOGUE
    from services.common.kafka_settings import KafkaSettings
    from services.reporting.api import Services, create_api
    from services.reporting.lag import LagSnapshot
    from services.reporting.settings import Settings
    from services.reporting.worker import ReportingWorker

    settings = Settings(data_dir=tmp, store="memory://")
    partitions = {t.name: t.partitions for t in CATALOGUE if t.name in settings.source_topics}
    worker = ReportingWorker(settings, KafkaSettings(), partitions)
    services = Services(worker, LagSnapshot(), worker.telemetry.registry, settings.url)
    return create_api(services)


APP_BUILDERS = {
    "enrollment": _enrollment_app,
    "notifier": _notifier_app,
    "reporting": _reporting_app,
}


def service_routes(service: str, tmp: Path) -> set[str]:
    """GET paths of the HTTP app the service really serves (its route table, not its source)."""
    import_or_skip(f"services.{service}")
    app = APP_BUILDERS[service](tmp)
    if isinstance(app, Starlette):
        return {
            r.path
            for r in app.routes
            if isinstance(getattr(r, "path", None), str)
            and "GET" in (getattr(r, "methods", None) or ())
        }
    return {  # aiohttp
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    }


@pytest.mark.parametrize("service", SERVICES)
def test_health_routes_exist_in_the_service(service: str, tmp_path: Path) -> None:
    routes = service_routes(service, tmp_path)
    wanted = {"/healthz", "/readyz", "/metrics"}
    assert wanted <= routes, f"services.{service} serves {sorted(routes)}"


@pytest.mark.parametrize("service", SERVICES)
def test_make_run_readiness_url_is_the_probed_route(service: str, tmp_path: Path) -> None:
    launch = import_or_skip(f"services.{service}.launch")
    ports = {"broker": 1, "enrollment": 8000, "notifier": 8001, "reporting": 8002}
    ports |= {"sms_gateway": 8025, "smtp": 2525}
    ctx = LaunchContext(bootstrap_servers="127.0.0.1:1", data_dir=tmp_path, ports=ports)
    specs = launch.processes(ctx)
    ready = [
        s.ready_url for s in specs if s.ready_url and f":{SERVICES[service][1]}/" in s.ready_url
    ]
    assert ready, f"no process of services.{service}.launch is ready-checked on its own port"
    assert all(url.endswith("/readyz") for url in ready), ready
    argv = [" ".join(s.argv) for s in specs]
    expected = {"enrollment": "serve", "notifier": "worker", "reporting": "worker"}[service]
    assert any(f"services.{service} {expected}" in a for a in argv), argv


# ---------------------------------------------------------------- compose and Prometheus


def test_compose_publishes_no_privileged_or_root_container() -> None:
    for path in COMPOSE_FILES:
        for name, service in compose(path)["services"].items():
            assert not service.get("privileged"), name
            assert str(service.get("user", "")).split(":")[0] not in {"0", "root"}, name


def test_prometheus_scrapes_every_service_metrics_route() -> None:
    (config,) = load_yaml_documents(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose(COMPOSE_FILES[0])["services"]
    for service, (_, port) in SERVICES.items():
        job = jobs[service]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [service]
        assert sd["port"] == port
        assert sd["type"] == "A"
        # the DNS name must resolve to every container serving that service's HTTP
        serving = [
            w.where.split(":")[1]
            for w in compose_workloads(COMPOSE_FILES[0])
            if w.service == service and w.subcommand in {"serve", "worker"}
        ]
        assert serving, f"compose runs no {service} HTTP process"
        for name in serving:
            networks = services[name].get("networks") or {}
            aliases = (networks.get("default") or {}).get("aliases", [])
            assert service in {name, *aliases}, f"{name} is not found as {service!r}"
    assert "kafka-exporter" in jobs
    assert "kafka-exporter" in services


def test_grafana_dashboard_queries_our_consumer_groups_and_topics() -> None:
    import json

    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "bebas-cemas.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert "kafka_consumergroup_lag" in exprs
    assert 'consumergroup=~"bebas-.*"' in exprs
    assert any("8002" in link["url"] for link in dashboard["links"])


# ---------------------------------------------------------------- Kubernetes schema


def _schema_targets() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S_BASE.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_documents(path):
            found.append((f"base/{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    for overlay in K8S_OVERLAYS:
        for path in ("namespace.yaml", "ingress.yaml", "hpa.yaml"):
            if (overlay / path).exists():
                for doc in load_yaml_documents(overlay / path):
                    found.append((f"{overlay.name}/{path}:{doc['kind']}", doc))
    return found


@pytest.mark.parametrize(("where", "doc"), _schema_targets(), ids=[w for w, _ in _schema_targets()])
def test_manifest_matches_the_kubernetes_api_schema(where: str, doc: dict[str, Any]) -> None:
    errors = k8s_schema.validate(doc)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_rendered_overlay_matches_the_kubernetes_api_schema(overlay: Path) -> None:
    errors = [e for doc in rendered(overlay) for e in k8s_schema.validate(doc)]
    assert not errors, "\n".join(errors)


def test_schema_check_catches_misspelt_fields_wrong_types_and_missing_fields() -> None:
    (deployment,) = [
        d
        for d in k8s_base_documents()
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "enrollment"
    ]
    broken = copy.deepcopy(deployment)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    container["ports"][0]["containerPort"] = "8000"
    del broken["spec"]["selector"]
    errors = "\n".join(k8s_schema.validate(broken))
    assert "readinesProbe: unknown field of V1Container" in errors
    assert "containerPort: expected int, got str" in errors
    assert "required field 'selector' missing" in errors
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {"A": 1},
    }
    assert k8s_schema.validate(configmap) == ["ConfigMap.data.A: expected str, got int 1"]


@pytest.mark.parametrize(
    ("name", "service", "doc", "container"),
    [s for s in SERVED if s[1] in {"notifier", "reporting"}],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_faust_workers_get_time_to_recover_before_liveness_counts(
    name: str, service: str, doc: dict[str, Any], container: dict[str, Any]
) -> None:
    """faust's App.on_started waits for table recovery before it starts app tasks (the
    notifier's aiohttp server) and before `faust_app_running` returns (reporting's uvicorn
    lifespan): /healthz is unreachable while changelogs are replayed. A five-minute startup
    window would kill a worker that is recovering a national-scale table, over and over."""
    probe = container["startupProbe"]
    window = probe["periodSeconds"] * probe["failureThreshold"]
    assert window >= 30 * 60, f"{name}: {window} s to recover its tables"


REPORTING_PUBLIC = {
    ("/", "Exact"),
    ("/static", "Prefix"),
    ("/v1", "Prefix"),
    ("/docs", "Exact"),
    ("/openapi.json", "Exact"),
}


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_ingress_routes_exist_and_notifier_exposes_only_provider_callbacks(
    overlay: Path, tmp_path: Path
) -> None:
    """Every path an Ingress publishes is a route of the service behind it; the notifier's
    signed provider callbacks (each also restricted to source ranges) and its one-click
    unsubscribe (public, on a host of its own) are the only notifier paths."""
    by_service = {service: service for service in SERVICES}
    for ingress in (d for d in rendered(overlay) if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = by_service[path["backend"]["service"]["name"]]
                if service == "reporting":
                    # the dashboard and its signed-in API only: never /metrics or the workers'
                    # unauthenticated /internal/v1/partial (a Prefix "/" would publish both)
                    assert (path["path"], path["pathType"]) in REPORTING_PUBLIC, path
                    continue
                if service != "notifier":
                    assert path["path"] == "/", path
                    continue
                assert path["pathType"] == "Exact"
                assert path["path"] in {"/receipts", "/inbound-sms", "/unsubscribe"}, path
                assert _notifier_post_routes(tmp_path) >= {
                    "/receipts",
                    "/inbound-sms",
                    "/unsubscribe",
                }
                annotations = ingress["metadata"].get("annotations", {})
                if path["path"] == "/unsubscribe":
                    # people's mail programs post here from anywhere: the signed, expiring token
                    # decides, and the callbacks' Ingress (source ranges) must not carry it
                    assert {p["path"] for p in rule["http"]["paths"]} == {"/unsubscribe"}
                    continue
                assert annotations.get("nginx.ingress.kubernetes.io/whitelist-source-range")


def _notifier_post_routes(tmp: Path) -> set[str]:
    app = _notifier_app(tmp)
    return {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "POST" and r.resource is not None
    }
