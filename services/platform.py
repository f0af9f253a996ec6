"""`make run`: the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and every service.

Each service package that can run contributes a `launch.py` with
`processes(ctx: LaunchContext) -> list[ProcessSpec]`; this module starts them as child
processes, prints where they listen, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from services.common.broker import EmbeddedBroker
from services.common.kafka_settings import KafkaSettings
from services.common.topic_admin import ensure_topics, wait_for_broker
from services.prometheus_local import LocalPrometheus

SERVICE_PACKAGES = ("enrollment", "notifier", "reporting")

#: Default local ports; `python -m services.platform run --port-base N` shifts them all.
DEFAULT_PORTS = {
    "broker": 9092,
    "enrollment": 8000,
    "notifier": 8001,
    "reporting": 8002,
    "sms_gateway": 8025,
    "smtp": 2525,
}


@dataclass(frozen=True)
class LaunchContext:
    bootstrap_servers: str
    data_dir: Path
    ports: dict[str, int]
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)

    def port(self, name: str) -> int:
        return self.ports[name]


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
        if external:
            settings = KafkaSettings()
            wait_for_broker(settings)
            bootstrap = settings.bootstrap_servers
        else:
            self.broker = EmbeddedBroker(
                port=self.ports["broker"], log_file=self.log_dir / "broker.log"
            )
            bootstrap = self.broker.start()
            settings = KafkaSettings(bootstrap_servers=bootstrap)
        ensure_topics(settings)
        ctx = LaunchContext(
            bootstrap_servers=bootstrap, data_dir=self.data_dir, ports=self.ports, env=self.env
        )
        self.ctx = ctx
        self.specs = collect_processes(ctx)
        for spec in self.specs:
            self._spawn(ctx, spec)
        return ctx

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
                    raise RuntimeError(f"exited while starting: {dead}; logs in {self.log_dir}")
                spec = pending[0]
                assert spec.ready_url is not None
                try:
                    if client.get(spec.ready_url).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{spec.name} not ready at {spec.ready_url}")
                time.sleep(0.2)

    def exited(self) -> dict[str, int]:
        return {
            name: code
            for name, child in self.children.items()
            if (code := child.poll()) is not None
        }

    def stop(self, timeout: float = 15.0) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()
        if self.broker:
            self.broker.stop()
            self.broker = None


def run(args: argparse.Namespace) -> int:
    platform = Platform(Path(args.data_dir).resolve(), ports_from(args.port_base))
    prometheus = LocalPrometheus(platform.data_dir, platform.log_dir)
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        ctx = platform.start()
        platform.wait_ready(timeout=args.ready_timeout)
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
                for name, code in dead.items():
                    print(f"{name} exited with code {code}; see {platform.log_dir}/{name}.log")
                return 1
            time.sleep(0.3)
        return 0
    finally:
        print("stopping…", flush=True)
        prometheus.stop()
        platform.stop()


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
