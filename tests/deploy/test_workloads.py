"""Every container of ours in compose and Kubernetes: env vars, settings, commands, security."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.kafka_settings import KafkaSettings
from tests.deploy.manifests import (
    COMPOSE_FILES,
    K8S_OVERLAYS,
    PLACEHOLDER_SECRET,
    SERVICES,
    EnvScope,
    Workload,
    compose_workloads,
    dockerfile_stages,
    import_or_skip,
    k8s_base_documents,
    k8s_workloads,
    rendered,
    settings_env_names,
    target_env,
)

KAFKA_NAMES, KAFKA_REQUIRED = settings_env_names(KafkaSettings)
#: Set by the image's base stage for Python itself (PATH, VIRTUAL_ENV, ...), not for a service.
PYTHON_RUNTIME_ENV = set(target_env(dockerfile_stages(), "base"))

#: What a Secret would hold, shaped like the real value so that validation can run.
SECRET_SAMPLES = {
    "ENROLLMENT_DATABASE_URL": "postgresql+psycopg://bebas:secret@postgres:5432/bebas",
}


def static_workloads() -> list[Workload]:
    found = [w for path in COMPOSE_FILES for w in compose_workloads(path)]
    found += k8s_workloads(k8s_base_documents())
    return found


def all_workloads() -> list[Workload]:
    """Compose, the Kubernetes base, and every overlay rendered by kubectl kustomize."""
    found = static_workloads()
    for overlay in K8S_OVERLAYS:
        found += k8s_workloads(rendered(overlay))
    return found


def ours(workloads: list[Workload]) -> list[Workload]:
    return [w for w in workloads if w.service is not None]


STATIC = static_workloads()
SERVICE_WORKLOADS = ours(STATIC)


def test_every_service_runs_somewhere_in_compose_and_kubernetes() -> None:
    compose_services = {w.service for w in SERVICE_WORKLOADS if ".yaml:" in w.where}
    k8s_services = {w.service for w in SERVICE_WORKLOADS if ".yaml:" not in w.where}
    assert compose_services == set(SERVICES)
    assert k8s_services == set(SERVICES)


@pytest.mark.parametrize("workload", STATIC, ids=lambda w: w.where)
def test_kafka_variables_are_kafka_settings_fields(workload: Workload) -> None:
    kafka_vars = {n for n in workload.all_env_names if n.startswith("KAFKA_")}
    unknown = kafka_vars - KAFKA_NAMES
    assert not unknown, f"{workload.where} sets {sorted(unknown)}, not fields of KafkaSettings"


@pytest.mark.parametrize("workload", STATIC, ids=lambda w: w.where)
def test_kafka_settings_validate_with_the_workload_environment(workload: Workload) -> None:
    env = _env_for_validation(workload)
    if not any(n.startswith("KAFKA_") for n in env):
        assert not _uses_kafka(workload), f"{workload.where} gets no KAFKA_* settings at all"
        return
    with EnvScope(env, ("KAFKA_",)):
        settings = KafkaSettings()
    assert settings.bootstrap_servers != "127.0.0.1:9092", (
        f"{workload.where} would connect to the loopback default"
    )
    assert settings.uses_sasl, f"{workload.where}: the platform's clusters require SASL"


def _uses_kafka(workload: Workload) -> bool:
    # the services (but not their database migration) and the provisioning job; the local
    # SMS gateway sink does not
    if workload.module == "services.common.provision":
        return True
    return workload.service is not None and workload.subcommand != "migrate"


#: What the downward API would put in a pod's variables, by fieldPath.
POD_FIELD_SAMPLES = {"status.podIP": "10.42.0.17", "metadata.name": "reporting-0"}


def _env_for_validation(workload: Workload) -> dict[str, str]:
    env = dict(workload.env)
    for name in workload.secret_env:
        env[name] = SECRET_SAMPLES.get(name, PLACEHOLDER_SECRET)
    for name, path in workload.pod_env.items():
        sample = POD_FIELD_SAMPLES[path]
        env = {k: v.replace(f"$({name})", sample) for k, v in env.items()}
    return env


def _referenced_pod_env(workload: Workload) -> set[str]:
    """Downward-API variables that another variable of the container expands as $(NAME)."""
    values = " ".join(workload.env.values())
    return {n for n in workload.pod_env if f"$({n})" in values}


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda w: w.where)
def test_service_variables_exist_in_its_settings_and_required_ones_are_set(
    workload: Workload,
) -> None:
    assert workload.service is not None
    prefix, _ = SERVICES[workload.service]
    settings_module = import_or_skip(f"services.{workload.service}.settings")
    names, required = settings_env_names(settings_module.Settings)
    assert str(settings_module.Settings.model_config.get("env_prefix", "")).upper() == prefix
    own = {n for n in workload.all_env_names if n.startswith(prefix)}
    assert not own - names, f"{workload.where} sets unknown {sorted(own - names)}"
    foreign = {n for n in workload.all_env_names if not n.startswith((prefix, "KAFKA_"))} - (
        names | PYTHON_RUNTIME_ENV
    )
    assert not foreign, f"{workload.where} sets variables no settings read: {sorted(foreign)}"
    unused = set(workload.pod_env) - _referenced_pod_env(workload)
    assert not unused, f"{workload.where}: downward-API variables nothing uses: {sorted(unused)}"
    unresolved = [v for v in _env_for_validation(workload).values() if "$(" in v]
    assert not unresolved, f"{workload.where}: $(VAR) with no such variable: {unresolved}"
    unset = required - workload.all_env_names
    assert not unset, f"{workload.where} leaves required settings unset: {sorted(unset)}"
    with EnvScope(_env_for_validation(workload), (prefix, "KAFKA_")):
        try:
            settings_module.Settings()
        except ValidationError as exc:
            pytest.fail(f"{workload.where}: Settings() refuses this environment:\n{exc}")


@pytest.mark.parametrize(
    "workload", [w for w in SERVICE_WORKLOADS if w.service == "notifier"], ids=lambda w: w.where
)
def test_every_notifier_worker_can_verify_the_provider_callbacks(workload: Workload) -> None:
    """Optional in Settings, yet a worker without the callback secret refuses to start
    (`access.web_access`): every manifest must give it one."""
    from services.notifier.access import web_access
    from services.notifier.settings import Settings

    with EnvScope(_env_for_validation(workload), ("NOTIFIER_", "KAFKA_")):
        web_access(Settings())


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda w: w.where)
def test_http_port_matches_the_convention(workload: Workload) -> None:
    assert workload.service is not None
    prefix, port = SERVICES[workload.service]
    if workload.subcommand in {"relay", "migrate"}:
        return  # no HTTP server in these processes
    assert workload.env.get(f"{prefix}PORT") == str(port), workload.where
    assert workload.env.get(f"{prefix}HOST") == "0.0.0.0", (  # noqa: S104
        f"{workload.where} must listen on all interfaces inside its container"
    )


@cache
def cli_help(module: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"python -m {module} --help failed:\n{result.stderr}"
    return result.stdout


COMMANDS = sorted({(w.module, w.subcommand) for w in STATIC if w.module}, key=str)


@pytest.mark.parametrize(("module", "subcommand"), COMMANDS, ids=str)
def test_every_command_a_container_runs_exists(module: str, subcommand: str | None) -> None:
    import_or_skip(module)
    text = cli_help(module)
    if subcommand is not None:
        assert subcommand in text, f"`python -m {module} --help` does not offer {subcommand!r}"


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_rendered_overlay_workloads_keep_the_same_contract(overlay: Path) -> None:
    workloads = k8s_workloads(rendered(overlay))
    assert {w.service for w in ours(workloads)} == set(SERVICES)
    for workload in workloads:
        test_kafka_variables_are_kafka_settings_fields(workload)
        test_kafka_settings_validate_with_the_workload_environment(workload)


@pytest.mark.parametrize(
    "workload",
    [w for w in SERVICE_WORKLOADS if w.service == "enrollment" and w.subcommand == "serve"],
    ids=lambda w: w.where,
)
def test_every_enrollment_api_replica_shares_the_database_and_the_nik_key(
    workload: Workload,
) -> None:
    """Both settings are optional in the service (SQLite file and a NIK key generated in the
    data folder), which would give each replica its own database and its own NIK hashes: a
    duplicate registration would not be recognised. Deployed replicas must get both."""
    assert {"ENROLLMENT_DATABASE_URL", "ENROLLMENT_NIK_HASH_KEY"} <= workload.all_env_names
    url = _env_for_validation(workload)["ENROLLMENT_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://"), workload.where
    assert workload.env.get("ENROLLMENT_RELAY_ENABLED") == "false", (
        f"{workload.where}: the relay runs as its own process"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_image_defaults_are_accepted_by_the_service(service: str) -> None:
    """A container started from the image with no manifest around it (docker run) must start:
    every ENV default of the target is a value the service's Settings accept (the notifier's
    image once defaulted to a store the service refuses)."""
    prefix, _ = SERVICES[service]
    settings_module = import_or_skip(f"services.{service}.settings")
    image_env = target_env(dockerfile_stages(), service)
    own = {k: v for k, v in image_env.items() if k.startswith(prefix)}
    assert f"{prefix}PORT" in own, f"the {service} image sets no {prefix}* defaults"
    with EnvScope(own, (prefix,)):
        try:
            settings_module.Settings()
        except ValidationError as exc:
            pytest.fail(f"the {service} image's defaults are refused:\n{exc}")
