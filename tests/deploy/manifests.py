"""Read deploy/: compose files, Kubernetes manifests and the Dockerfile, as plain data.

Every test in this folder works on `Workload`s: one container of ours (compose service or
Kubernetes pod container) with the module it runs, its sub-command and the environment it gets.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = sorted(DEPLOY.glob("compose*.yaml"))
K8S = DEPLOY / "k8s"
K8S_BASE = K8S / "base"
K8S_OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"

#: The shared conventions of the BRIEF: env prefix and HTTP port of each service.
SERVICES = {
    "enrollment": ("ENROLLMENT_", 8000),
    "notifier": ("NOTIFIER_", 8001),
    "reporting": ("REPORTING_", 8002),
}

#: A value standing for `${VAR}` / `${VAR:?message}` / `${VAR:-default}` in compose files.
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")
PLACEHOLDER_SECRET = "test-placeholder-" + "x" * 48


def interpolate(value: str) -> str:
    """Compose interpolation with a placeholder for every secret the operator provides."""

    def one(match: re.Match[str]) -> str:
        text = match.group(0)
        default = match.group(2) if ":-" in text else None
        return default if default is not None else PLACEHOLDER_SECRET

    return _INTERPOLATION.sub(one, value)


@dataclass
class Workload:
    where: str  # file and name, for messages
    argv: list[str]  # entrypoint + command as the container runs them
    env: dict[str, str]  # literal values (secrets as placeholders)
    secret_env: set[str] = field(default_factory=set)  # names whose value comes from a Secret
    pod_env: dict[str, str] = field(default_factory=dict)  # name -> downward API fieldPath
    spec: dict[str, Any] = field(default_factory=dict)  # the raw container / service

    @property
    def module(self) -> str | None:
        if "-m" in self.argv:
            return self.argv[self.argv.index("-m") + 1]
        return None

    @property
    def service(self) -> str | None:
        """enrollment / notifier / reporting when it runs that service's own CLI."""
        if self.module and self.module.startswith("services."):
            name = self.module.split(".")[1]
            return name if self.module == f"services.{name}" and name in SERVICES else None
        return None

    @property
    def subcommand(self) -> str | None:
        if self.module is None:
            return None
        rest = self.argv[self.argv.index("-m") + 2 :]
        return rest[0] if rest and not rest[0].startswith("-") else None

    @property
    def all_env_names(self) -> set[str]:
        return set(self.env) | self.secret_env


# ---------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]

    def values(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def dockerfile_stages(path: Path = DOCKERFILE) -> dict[str, Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arg.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else parts[0]
            current = Stage(name, parts[0], [])
            stages[name] = current
        elif current is not None:
            current.instructions.append((keyword, " ".join(arg.split())))
    return stages


def stage_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and every stage it is built FROM, nearest first."""
    chain = [stages[name]]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


def effective(stages: dict[str, Stage], name: str, keyword: str) -> str | None:
    """The last value of an instruction that a target inherits (USER, ENTRYPOINT, ...)."""
    for stage in stage_chain(stages, name):
        found = stage.values(keyword)
        if found:
            return found[-1]
    return None


def target_env(stages: dict[str, Stage], name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in reversed(stage_chain(stages, name)):
        for value in stage.values("ENV"):
            for pair in re.findall(r"(\w+)=(\S+)", value):
                env[pair[0]] = pair[1]
    return env


# ---------------------------------------------------------------- compose


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def compose(path: Path) -> dict[str, Any]:
    (document,) = load_yaml_documents(path)
    assert isinstance(document, dict)
    return document


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def _compose_env(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        pairs = (item.partition("=") for item in raw)
        return {k: interpolate(v) for k, _, v in pairs}
    return {str(k): interpolate(str(v)) for k, v in raw.items()}


def compose_image_target(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if isinstance(build, dict):
        return build.get("target")
    return None


def compose_workloads(path: Path) -> list[Workload]:
    """Containers built from our Dockerfile, with the argv they run."""
    stages = dockerfile_stages()
    found = []
    for name, service in compose(path)["services"].items():
        target = compose_image_target(service)
        if target is None:
            continue
        entry = _as_list(service.get("entrypoint")) or _exec_form(
            effective(stages, target, "ENTRYPOINT")
        )
        command = _as_list(service.get("command")) or _exec_form(effective(stages, target, "CMD"))
        env = {**target_env(stages, target), **_compose_env(service.get("environment"))}
        found.append(Workload(f"{path.name}:{name}", entry + command, env, spec=service))
    return found


def _exec_form(value: str | None) -> list[str]:
    if not value:
        return []
    parsed = yaml.safe_load(value)
    assert isinstance(parsed, list), f"exec form expected, got {value!r}"
    return [str(v) for v in parsed]


# ---------------------------------------------------------------- Kubernetes


def k8s_base_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S_BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(load_yaml_documents(path))
    return docs


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def rendered(kustomization_dir: Path) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize DIR` (kustomize is built into kubectl); skips when kubectl is absent."""
    binary = kubectl()
    if binary is None:
        pytest.skip(
            "kubectl is not installed, so the Kustomize overlays cannot be rendered here; "
            "the base manifests are still checked file by file"
        )
    result = subprocess.run(
        [binary, "kustomize", str(kustomization_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def k8s_workloads(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[Workload]:
    configmaps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d.get("kind") == "ConfigMap"
    }
    stages = dockerfile_stages()
    found = []
    for doc in docs:
        if doc.get("kind") not in POD_KINDS:
            continue
        for container in pod_spec(doc)["containers"]:
            target = container["image"].rsplit("/", 1)[-1].split(":")[0]
            if target not in stages:
                continue  # not one of our images
            entry = container.get("command") or _exec_form(effective(stages, target, "ENTRYPOINT"))
            command = container.get("args") or _exec_form(effective(stages, target, "CMD"))
            env = dict(target_env(stages, target))
            for source in container.get("envFrom", []):
                name = source["configMapRef"]["name"]
                assert name in configmaps, f"{doc['metadata']['name']}: no ConfigMap {name}"
                env.update({k: str(v) for k, v in configmaps[name].items()})
            secret_env = set()
            pod_env = {}
            for item in container.get("env", []):
                source = item.get("valueFrom", {})
                if "value" in item:
                    env[item["name"]] = str(item["value"])
                elif "secretKeyRef" in source:
                    secret_env.add(item["name"])
                    env.pop(item["name"], None)
                elif "fieldRef" in source:
                    pod_env[item["name"]] = source["fieldRef"]["fieldPath"]
                else:
                    raise AssertionError(f"{doc['metadata']['name']}: unread env source {item}")
            where = f"{doc['kind']}/{doc['metadata']['name']}:{container['name']}"
            found.append(
                Workload(where, [*entry, *command], env, secret_env, pod_env, spec=container)
            )
    return found


# ---------------------------------------------------------------- the services' own code


def import_or_skip(module: str) -> Any:
    """Import a service module; skip ONLY when that service's package is not on this branch."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        package = ".".join(module.split(".")[:2])
        if exc.name in {package, module}:
            pytest.skip(f"{module} is not on this branch yet (missing module: {exc.name})")
        raise


def settings_env_names(settings_cls: Any) -> tuple[set[str], set[str]]:
    """(every env name a pydantic-settings class reads, the names of its required fields)."""
    prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    required: set[str] = set()
    for field_name, info in settings_cls.model_fields.items():
        aliases = [a for a in (info.validation_alias, info.alias) if isinstance(a, str)]
        env_names = {a.upper() for a in aliases} or {f"{prefix}{field_name.upper()}"}
        names |= env_names
        if info.is_required():
            required |= env_names
    return names, required


@dataclass
class EnvScope:
    """Set exactly one workload's environment for a Settings() call, then restore."""

    env: dict[str, str]
    prefixes: tuple[str, ...]
    _saved: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> EnvScope:
        self._saved = dict(os.environ)
        for key in list(os.environ):
            if key.startswith(self.prefixes):
                del os.environ[key]
        os.environ.update(self.env)
        return self

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self._saved)
