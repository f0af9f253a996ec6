"""`make run`: the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and every service.

Each service package that can run contributes a `launch.py` with
`processes(ctx: LaunchContext) -> list[ProcessSpec]`; this module starts them as child
processes, prints where they listen, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from services.common.broker import EmbeddedBroker
from services.common.broker_epoch import EPOCH_ENV, new_epoch
from services.common.kafka_settings import KafkaSettings
from services.common.ports import held_ports
from services.common.topic_admin import ensure_topics, wait_for_broker
from services.common.topic_copy import TopicCopyError, restore_topics, save_topics
from services.prometheus_local import LocalPrometheus

SERVICE_PACKAGES = ("enrollment", "notifier", "reporting")
LOG_TAIL_LINES = 30
#: How long a stop waits for SIGTERM to end a service before it kills the service's group:
#: Ctrl-C must end everything within 10 s, broker included.
STOP_GRACE_S = 6.0

#: Default local ports; `python -m services.platform run --port-base N` shifts them all.
DEFAULT_PORTS = {
    "broker": 9092,
    "enrollment": 8000,
    "notifier": 8001,
    "reporting": 8002,
    "sms_gateway": 8025,
    "smtp": 2525,
    "whatsapp": 8026,
}


#: under the data folder: the embedded broker's topics between two runs (topic_copy.py)
TOPICS_COPY = Path("broker-topics")

ADMIN_KEY_ENV = "ENROLLMENT_BOOTSTRAP_ADMIN_KEY"
#: under the data folder: one SHA-256 hex digest a line
ADMIN_KEY_DIGESTS = Path("enrollment") / "admin-key.sha256"


def _sha256(key: str) -> str:
    # the digest enrollment stores for an API key (services/enrollment/apikeys.py: hash_key)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LaunchContext:
    bootstrap_servers: str
    data_dir: Path
    ports: dict[str, int]
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)

    def port(self, name: str) -> int:
        return self.ports[name]

    def setting(self, name: str) -> str | None:
        """A variable set for this run (the launcher's env, else the process's)."""
        return self.env.get(name) or os.environ.get(name)

    def remember_admin_key(self, key: str) -> None:
        """Keep the SHA-256 of the run's admin key (never the key: it is shown once), for
        services that check enrollment's admin keys without its database (the notifier)."""
        path = self.data_dir / ADMIN_KEY_DIGESTS
        path.parent.mkdir(parents=True, exist_ok=True)
        known = set(path.read_text("utf-8").split()) if path.exists() else set()
        path.write_text("\n".join(sorted(known | {_sha256(key)})) + "\n", encoding="utf-8")

    def admin_key_digests(self) -> list[str]:
        """Digests of every admin key a run of this data folder issued or was given."""
        path = self.data_dir / ADMIN_KEY_DIGESTS
        known = set(path.read_text("utf-8").split()) if path.exists() else set()
        configured = self.setting(ADMIN_KEY_ENV)
        return sorted(known | ({_sha256(configured)} if configured else set()))


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


def collect_processes(ctx: LaunchContext) -> list[ProcessSpec]:
    specs: list[ProcessSpec] = []
    for package in SERVICE_PACKAGES:
        try:
            launch = importlib.import_module(f"services.{package}.launch")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"services.{package}", f"services.{package}.launch"):
                raise
            continue
        specs.extend(launch.processes(ctx))
    return specs


def ports_from(base: int | None) -> dict[str, int]:
    if base is None:
        return dict(DEFAULT_PORTS)
    return {name: base + i for i, name in enumerate(DEFAULT_PORTS)}


class PortsInUse(RuntimeError):
    pass


class ServiceFailed(RuntimeError):
    """A service ended (or never became ready) while the platform started."""

    def __init__(self, services: Mapping[str, int | None], message: str) -> None:
        super().__init__(message)
        self.services = dict(services)


class ServiceNotReady(ServiceFailed, TimeoutError):
    pass


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # every service runs in a session (and process group) of its own, led by its pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


class Platform:
    """Owns the broker and the service processes for one run."""

    def __init__(
        self,
        data_dir: Path,
        ports: dict[str, int],
        log_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.data_dir = data_dir
        self.ports = ports
        self.log_dir = log_dir or data_dir / "logs"
        self.env = dict(env or {})
        self.ctx: LaunchContext | None = None
        self.broker: EmbeddedBroker | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.specs: list[ProcessSpec] = []

    def start(self) -> LaunchContext:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        env = dict(self.env)
        if external:
            self._check_ports(exclude="broker")
            settings = KafkaSettings()
            wait_for_broker(settings)
            bootstrap = settings.bootstrap_servers
        else:
            self._check_ports()
            settings = self._start_embedded_broker()
            bootstrap = settings.bootstrap_servers
            # This broker starts empty (it keeps nothing on disk): it gets the topics the last
            # run left (topic_copy.py) and with them that run's epoch, so the services keep
            # their local state; else a new epoch, and their local state is rebuilt from
            # enrollment's outbox (broker_epoch.py). A real cluster keeps its topics, so it
            # gets no epoch.
            env[EPOCH_ENV] = self._restore_topics(settings) or new_epoch()
        ensure_topics(settings)
        ctx = LaunchContext(
            bootstrap_servers=bootstrap, data_dir=self.data_dir, ports=self.ports, env=env
        )
        self.ctx = ctx
        self.specs = collect_processes(ctx)
        for spec in self.specs:
            self._spawn(ctx, spec)
        return ctx

    def _start_embedded_broker(self) -> KafkaSettings:
        log_file = self.log_dir / "broker.log"
        self.broker = EmbeddedBroker(port=self.ports["broker"], log_file=log_file)
        return KafkaSettings(bootstrap_servers=self.broker.start())

    def _restore_topics(self, settings: KafkaSettings) -> str | None:
        """The last run's topics written back: its epoch, or None (nothing to restore, or it
        failed: then the broker is replaced by an empty one, as a partial copy is no use)."""
        started = time.monotonic()
        try:
            restored = restore_topics(settings, self.data_dir / TOPICS_COPY)
        except TopicCopyError as exc:
            print(f"the last run's topics could not be restored ({exc}): rebuilding", flush=True)
            assert self.broker is not None
            self.broker.stop(timeout=2.0)
            self._start_embedded_broker()
            return None
        if restored is None:
            return None
        epoch, records = restored
        seconds = time.monotonic() - started
        print(f"restored the last run's topics: {records} records in {seconds:.1f} s", flush=True)
        return epoch

    def _save_topics(self) -> None:
        """Before the embedded broker stops, with every service stopped: its topics for the
        next run (topic_copy.py). Not after a start that never got the services going."""
        epoch = self.ctx.env.get(EPOCH_ENV) if self.ctx else None
        if self.broker is None or not self.broker.running or not epoch:
            return
        started = time.monotonic()
        settings = KafkaSettings(bootstrap_servers=self.broker.bootstrap_servers)
        try:
            records = save_topics(settings, self.data_dir / TOPICS_COPY, epoch)
        except TopicCopyError as exc:
            print(f"the topics were not kept ({exc}): the next run rebuilds them", flush=True)
            return
        seconds = time.monotonic() - started
        print(f"kept the broker's topics for the next run: {records} records in {seconds:.1f} s")

    def _check_ports(self, exclude: str | None = None) -> None:
        """Fail before starting anything, naming every port that is taken and its holder."""
        wanted = {name: port for name, port in self.ports.items() if name != exclude}
        held = held_ports("127.0.0.1", wanted)
        if held:
            raise PortsInUse("cannot start: " + "; ".join(held))

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no log at {path})"
        return "\n".join(text.splitlines()[-lines:])

    def _spawn(self, ctx: LaunchContext, spec: ProcessSpec) -> None:
        env = {**os.environ, **ctx.env, "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap_servers}
        env.update(spec.env)
        log = (self.log_dir / f"{spec.name}.log").open("ab")
        self.children[spec.name] = subprocess.Popen(  # noqa: S603 - our own commands
            spec.argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def spec(self, name: str) -> ProcessSpec:
        return next(spec for spec in self.specs if spec.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one service (fault scenarios: SIGKILL, SIGSTOP/SIGCONT) and reap it if dead."""
        child = self.children[name]
        os.killpg(child.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            child.wait(30)

    def spawn_copy(
        self, name: str, copy_name: str, env: dict[str, str], port: int | None = None
    ) -> ProcessSpec:
        """Start a second instance of a service (a worker joining its group) with its own
        settings (port, data folder); `port` moves its ready URL. Stop it with kill()."""
        assert self.ctx is not None, "start() first"
        base = self.spec(name)
        ready = base.ready_url
        if ready and port is not None:
            ready = ready.replace(f":{self.ports[name]}/", f":{port}/")
        spec = ProcessSpec(copy_name, base.argv, {**base.env, **env}, {}, ready)
        self.specs.append(spec)
        self._spawn(self.ctx, spec)
        return spec

    def restart(self, name: str) -> None:
        """Start a killed service again with the same command, environment and ports."""
        assert self.ctx is not None, "start() first"
        if self.children[name].poll() is None:
            raise RuntimeError(f"{name} is still running")
        self._spawn(self.ctx, self.spec(name))

    def wait_ready(self, timeout: float = 60.0, names: set[str] | None = None) -> None:
        """Poll each process's ready_url (all, or those named) until it answers 200, or raise
        naming the laggard."""
        deadline = time.monotonic() + timeout
        pending = [s for s in self.specs if s.ready_url and (names is None or s.name in names)]
        with httpx.Client(timeout=2.0) as client:
            while pending:
                dead = self.exited()
                if dead:
                    raise ServiceFailed(dead, f"exited while starting: {dead}")
                spec = pending[0]
                assert spec.ready_url is not None
                try:
                    if client.get(spec.ready_url).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceNotReady(
                        {spec.name: None}, f"{spec.name} not ready at {spec.ready_url}"
                    )
                time.sleep(0.2)

    def exited(self) -> dict[str, int]:
        return {
            name: code
            for name, child in self.children.items()
            if (code := child.poll()) is not None
        }

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """SIGTERM every service at once, then SIGKILL the process group of any still running
        after `timeout` (a service's own children included); the broker last, so services can
        commit while they stop."""
        for child in self.children.values():
            if child.poll() is None:
                _signal_group(child, signal.SIGCONT)  # a stopped (SIGSTOP) one cannot exit
                _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        self.children.clear()
        self._save_topics()
        if self.broker:
            self.broker.stop(timeout=2.0)
            self.broker = None


class _Interrupted(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    platform = Platform(Path(args.data_dir).resolve(), ports_from(args.port_base))
    prometheus = LocalPrometheus(platform.data_dir, platform.log_dir)
    started = False
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if not started:
            # still starting (waiting for readiness can take a minute): stop now, not then
            raise _Interrupted

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        ctx = platform.start()
        platform.wait_ready(timeout=args.ready_timeout)
        started = True
        if stopping:
            return 0
        where = "embedded tansu broker" if platform.broker else "external cluster"
        print(f"Kafka ({where}): {ctx.bootstrap_servers}")
        for spec in platform.specs:
            for label, url in spec.urls.items():
                print(f"{spec.name:>12}  {label}: {url}")
        if not platform.specs:
            print("no services are built yet: only the broker runs")
        print(prometheus.start(platform.specs))
        print(f"logs: {platform.log_dir}   — Ctrl-C stops everything", flush=True)
        while not stopping:
            dead = platform.exited()
            if dead:
                _report_failure(platform, dead)
                return 1
            time.sleep(0.3)
        return 0
    except _Interrupted:
        return 130
    except PortsInUse as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    except ServiceFailed as exc:
        print(exc, file=sys.stderr, flush=True)
        _report_failure(platform, exc.services)
        return 1
    finally:
        started = True  # a second Ctrl-C while stopping must not break off the stop
        print("stopping…", flush=True)
        prometheus.stop()
        platform.stop()


def _report_failure(platform: Platform, services: Mapping[str, int | None]) -> None:
    for name, code in services.items():
        state = "is not ready" if code is None else f"exited with code {code}"
        print(
            f"{name} {state}; the last lines of {platform.log_dir / (name + '.log')}:\n"
            f"{platform.log_tail(name)}",
            file=sys.stderr,
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.platform")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start the broker and every service")
    run_parser.add_argument("--data-dir", default=os.environ.get("BEBAS_DATA_DIR", "data"))
    run_parser.add_argument("--port-base", type=int, default=None)
    run_parser.add_argument("--ready-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
