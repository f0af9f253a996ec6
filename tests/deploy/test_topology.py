"""The cluster, the provisioning job, scaling and secrets agree with the code's catalogue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.topics import CATALOGUE
from services.common import provision
from tests.deploy.manifests import (
    COMPOSE_FILES,
    DEPLOY,
    K8S_OVERLAYS,
    POD_KINDS,
    compose,
    compose_workloads,
    dockerfile_stages,
    k8s_base_documents,
    k8s_workloads,
    load_yaml_documents,
    pod_spec,
    rendered,
    target_env,
)

COMPOSE = compose(COMPOSE_FILES[0])
SERVICES_IN_COMPOSE: dict[str, Any] = COMPOSE["services"]
BROKERS = {n: s for n, s in SERVICES_IN_COMPOSE.items() if "apache/kafka" in str(s.get("image"))}


def broker_env(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in BROKERS[name]["environment"].items()}


def test_three_kraft_brokers_of_the_official_image() -> None:
    assert len(BROKERS) == 3
    node_ids = set()
    for name, service in BROKERS.items():
        assert service["image"] == "apache/kafka:3.9.1"
        env = broker_env(name)
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1].split(":")[0] for v in voters) == sorted(BROKERS)
        assert f"{name}:" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert service["volumes"], f"{name} keeps its log on a volume"
        node_ids.add(env["KAFKA_NODE_ID"])
    assert len(node_ids) == 3
    assert len({broker_env(n)["CLUSTER_ID"] for n in BROKERS}) == 1


def test_clients_reach_every_broker_on_its_sasl_listener() -> None:
    for workload in compose_workloads(COMPOSE_FILES[0]):
        servers = workload.env.get("KAFKA_BOOTSTRAP_SERVERS")
        if servers is None:
            continue
        hosts = {s.split(":")[0] for s in servers.split(",")}
        assert hosts == set(BROKERS), workload.where
        for name in BROKERS:
            protocols = dict(
                pair.split(":")
                for pair in broker_env(name)["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
            )
            port = servers.split(",")[0].split(":")[1]
            listener = next(
                entry.split("://")[0]
                for entry in broker_env(name)["KAFKA_LISTENERS"].split(",")
                if entry.endswith(f":{port}")
            )
            assert protocols[listener] == workload.env["KAFKA_SECURITY_PROTOCOL"]
            assert workload.env["KAFKA_SASL_MECHANISM"] in broker_env(name)[
                "KAFKA_SASL_ENABLED_MECHANISMS"
            ].split(",")


def provisioning_jobs() -> list[tuple[str, list[str]]]:
    jobs = [
        (w.where, w.argv)
        for path in COMPOSE_FILES
        for w in compose_workloads(path)
        if w.module == "services.common.provision"
    ]
    jobs += [
        (w.where, w.argv)
        for w in k8s_workloads(k8s_base_documents())
        if w.module == "services.common.provision"
    ]
    return jobs


JOBS = provisioning_jobs()


def test_there_is_a_provisioning_job_in_compose_and_kubernetes() -> None:
    assert any(".yaml:" in where for where, _ in JOBS)
    assert any(where.startswith("Job/") for where, _ in JOBS)


@pytest.mark.parametrize(("where", "argv"), JOBS, ids=[w for w, _ in JOBS])
def test_provisioning_job_creates_the_catalogue_with_production_settings(
    where: str, argv: list[str]
) -> None:
    args = provision.parser().parse_args(argv[argv.index("services.common.provision") + 1 :])
    planned = provision.plan(CATALOGUE, args.replication_factor, dict(args.config))
    assert {p.name for p in planned} == {t.name for t in CATALOGUE}
    by_name = {t.name: t for t in CATALOGUE}
    for p in planned:
        topic = by_name[p.name]
        assert p.partitions == topic.partitions
        assert p.replication_factor == 3, f"{where}: three replicas"
        assert p.config["retention.ms"] == str(topic.retention_ms)
        assert p.config["cleanup.policy"] == ("compact" if topic.compact else "delete")
        assert int(p.config["min.insync.replicas"]) == 2
        assert int(p.config["min.insync.replicas"]) < p.replication_factor, (
            "acks=all must survive one broker down"
        )


def test_provisioning_replication_matches_the_compose_cluster() -> None:
    (_, argv), *_ = (j for j in JOBS if ".yaml:" in j[0])
    args = provision.parser().parse_args(argv[argv.index("services.common.provision") + 1 :])
    assert args.replication_factor <= len(BROKERS)
    assert (
        dict(args.config)["min.insync.replicas"]
        == broker_env(next(iter(BROKERS)))["KAFKA_MIN_INSYNC_REPLICAS"]
    )


def test_services_start_only_after_the_topics_exist() -> None:
    workloads = compose_workloads(COMPOSE_FILES[0])
    provisioner = next(
        w.where.split(":")[1] for w in workloads if w.module == "services.common.provision"
    )
    waiting = [
        w.where.split(":")[1]
        for w in workloads
        if w.service is not None and w.subcommand != "migrate"
    ]
    assert {"enrollment", "enrollment-relay"} | set(compose_workers("notifier")) <= set(waiting)
    assert len(compose_workers("notifier")) >= 2
    for name in waiting:
        depends = SERVICES_IN_COMPOSE[name]["depends_on"]
        assert depends[provisioner] == {"condition": "service_completed_successfully"}, name


def partitions_consumed_by(service: str) -> int:
    """The most partitions among the topics a worker group consumes: each extra member idles."""
    return max(t.partitions for t in CATALOGUE if service in t.consumers)


def compose_workers(service: str) -> list[str]:
    """Compose services that run `python -m services.<service> worker`."""
    return [
        w.where.split(":")[1]
        for w in compose_workloads(COMPOSE_FILES[0])
        if w.service == service and w.subcommand == "worker"
    ]


def compose_replicas(service: str) -> int:
    """How many containers of a faust worker compose starts (services × their replicas)."""
    return sum(
        int(SERVICES_IN_COMPOSE[name].get("deploy", {}).get("replicas", 1))
        for name in compose_workers(service)
    )


FAUST_WORKERS = ("notifier", "reporting")


def k8s_worker_sets(docs: Any) -> dict[str, dict[str, Any]]:
    """The Deployment or StatefulSet running each faust worker, by service."""
    by_where = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}
    return {
        str(w.service): by_where[w.where.split(":")[0]]
        for w in k8s_workloads(docs)
        if w.service in FAUST_WORKERS and w.subcommand == "worker"
    }


def replica_counts() -> list[tuple[str, str, int]]:
    """(where, service, replicas) for every faust worker deployment we ship."""
    found = [(f"compose:{name}", name, compose_replicas(name)) for name in FAUST_WORKERS]
    for service, doc in k8s_worker_sets(k8s_base_documents()).items():
        found.append((f"base:{doc['metadata']['name']}", service, doc["spec"]["replicas"]))
    return found


@pytest.mark.parametrize(("where", "service", "replicas"), replica_counts(), ids=lambda x: str(x))
def test_workers_never_outnumber_partitions(where: str, service: str, replicas: int) -> None:
    assert replicas <= partitions_consumed_by(service), (
        f"{where}: {replicas} workers but only {partitions_consumed_by(service)} partitions"
    )


def _docs(overlay: Path | None) -> list[dict[str, Any]]:
    return k8s_base_documents() if overlay is None else list(rendered(overlay))


def _k8s_workers(overlay: Path | None, service: str) -> int:
    return int(k8s_worker_sets(_docs(overlay))[service]["spec"]["replicas"])


def test_two_notifier_and_two_reporting_workers_locally_and_in_the_base() -> None:
    """Issue 7: two workers of each faust service. The notifier keys all its state by
    participant id, co-partitioned with bebas.participants and written only by the partition's
    owner, so its workers share the partitions as reporting's do (services/notifier/README.md)."""
    assert compose_replicas("notifier") == len(compose_workers("notifier")) == 2
    assert compose_replicas("reporting") == 2
    assert _k8s_workers(None, "notifier") == 2
    assert _k8s_workers(None, "reporting") == 2


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_production_runs_one_notifier_worker_per_partition(overlay: Path) -> None:
    """Sending is the platform's bottleneck (docs/operations.md §8), so production runs as many
    notifier workers as there are partitions to share, one each; more would stand idle."""
    assert _k8s_workers(overlay, "notifier") == partitions_consumed_by("notifier")
    assert _k8s_workers(overlay, "notifier") > _k8s_workers(None, "notifier")


@pytest.mark.parametrize("overlay", [None, *K8S_OVERLAYS], ids=lambda p: p.name if p else "base")
def test_notifier_workers_split_the_partitions_evenly(overlay: Path | None) -> None:
    """A broadcast is fanned out per partition, so it ends when the worker with the most
    partitions is done: a worker count that does not divide the partitions (4 workers on 6
    partitions: 2+2+1+1) sends no faster than the next lower divisor (3)."""
    partitions = partitions_consumed_by("notifier")
    counts = [_k8s_workers(overlay, "notifier")]
    if overlay is None:
        counts.append(compose_replicas("notifier"))
    for workers in counts:
        assert 2 <= workers <= partitions
        assert partitions % workers == 0, f"{workers} workers on {partitions} partitions"


@pytest.mark.parametrize("overlay", [None, *K8S_OVERLAYS], ids=lambda p: p.name if p else "base")
def test_notifier_workers_roll_one_at_a_time_and_drains_go_through(overlay: Path | None) -> None:
    """No standby replicas: the partitions of a worker that stops are rebuilt by the others from
    their changelogs. So one worker down at a time (rolling update and disruption budget), never
    all of them, yet a node drain is never blocked; and a stopping worker gets the time to finish
    its sends and hand its partitions over."""
    docs = _docs(overlay)
    notifier = k8s_worker_sets(docs)["notifier"]
    spec = notifier["spec"]
    assert notifier["kind"] == "StatefulSet", "a volume and a stable name per pod"
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    assert int(spec["updateStrategy"].get("rollingUpdate", {}).get("maxUnavailable", 1)) == 1
    # all workers join in one rebalance at first start instead of one rebalance per pod
    assert spec["podManagementPolicy"] == "Parallel"
    assert pod_spec(notifier)["terminationGracePeriodSeconds"] >= 30
    labels = spec["template"]["metadata"]["labels"]
    (budget,) = [
        d["spec"]
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
        and all(labels.get(k) == v for k, v in d["spec"]["selector"]["matchLabels"].items())
    ]
    assert "minAvailable" not in budget, budget
    assert int(budget["maxUnavailable"]) == 1, "a drain evicts one worker at a time"
    assert int(budget["maxUnavailable"]) < spec["replicas"], "never every worker at once"


def test_compose_notifier_workers_have_their_own_volume_address_and_stop_time() -> None:
    """What `replicas:` cannot give: a named rocksdb volume per worker (two processes must never
    open the same rocksdb folder). Both answer as `notifier` (Prometheus, SMS receipts: any
    worker accepts them), each on its own loopback host port (its /readyz lists its partitions),
    and compose waits for a clean handover instead of its default 10 s before SIGKILL."""
    names = compose_workers("notifier")
    volumes, hostnames, ports = set(), set(), set()
    for name in names:
        service = SERVICES_IN_COMPOSE[name]
        assert "deploy" not in service, f"{name}: replicas would share one named volume"
        data_dir = str(service["environment"]["NOTIFIER_DATA_DIR"])
        (mount,) = [m for m in service["volumes"] if str(m).endswith(f":{data_dir}")]
        volumes.add(str(mount).split(":")[0])
        hostnames.add(service["hostname"])
        (published,) = service["ports"]
        host_ip, host_port, container_port = str(published).split(":")
        assert host_ip == "127.0.0.1", f"{name}: the notifier's doors stay on the host"
        assert container_port == str(service["environment"]["NOTIFIER_PORT"])
        ports.add(host_port)
        assert "notifier" in service["networks"]["default"]["aliases"], name
        grace = str(service["stop_grace_period"])
        assert re.fullmatch(r"\d+s", grace), f"{name}: stop_grace_period {grace} (seconds)"
        assert int(grace[:-1]) >= 30, f"{name}: {grace}"
    assert len(volumes) == len(hostnames) == len(ports) == len(names) == 2
    assert volumes <= set(COMPOSE.get("volumes") or {})
    sms_gateway = " ".join(SERVICES_IN_COMPOSE["sms-gateway"]["command"])
    assert "--receipt-url http://notifier:8001/receipts" in sms_gateway
    # the gateway signs its receipts with the secret the workers check them with (the
    # placeholder stands for every secret, so compare the variables as written)
    raw = yaml.safe_load(COMPOSE_FILES[0].read_text(encoding="utf-8"))
    signing = raw["services"]["sms-gateway"]["environment"]["SMS_GATEWAY_CALLBACK_SECRET"]
    checking = raw["x-notifier-env"]["NOTIFIER_SMS_CALLBACK_SECRET"]
    assert signing.startswith("${NOTIFIER_SMS_CALLBACK_SECRET:?")
    assert checking == signing
    for name in names:
        assert "NOTIFIER_SMS_CALLBACK_SECRET" in SERVICES_IN_COMPOSE[name]["environment"], name


def test_notifier_keeps_its_tables_in_rocksdb_everywhere() -> None:
    """rocksdb:// is the only store the service accepts (it reads a partition's wake-up index in
    key order); the image's default must be it too, not only the manifests'."""
    assert target_env(dockerfile_stages(), "notifier")["NOTIFIER_STORE"] == "rocksdb://"
    workloads = [w for path in COMPOSE_FILES for w in compose_workloads(path)]
    workloads += k8s_workloads(k8s_base_documents())
    notifiers = [w for w in workloads if w.service == "notifier" and w.subcommand == "worker"]
    assert len(notifiers) == len(compose_workers("notifier")) + 1
    for workload in notifiers:
        assert workload.env["NOTIFIER_STORE"] == "rocksdb://", workload.where
        assert workload.env["NOTIFIER_DATA_DIR"] == "/data", workload.where


def test_reporting_workers_advertise_distinct_reachable_urls_and_own_data() -> None:
    names = compose_workers("reporting")
    urls, volumes = set(), set()
    for name in names:
        service = SERVICES_IN_COMPOSE[name]
        assert "deploy" not in service, f"{name}: replicas could not advertise distinct URLs"
        url = str(service["environment"]["REPORTING_ADVERTISED_URL"])
        assert url == f"http://{service['hostname']}:8002", name
        urls.add(url)
        (mount,) = [m for m in service["volumes"] if str(m).endswith(":/data")]
        volumes.add(str(mount).split(":")[0])
        aliases = service["networks"]["default"]["aliases"]
        assert "reporting" in aliases, f"{name}: Prometheus finds the workers as `reporting`"
    assert len(urls) == len(volumes) == len(names) == 2
    (worker,) = [
        w
        for w in k8s_workloads(k8s_base_documents())
        if w.service == "reporting" and w.subcommand == "worker"
    ]
    assert worker.env["REPORTING_ADVERTISED_URL"] == "http://$(POD_IP):8002"
    assert worker.pod_env == {"POD_IP": "status.podIP"}


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_overlay_scaling_respects_partitions_and_keeps_disruption_budgets(overlay: Path) -> None:
    docs = rendered(overlay)
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for doc in docs:
        if doc["kind"] == "StatefulSet":
            name = doc["metadata"]["name"]
            assert doc["spec"]["replicas"] <= partitions_consumed_by(name), name
        if doc["kind"] in {"Deployment", "StatefulSet"} and doc["spec"]["replicas"] > 1:
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert any(
                all(labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items())
                for b in budgets
            ), f"{doc['metadata']['name']} has no PodDisruptionBudget"


@pytest.mark.parametrize("overlay", [None, *K8S_OVERLAYS], ids=lambda p: p.name if p else "base")
def test_rocksdb_workers_keep_their_tables_on_a_persistent_volume(overlay: Path | None) -> None:
    docs = _docs(overlay)
    by_where = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}
    rocksdb = [
        (w, by_where[w.where.split(":")[0]])
        for w in k8s_workloads(docs)
        if any(k.endswith("_STORE") and v.startswith("rocksdb://") for k, v in w.env.items())
    ]
    assert {w.service for w, _ in rocksdb} == {"notifier", "reporting"}
    for workload, doc in rocksdb:
        assert doc["kind"] == "StatefulSet", workload.where
        pod_volumes = {v["name"] for v in pod_spec(doc)["volumes"]}
        assert "data" not in pod_volumes, f"{workload.where}: the claim, not a pod volume"
        mounts = {m["name"]: m["mountPath"] for m in workload.spec["volumeMounts"]}
        prefix = f"{str(workload.service).upper()}_"
        assert mounts["data"] == workload.env[f"{prefix}DATA_DIR"] == "/data"
        claim = doc["spec"]["volumeClaimTemplates"][0]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_outbox_relay_runs_alone() -> None:
    relay = next(d for d in k8s_base_documents() if d["metadata"]["name"] == "enrollment-relay")
    assert relay["spec"]["replicas"] == 1
    assert relay["spec"]["strategy"]["type"] == "Recreate"
    assert "deploy" not in SERVICES_IN_COMPOSE["enrollment-relay"]


SECRETISH = re.compile(r"PASSWORD|SECRET|_KEY$|API_KEY|DATABASE_URL|JAAS")


def test_no_secret_value_is_committed() -> None:
    for doc in k8s_base_documents():
        assert doc["kind"] != "Secret", "Secrets are created out of band, never committed"
        if doc["kind"] == "ConfigMap":
            leaked = [k for k in doc["data"] if SECRETISH.search(k)]
            assert not leaked, f"ConfigMap {doc['metadata']['name']} holds {leaked}"
        if doc["kind"] in POD_KINDS:
            for container in pod_spec(doc)["containers"]:
                for item in container.get("env", []):
                    if SECRETISH.search(item["name"]):
                        assert "secretKeyRef" in item.get("valueFrom", {}), item["name"]
    for overlay in sorted((DEPLOY / "k8s" / "overlays").rglob("*.yaml")):
        for doc in load_yaml_documents(overlay):
            assert doc.get("kind") != "Secret", overlay
    for name, service in SERVICES_IN_COMPOSE.items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if SECRETISH.search(key):
                assert "${" in str(value), f"{name}: {key} must come from deploy/.env"
    example = (DEPLOY / ".env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if line and line[0] != "#")


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_references_resolve(path: Path) -> None:
    """What `docker compose config` would refuse: dangling names, missing files, bad options."""
    document = compose(path)
    services: dict[str, Any] = document["services"]
    volumes = set(document.get("volumes") or {})
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        image = str(service.get("image", ""))
        assert ":" in image.split("/")[-1], f"{name}: pin the image tag ({image})"
        depends = service.get("depends_on") or {}
        for target, rule in depends.items() if isinstance(depends, dict) else []:
            assert target in services, f"{name} depends on unknown {target}"
            assert rule["condition"] in conditions, name
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target] or _image_has_healthcheck(
                    services[target]
                ), f"{name} waits for {target} to be healthy, but it has no healthcheck"
        for mount in service.get("volumes") or []:
            source = str(mount).split(":")[0]
            if source.startswith("."):
                assert (path.parent / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in volumes, f"{name}: volume {source} is not declared"
        build = service.get("build")
        if isinstance(build, dict):
            assert (path.parent / build["context"] / build["dockerfile"]).exists(), name


def _image_has_healthcheck(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    return bool(dockerfile_stages()[build["target"]].values("HEALTHCHECK"))


@pytest.mark.parametrize("overlay", K8S_OVERLAYS, ids=lambda p: p.name)
def test_autoscalers_target_only_stateless_deployments(overlay: Path) -> None:
    docs = rendered(overlay)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) in kinds, target
        assert target["kind"] == "Deployment", "faust workers scale by hand, within partitions"
        assert target["name"] != "enrollment-relay", "the outbox relay must stay alone"
