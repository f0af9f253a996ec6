"""`make reliability`: every fault scenario under a steady registration load, then a count.

For each scenario: a fresh platform (same launcher as `make run`), N registrations through
the API at a steady rate while the fault runs, then wait for the system to settle and count,
per recipient and message key, what the SMS gateway and SMTP server received and what
reporting counted. Writes bench/results/reliability.json.

    python -m bench.reliability             # 2,000 registrations, 30 s faults
    python -m bench.reliability --quick     # 200 registrations, short faults
    python -m bench.reliability --only broker_unreachable
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.driver import PlatformRun, registration, wait_until
from bench.faults import INPUT_TOPICS, SCENARIOS, Timing, run_in_thread, with_two_notifiers
from bench.identities import identities
from bench.kafka_load import count_records
from bench.processes import stop_cleanly_on_sigterm
from services.common.kafka_settings import KafkaSettings

RESULTS = Path(__file__).parent / "results"
WELCOME = "|welcome|"


@dataclass
class Outcome:
    scenario: str
    sent: int  # registrations attempted
    expected: int  # welcome messages owed (one per accepted registration and channel)
    received: int  # distinct messages that arrived at the gateway / SMTP server
    lost: int
    duplicated: int
    metrics_exact: bool
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        finished = "error" not in self.details
        return finished and self.lost == 0 and self.duplicated == 0 and self.metrics_exact


@dataclass(frozen=True)
class Load:
    count: int
    rate: float
    timing: Timing
    settle_s: float


def _bodies(count: int, campaign: str, salt: int, with_email: bool) -> list[dict[str, Any]]:
    bodies = []
    for i, (nik, phone) in enumerate(identities(count, salt)):
        extra = {"email": f"p{salt}x{i}@example.co.id"} if with_email and i % 4 == 0 else {}
        bodies.append(registration(nik, phone, i, campaign, **extra))
    return bodies


def _welcomes(
    run: PlatformRun, phones: set[str], emails: set[str]
) -> tuple[Counter[str], Counter[str]]:
    sms = Counter(
        m["to"] for m in run.sms_messages() if WELCOME in m["reference"] and m["to"] in phones
    )
    mail = Counter(
        address
        for m in run.mails()
        if WELCOME in (m.get("notification_key") or "")
        for address in m["to"]
        if address in emails
    )
    return sms, mail


def _metrics(run: PlatformRun, campaign: str) -> dict[str, Any]:
    url = f"{run.url('reporting')}/v1/campaigns/{campaign}/metrics"
    response = httpx.get(url, headers=run.auth, timeout=30)
    return dict(response.json()) if response.status_code == 200 else {}


def _dead_letters_by_api(run: PlatformRun) -> dict[str, dict[str, Any]]:
    """Per poisoned topic, what reporting's dead-letter API lists (by service, each with its
    reason and source offset) and what a replay of them all answers (they still fail
    validation: every one refused, none replayed)."""
    found: dict[str, dict[str, Any]] = {}
    url = f"{run.url('reporting')}/v1/dead-letters"
    for topic in INPUT_TOPICS:
        params: dict[str, str | int] = {"topic": topic, "page_size": 500}
        listed = httpx.get(url, params=params, headers=run.auth, timeout=60).json()
        items = listed["items"]
        answer = httpx.post(
            url + "/replay", json={"topic": topic}, headers=run.auth, timeout=60
        ).json()
        found[topic] = {
            "listed": listed["total"],
            "services": sorted({item["service"] for item in items}),
            "with_reason_and_offset": sum(
                1 for item in items if item["reason"] and item["offset"] is not None
            ),
            "replayed": answer["replayed"],
            "refused": answer["refused"],
        }
    return found


def _exact(metrics: dict[str, Any], accepted: int, owed: int) -> bool:
    if not metrics:
        return False
    welcome = metrics["messages"]["by_kind"].get("welcome", {})
    return bool(metrics["enrolments"]["total"] == accepted and welcome.get("sent") == owed)


def run_scenario(name: str, root: Path, load: Load, salt: int) -> Outcome:
    run = PlatformRun(root / name, sms_gateways=2 if name == "sms_failover" else 1)
    count = load.count
    if name == "sms_failover":
        # the load goes on through the 2x outage and the breaker's probe after it
        t = load.timing
        count = max(count, int(load.rate * (t.load_s * 0.2 + 2 * t.outage_s + 30)))
    started = time.monotonic()
    run.start()
    try:
        if name != "notifier_scale_out":
            with_two_notifiers(run)
        campaign = "REL-" + uuid.uuid4().hex[:8].upper()
        run.create_campaign(campaign)
        bodies = _bodies(count, campaign, salt, with_email=name == "providers_down")
        join = run_in_thread(SCENARIOS[name], run, load.timing)
        responses = run.register_all(bodies, concurrency=8, rate=load.rate)
        details: dict[str, Any] = dict(join())
        accepted = [b for b, r in zip(bodies, responses, strict=True) if r.status_code == 201]
        details["rejected_registrations"] = len(bodies) - len(accepted)
        phones = {b["phone"] for b in accepted}
        emails = {b["email"] for b in accepted if b.get("email")}
        owed = len(phones) + len(emails)

        def settled() -> bool:
            sms, mail = _welcomes(run, phones, emails)
            done = len(sms) == len(phones) and len(mail) == len(emails)
            return done and _exact(_metrics(run, campaign), len(accepted), owed)

        try:
            wait_until(settled, load.settle_s, "every welcome and exact metrics", every=1.0)
        except TimeoutError as exc:
            details["settle"] = str(exc)
        time.sleep(2)  # late duplicates, if any, would arrive now: count after a quiet spell
        sms, mail = _welcomes(run, phones, emails)
        metrics = _metrics(run, campaign)
        if metrics:
            welcome = metrics["messages"]["by_kind"].get("welcome", {})
            details["reporting"] = {"enrolments": metrics["enrolments"]["total"], **welcome}
        ctx = run.live().ctx
        if name == "malformed_input" and ctx is not None:
            kafka = KafkaSettings(bootstrap_servers=ctx.bootstrap_servers)
            for topic in (
                "bebas.notifier.deadletter",
                "bebas.reporting.deadletter",
                "bebas.enrollment.deadletter",
            ):
                details[topic] = count_records(kafka, topic)
            details["api"] = _dead_letters_by_api(run)
        received = len(sms) + len(mail)
        return Outcome(
            scenario=name,
            sent=len(bodies),
            expected=owed,
            received=received,
            lost=owed - received,
            duplicated=sum(c - 1 for c in (sms + mail).values() if c > 1),
            metrics_exact=_exact(metrics, len(accepted), owed),
            seconds=round(time.monotonic() - started, 1),
            details=details,
        )
    finally:
        run.stop()


def loads(quick: bool) -> Load:
    if quick:
        return Load(count=200, rate=40, timing=Timing(outage_s=5, load_s=5), settle_s=120)
    return Load(count=2000, rate=50, timing=Timing(outage_s=30, load_s=40), settle_s=300)


@contextlib.contextmanager
def _scratch(keep: Path | None) -> Iterator[str]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
            yield scratch
    else:
        if keep.exists() and any(keep.iterdir()):
            # an earlier run's state (rocksdb files) does not match a fresh broker
            raise SystemExit(f"--keep {keep}: choose a new or empty folder")
        keep.mkdir(parents=True, exist_ok=True)
        yield str(keep)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--keep", type=Path, help="run in this folder and keep it (service logs, sink files)"
    )
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    outcomes = []
    with _scratch(args.keep) as scratch:
        for i, name in enumerate(args.only or list(SCENARIOS)):
            print(f"reliability: {name}…", flush=True)
            try:
                outcome = run_scenario(name, Path(scratch), loads(args.quick), salt=100 + i)
            except Exception as exc:  # one broken scenario must not hide the others
                outcome = Outcome(name, 0, 0, 0, 0, 0, False, 0.0, {"error": repr(exc)[:500]})
            print(json.dumps(asdict(outcome)), flush=True)
            outcomes.append(outcome)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "reliability.json"
    document = {"quick": args.quick, "scenarios": [asdict(o) for o in outcomes]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"written: {path}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
