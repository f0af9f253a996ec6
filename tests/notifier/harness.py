"""A real notifier stack for integration tests: namespaced topics on the session broker, the
local SMS gateway and SMTP sink as processes, and the notifier worker as a process (so tests
can SIGKILL it). Time moves through NOTIFIER_CLOCK_OFFSET_FILE, never by sleeping."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.envelope import CloudEvent, encode_event, new_event
from schemas.events import EventData
from schemas.topics import CATALOGUE
from services.common.apikeys import key_digest
from services.common.clock import move_offset_clock
from services.common.kafka_settings import KafkaSettings
from services.common.ports import free_port
from services.common.topic_admin import ensure_topics
from services.common.topic_reader import partitions_of, read_to_end
from services.notifier.domain.signatures import signed_headers

ROOT = Path(__file__).resolve().parents[2]
SCAN_BATCH = 20
UNSUBSCRIBE_URL = "https://bebas-cemas.example/unsubscribe"
#: shared by the local gateway and the notifier: they sign and check callbacks with it
CALLBACK_SECRET = "harness-callback-secret-6c1f0a"
#: an enrollment-style admin key; the notifier knows only its digest
ADMIN_KEY = "bck_harness-admin-key-4f9e2d7a1b"
ROUNDS_PER_CHANNEL = 2  # services.notifier.dispatcher.Limits
#: shared by the local WhatsApp Cloud API and the notifier: status webhooks are signed with it
WHATSAPP_APP_SECRET = "harness-meta-app-secret-51d0"
WHATSAPP_TOKEN = "harness-wa-token"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll until `check()` is truthy and return it; raise with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


def daytime_base(now: datetime) -> datetime:
    """The next 03:00 UTC (10:00 WIB / 11:00 WITA / 12:00 WIT): tests start in daytime."""
    base = now.replace(hour=3, minute=0, second=0, microsecond=0)
    return base if base > now + timedelta(minutes=1) else base + timedelta(days=1)


@dataclasses.dataclass
class Stack:
    kafka: KafkaSettings
    root: Path
    ns: str = dataclasses.field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}.")
    app_id: str = dataclasses.field(default_factory=lambda: f"notifier-{uuid.uuid4().hex[:8]}")
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    #: local SMS gateways: with more than one the notifier fails over between them, in order
    #: (NOTIFIER_SMS_PROVIDERS, named gw-1, gw-2, ...)
    gateways: int = 1
    #: run the local WhatsApp Cloud API and give the notifier a WhatsApp account
    whatsapp: bool = False

    def __post_init__(self) -> None:
        self.sink_dir = self.root / "sinks"
        self.gateway_port, self.smtp_port, self.port = free_port(), free_port(), free_port()
        #: each gateway's port and data folder (the first: gateway_port and sink_dir)
        self.gateway_ports = [self.gateway_port] + [free_port() for _ in range(self.gateways - 1)]
        self.gateway_dirs = [self.sink_dir] + [
            self.root / f"sinks-{n}" for n in range(2, self.gateways + 1)
        ]
        self.whatsapp_port = free_port()
        #: HTTP port of every notifier worker started, by name ("notifier" is the first)
        self.ports: dict[str, int] = {"notifier": self.port}
        self.offset_file = self.root / "clock-offset"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._producer: KafkaProducer | None = None
        self._offset = 0.0

    # --- lifecycle ---------------------------------------------------------------------------
    def topic(self, name: str) -> str:
        return f"{self.ns}{name}"

    def start(self) -> Stack:
        topics = [dataclasses.replace(t, name=self.topic(t.name)) for t in CATALOGUE]
        ensure_topics(self.kafka, topics)
        base = daytime_base(datetime.now(UTC))
        self.set_clock(base)
        for index in range(self.gateways):
            self.start_gateway(index)
        self.start_smtp()
        if self.whatsapp:
            self.start_whatsapp()
        self.start_notifier()
        return self

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_gateway(self, index: int = 0) -> None:
        self._spawn(
            "gateway" if index == 0 else f"gateway-{index + 1}",
            [
                "-m",
                "services.notifier.sinks.sms_gateway",
                "--port",
                str(self.gateway_ports[index]),
                "--data-dir",
                str(self.gateway_dirs[index]),
                "--api-key",
                "test-key",
                # replies a test sends through the gateway (POST /inbound) reach the notifier
                # signed by the real gateway; receipts are posted by the tests themselves
                "--inbound-url",
                f"{self.url}/inbound-sms",
            ],
            {"SMS_GATEWAY_CALLBACK_SECRET": CALLBACK_SECRET},
        )
        url = f"http://127.0.0.1:{self.gateway_ports[index]}/healthz"
        wait_for(lambda: _get_ok(url), timeout=20)

    def start_smtp(self) -> None:
        self._spawn(
            "smtp",
            [
                "-m",
                "services.notifier.sinks.smtp_sink",
                "--port",
                str(self.smtp_port),
                "--data-dir",
                str(self.sink_dir),
            ],
        )
        wait_for(lambda: _port_open(self.smtp_port), timeout=20)

    def start_whatsapp(self) -> None:
        self._spawn(
            "whatsapp",
            [
                "-m",
                "services.notifier.sinks.whatsapp_sink",
                "--port",
                str(self.whatsapp_port),
                "--data-dir",
                str(self.sink_dir),
                "--token",
                WHATSAPP_TOKEN,
                "--webhook-url",
                f"{self.url}/webhooks/whatsapp",
            ],
            {"WHATSAPP_SINK_APP_SECRET": WHATSAPP_APP_SECRET},
        )
        url = f"http://127.0.0.1:{self.whatsapp_port}/healthz"
        wait_for(lambda: _get_ok(url), timeout=20)

    def whatsapp_env(self) -> dict[str, str]:
        if not self.whatsapp:
            return {}
        return {
            "NOTIFIER_WHATSAPP_URL": f"http://127.0.0.1:{self.whatsapp_port}",
            "NOTIFIER_WHATSAPP_PHONE_NUMBER_ID": "1055501234",
            "NOTIFIER_WHATSAPP_TOKEN": WHATSAPP_TOKEN,
            "NOTIFIER_WHATSAPP_APP_SECRET": WHATSAPP_APP_SECRET,
            "NOTIFIER_WHATSAPP_VERIFY_TOKEN": "harness-verify-token",
            "NOTIFIER_WHATSAPP_TIMEOUT_SECONDS": "2",
        }

    def notifier_env(self, name: str = "notifier") -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "NOTIFIER_APP_ID": self.app_id,
            "NOTIFIER_TOPIC_NAMESPACE": self.ns,
            "NOTIFIER_STORE": "rocksdb://",
            "NOTIFIER_DATA_DIR": str(self.root / name),  # each worker keeps its own rocksdb
            "NOTIFIER_PORT": str(self.ports[name]),
            "NOTIFIER_CLOCK_OFFSET_FILE": str(self.offset_file),
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(self.smtp_port),
            "NOTIFIER_SMTP_TIMEOUT_SECONDS": "2",
            "NOTIFIER_SMS_GATEWAY_URL": f"http://127.0.0.1:{self.gateway_port}",
            "NOTIFIER_SMS_API_KEY": "test-key",
            "NOTIFIER_SMS_TIMEOUT_SECONDS": "2",
            "NOTIFIER_TICK_SECONDS": "0.1",
            # rounds of at most 20 SMS: what a SIGKILL may re-offer stays small and testable
            "NOTIFIER_SCAN_BATCH": str(SCAN_BATCH),
            "NOTIFIER_BACKOFF_BASE_SECONDS": "0.3",
            "NOTIFIER_BACKOFF_MAX_SECONDS": "2",
            "NOTIFIER_MAX_ATTEMPTS": "8",
            "NOTIFIER_SINK_DIR": str(self.sink_dir),
            "NOTIFIER_LOGLEVEL": os.environ.get("BEBAS_TEST_LOGLEVEL", "warn"),
            "NOTIFIER_SMS_CALLBACK_SECRET": CALLBACK_SECRET,
            "NOTIFIER_ADMIN_KEY_HASHES": key_digest(ADMIN_KEY),
            # e-mails link to a one-click unsubscribe (RFC 8058) only when a URL is in effect
            "NOTIFIER_UNSUBSCRIBE_URL": UNSUBSCRIBE_URL,
            "NOTIFIER_UNSUBSCRIBE_SECRET": "unsubscribe-secret-for-tests-0123456789",
            **self.sms_providers_env(),
            **self.whatsapp_env(),
            **self.extra_env,
        }

    def sms_providers_env(self) -> dict[str, str]:
        if self.gateways == 1:
            return {}  # the single-provider variables above
        providers = [
            {
                "name": f"gw-{n}",
                "kind": "gateway",
                "url": f"http://127.0.0.1:{port}",
                "key": "test-key",
            }
            for n, port in enumerate(self.gateway_ports, start=1)
        ]
        return {"NOTIFIER_SMS_PROVIDERS": json.dumps(providers)}

    def start_notifier(self, timeout: float = 60.0, name: str = "notifier") -> None:
        """Start a notifier worker (another one under a new `name`) and wait until ready."""
        self.ports.setdefault(name, free_port())
        self._spawn(name, ["-m", "services.notifier", "worker"], self.notifier_env(name))
        self.wait_ready(timeout, name)

    def wait_ready(self, timeout: float = 60.0, name: str = "notifier") -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/readyz"

        def ready() -> bool:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited {proc.returncode}; see {self.logs}")
            return _get_ok(url)

        wait_for(ready, timeout=timeout, every=0.2)

    def readyz(self, name: str = "notifier") -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{self.ports[name]}/readyz", timeout=2)
        body: dict[str, Any] = response.json()
        return body

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self._producer:
            self._producer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def set_clock(self, when: datetime) -> None:
        offset = (when - datetime.now(UTC)).total_seconds()
        if offset < self._offset:
            raise ValueError("the clock only moves forward")
        self._offset = offset
        move_offset_clock(self.offset_file, offset)

    # --- Kafka ------------------------------------------------------------------------------
    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**self.kafka.kafka_python_config(), linger_ms=2)
        return self._producer

    def publish(self, data: EventData, subject: str, topic: str) -> CloudEvent[Any]:
        event = new_event(data, source="urn:test", subject=subject, time=self.now())
        self.publish_raw(topic, subject.encode(), encode_event(event))
        return event

    def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.send(self.topic(topic), key=key, value=value).get(timeout=10)

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record on a (namespaced) topic, decoded as JSON, to its true end."""
        tps = partitions_of(self.kafka, [self.topic(topic)])
        return [json.loads(record.value) for _, record in read_to_end(self.kafka, tps, 10)]

    def committed(self, topic: str) -> dict[int, int | None]:
        """The notifier group's committed offset per partition of a (namespaced) topic."""
        consumer = KafkaConsumer(
            **self.kafka.kafka_python_config(), group_id=self.app_id, enable_auto_commit=False
        )
        try:
            name = self.topic(topic) if not topic.startswith(self.app_id) else topic
            parts = sorted(consumer.partitions_for_topic(name) or set())
            return {p: consumer.committed(TopicPartition(name, p)) for p in parts}
        finally:
            consumer.close()

    def diagnose(self) -> str:
        """Each running worker's view of its partitions and where the group stands on the work
        topic: what a test prints when messages do not arrive."""
        lines = []
        for name, proc in self.procs.items():
            if name in self.ports and proc.poll() is None:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    lines.append(f"{name} /readyz: {self.readyz(name)!r}")
        work = self.read("bebas.notifier.work")
        barriers = [r.get("token") for r in work if r.get("type") == "barrier"]
        lines.append(f"barriers on the work topic: {barriers!r}")
        for topic in ("bebas.notifier.work", "bebas.participants"):
            lines.append(f"committed {topic}: {self.committed(topic)!r}")
            lines.append(f"offsets {topic}: {self.offset_runs(topic)!r}")
        return "\n".join(lines)

    def offset_runs(self, topic: str) -> dict[int, list[tuple[int, int]]]:
        """Per partition, the runs of consecutive offsets a plain consumer reads (a gap between
        runs is a batch the broker gave offsets to and never showed)."""
        consumer = KafkaConsumer(**self.kafka.kafka_python_config(), enable_auto_commit=False)
        try:
            name = self.topic(topic)
            tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            offsets: dict[int, list[int]] = {tp.partition: [] for tp in tps}
            quiet_until = time.monotonic() + 2
            while time.monotonic() < quiet_until:
                for tp, records in consumer.poll(timeout_ms=200).items():
                    offsets[tp.partition].extend(r.offset for r in records)
                    quiet_until = time.monotonic() + 2
            return {p: _runs(sorted(o)) for p, o in sorted(offsets.items())}
        finally:
            consumer.close()

    def retries(self) -> list[dict[str, Any]]:
        """Every retry the notifier scheduled: {key, attempt (the next one), reason}, in the
        order its dispatch rounds wrote them to its work topic."""
        return [
            {**item["state"], "key": item["key"], "attempt": item["entry"]["attempt"]}
            for record in self.read("bebas.notifier.work")
            if record.get("type") == "outcomes"
            for item in record["items"]
            if item["result"] == "retry"
        ]

    def notifications(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        events = self.read("bebas.notifications")
        if participant_id:
            events = [e for e in events if e["subject"] == participant_id]
        return events

    # --- sinks ------------------------------------------------------------------------------
    def sms(self, participant_id: str | None = None, gateway: int = 0) -> list[dict[str, Any]]:
        """SMS the gateway (index: 0 the first) accepted, of one participant or all."""
        rows = _jsonl(self.gateway_dirs[gateway] / "sms.jsonl")
        if participant_id:
            rows = [r for r in rows if str(r.get("reference", "")).startswith(participant_id + "|")]
        return rows

    def sms_requests(self, participant_id: str) -> list[dict[str, Any]]:
        rows = _jsonl(self.sink_dir / "requests.jsonl")
        return [r for r in rows if str(r.get("reference", "")).startswith(participant_id + "|")]

    def sms_requests_all(self, gateway: int = 0) -> list[dict[str, Any]]:
        return _jsonl(self.gateway_dirs[gateway] / "requests.jsonl")

    def whatsapp_messages(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        rows = _jsonl(self.sink_dir / "whatsapp.jsonl")
        if participant_id:
            rows = [r for r in rows if str(r.get("reference", "")).startswith(participant_id + "|")]
        return rows

    def whatsapp_control(self, **knob: Any) -> None:
        url = f"http://127.0.0.1:{self.whatsapp_port}/control"
        httpx.post(url, json=knob).raise_for_status()

    def mail_duplicates(self) -> list[dict[str, Any]]:
        return _jsonl(self.sink_dir / "mail-duplicates.jsonl")

    def mails(self, participant_id: str | None = None) -> list[dict[str, Any]]:
        rows = _jsonl(self.sink_dir / "mail.jsonl")
        if participant_id:
            rows = [r for r in rows if r["notification_key"].startswith(participant_id + "|")]
        return rows

    def callback(
        self, path: str, body: dict[str, Any], secret: str = CALLBACK_SECRET
    ) -> httpx.Response:
        """POST a provider callback signed as the gateway signs it (with `secret`)."""
        raw = json.dumps(body).encode()
        headers = signed_headers(secret.encode(), raw, int(time.time()))
        headers["Content-Type"] = "application/json"
        return httpx.post(f"{self.url}{path}", content=raw, headers=headers)

    def reply(self, sender: str, text: str) -> dict[str, Any]:
        """A person's SMS reply, passed on by the real gateway (which signs it)."""
        url = f"http://127.0.0.1:{self.gateway_port}/inbound"
        response = httpx.post(url, json={"from": sender, "text": text}, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def gateway_control(self, gateway: int = 0, **knob: Any) -> None:
        url = f"http://127.0.0.1:{self.gateway_ports[gateway]}/control"
        httpx.post(url, json=knob).raise_for_status()

    def state(self, participant_id: str) -> dict[str, Any]:
        """The participant's state from whichever running worker owns it ({} if none)."""
        for name, port in self.ports.items():
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            url = f"http://127.0.0.1:{port}/participants/{participant_id}/notifications"
            response = httpx.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
        return {}


def _runs(offsets: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for offset in offsets:
        if runs and offset == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], offset)
        else:
            runs.append((offset, offset))
    return runs


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    # a sink may be writing the last line now: only lines that end are read
    *complete, _partial = path.read_text("utf-8").split("\n")
    return [json.loads(x) for x in complete if x.strip()]


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _port_open(port: int) -> bool:
    import socket

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def running_stack(kafka: KafkaSettings, root: Path, **kw: Any) -> Iterator[Stack]:
    stack = Stack(kafka, root, **kw)
    try:
        yield stack.start()
    finally:
        stack.close()
