"""`make run`, Ctrl-C, `make run` again in the same folder: the user's world is still there.

The platform runs as `make run` runs it (`python -m services.platform run`, its own process
group, stopped with SIGINT) on a fresh embedded broker each time, and is read only through
public doors: the HTTP APIs, the SMS gateway's message list and the SMTP sink's mailbox.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from bench.driver import daytime_offset, registration, wait_until
from bench.identities import identity
from services.common.ports import first_ephemeral_port, port_free
from services.platform import DEFAULT_PORTS
from tests.e2e.test_journey import _csv

T = TypeVar("T")
ADMIN_KEY = "bc_admin_restart-test-key-0123456789abcdef"
READY_LINE = "Ctrl-C stops everything"
STOP_LIMIT_S = 10.0


def _free_port_base() -> int:
    for _ in range(200):
        # below the ephemeral ports, which outgoing connections may take before a server binds
        base = random.randrange(10_000, first_ephemeral_port() - len(DEFAULT_PORTS), 10)
        if all(port_free("127.0.0.1", base + i) for i in range(len(DEFAULT_PORTS))):
            return base
    raise RuntimeError("no free range of ports")


class MakeRun:
    """`python -m services.platform run` in one folder, started and stopped like a user does."""

    def __init__(self, root: Path, port_base: int, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port_base = port_base
        self.extra_env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.runs = 0

    def port(self, name: str) -> int:
        return self.port_base + list(DEFAULT_PORTS).index(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def launch(self) -> subprocess.Popen[str]:
        self.runs += 1
        env = {
            **os.environ,
            "ENROLLMENT_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "NOTIFIER_CLOCK_OFFSET_FILE": str(self.root / "clock-offset-seconds"),
            **self.extra_env,
        }
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # what a user's `make run` does: embedded
        with (self.root / f"run-{self.runs}.out").open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.platform",
                    "run",
                    "--data-dir",
                    str(self.root / "data"),
                    "--port-base",
                    str(self.port_base),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return self.process

    def out(self) -> str:
        return (self.root / f"run-{self.runs}.out").read_text(encoding="utf-8", errors="replace")

    def start(self, timeout: float = 240) -> float:
        """Seconds until the URLs are printed."""
        started = time.monotonic()
        process = self.launch()
        deadline = started + timeout
        while READY_LINE not in self.out():
            assert process.poll() is None, f"make run ended at start:\n{self.out()}"
            assert time.monotonic() < deadline, f"no URLs after {timeout}s:\n{self.out()}"
            time.sleep(0.2)
        return time.monotonic() - started

    def interrupt(self) -> tuple[int, float]:
        """Ctrl-C: returns the exit code and the seconds until every process ended."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(60)
        finally:
            self.kill()
        return code, time.monotonic() - started

    def kill(self) -> None:
        """Cleanup after a failed test: the launcher and whatever it left (its session)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    # --- public doors --------------------------------------------------------------------

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        return httpx.Client(base_url=self.url("enrollment"), headers=headers, timeout=30)

    def participants(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        with self.api() as api:
            while True:
                params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = api.get("/v1/participants", params=params).json()
                found += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    return found

    def sms(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url('sms_gateway')}/messages", timeout=30).json()
        return list(body["messages"] if isinstance(body, dict) else body)

    def mails(self) -> list[str]:
        """The sink's stored mail files, one per message the mailbox kept."""
        folder = self.root / "data" / "notifier" / "sinks" / "mail"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def metrics(self, campaign: str) -> dict[str, Any]:
        url = f"{self.url('reporting')}/v1/campaigns/{campaign}/metrics"
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        except httpx.HTTPError:
            return {}
        return dict(response.json()) if response.status_code == 200 else {}


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    run = MakeRun(tmp_path, _free_port_base())
    offset = daytime_offset(datetime.now(UTC))  # outside SMS quiet hours in every zone
    (tmp_path / "clock-offset-seconds").write_text(str(offset), encoding="utf-8")
    try:
        yield run
    finally:
        run.kill()


def _person(i: int, campaign: str, **overrides: Any) -> dict[str, Any]:
    nik, phone = identity(47_000_000 + i)
    return registration(nik, phone, i, campaign, branch_code="SURAKARTA", **overrides)


def _a_period_ahead() -> str:
    """A month after the one the services' clock (pushed up to a day ahead to daytime) is in,
    on Surakarta's wall clock: never before the registration, which enrollment refuses."""
    ahead = (datetime.now(UTC) + timedelta(days=2)).astimezone(timezone(timedelta(hours=7)))
    index = ahead.year * 12 + ahead.month  # the next month, 0-based month index
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _welcomes(sms: list[dict[str, Any]], phone: str) -> list[dict[str, Any]]:
    return [m for m in sms if m["to"] == phone and "|welcome|" in m["reference"]]


def _settled(run: MakeRun, campaign: str, sent: int, delivered: int) -> dict[str, Any] | None:
    """The campaign's figures once every expected message is counted as sent and delivered."""
    metrics = run.metrics(campaign)
    messages = metrics.get("messages", {})
    if messages.get("sent") == sent and messages.get("delivered") == delivered:
        return metrics
    return None


def _eventually_equal(probe: Callable[[], T], expected: T, timeout: float) -> T:
    """The probe's value once it equals `expected`, or its last value at the deadline (for the
    caller's assertion to show the difference)."""
    deadline = time.monotonic() + timeout
    while (value := probe()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def test_a_restart_keeps_participants_figures_and_messages_and_sends_nothing_twice(
    make_run: MakeRun,
) -> None:
    """After a Ctrl-C the platform keeps the broker's topics and writes them back at the next
    start; without that copy (the platform was killed, or the copy failed) it rebuilds them
    from enrollment's database. Either way the user's world is the same: both, one after the
    other, in one folder."""
    make_run.start()
    campaign = "RESTART-" + os.urandom(3).hex().upper()
    with make_run.api() as api:
        created = api.post(
            "/v1/campaigns",
            json={
                "code": campaign,
                "name": "Kerja Keras Bebas Cemas – restart",
                "branch_codes": [],
                "starts_on": datetime.now(UTC).date().isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        by_api = [
            _person(0, campaign, email="sari.restart@example.co.id"),
            _person(1, campaign),
            _person(2, campaign, language="en"),
        ]
        ids = []
        for body in by_api:
            response = api.post("/v1/participants", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        sheet = [_person(3, campaign), _person(4, campaign, language="en")]
        report = api.post(
            "/v1/imports", files={"file": ("restart.csv", _csv(sheet), "text/csv")}
        ).json()
        assert report["registered"] == 2, report
        paid = api.post(
            f"/v1/participants/{ids[1]}/contributions",
            json={
                "period": _a_period_ahead(),
                "amount": 16_800,
                "paid_at": datetime.now(UTC).isoformat(),
            },
        )
        assert paid.status_code == 201, paid.text
    sms_phones = [p["phone"] for p in (*by_api, *sheet)]
    wait_until(
        lambda: all(_welcomes(make_run.sms(), phone) for phone in sms_phones) and make_run.mails(),
        120,
        "every welcome at the sinks",
    )
    # every SMS counted as sent and, after its receipt, delivered; the e-mail as sent
    before = wait_until(
        lambda: _settled(make_run, campaign, sent=len(sms_phones) + 1, delivered=len(sms_phones)),
        120,
        "reporting to count every welcome",
    )
    assert before["payments"]["payers"] == 1
    people_before, sms_before, mails_before = (
        make_run.participants(),
        make_run.sms(),
        make_run.mails(),
    )

    for topics_kept in (True, False):
        code, stop_s = make_run.interrupt()
        assert code == 0, make_run.out()
        assert stop_s < STOP_LIMIT_S, f"Ctrl-C took {stop_s:.1f}s"
        assert "kept the broker's topics for the next run" in make_run.out()
        if not topics_kept:
            shutil.rmtree(make_run.root / "data" / "broker-topics")

        make_run.start()  # right away, on the same ports
        restored = "restored the last run's topics" in make_run.out()
        assert restored == topics_kept, make_run.out()
        after = _eventually_equal(lambda: make_run.metrics(campaign), before, 120)
        assert after == before, f"reporting's figures differ after the restart ({restored=})"
        assert make_run.participants() == people_before
        # rebuilt, the notifier re-offers what it had sent (the sinks drop repeats): give it
        # the time it needs before comparing
        wait_until(
            lambda: _settled(
                make_run, campaign, sent=len(sms_phones) + 1, delivered=len(sms_phones)
            ),
            60,
            "the notifier's outcomes",
        )
        assert make_run.sms() == sms_before, f"an SMS was sent twice or lost ({restored=})"
        assert make_run.mails() == mails_before, f"an e-mail was stored twice ({restored=})"

    newcomer = _person(5, campaign)
    with make_run.api() as api:
        response = api.post("/v1/participants", json=newcomer)
    assert response.status_code == 201, response.text
    wait_until(lambda: _welcomes(make_run.sms(), newcomer["phone"]), 60, "the newcomer's welcome")
    wait_until(
        lambda: _settled(
            make_run, campaign, sent=len(sms_phones) + 2, delivered=len(sms_phones) + 1
        ),
        60,
        "reporting to count the newcomer's welcome",
    )
    sms_after = make_run.sms()
    assert len(_welcomes(sms_after, newcomer["phone"])) == 1
    assert sms_after[: len(sms_before)] == sms_before
    assert len(sms_after) == len(sms_before) + 1, "only the newcomer's welcome is new"
    assert make_run.interrupt()[0] == 0


def test_a_service_failing_at_start_ends_make_run_with_its_log(make_run: MakeRun) -> None:
    # a database nobody listens on: enrollment cannot migrate and exits
    make_run.extra_env["ENROLLMENT_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    process = make_run.launch()
    code = process.wait(120)
    out = make_run.out()
    assert code != 0, out
    assert "enrollment exited with code" in out, out
    assert "the last lines of" in out, out
    assert "enrollment.log" in out, out
    log_tail = (make_run.root / "data" / "logs" / "enrollment.log").read_text().splitlines()[-3:]
    assert all(line in out for line in log_tail), "the printed lines are the log's last ones"
    assert READY_LINE not in out


def test_make_run_says_which_process_holds_a_port(make_run: MakeRun) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, time; s = socket.socket(); "
            f"s.bind(('127.0.0.1', {make_run.port('notifier')})); s.listen(); time.sleep(120)",
        ]
    )
    try:
        wait_until(lambda: not port_free("127.0.0.1", make_run.port("notifier")), 10, "listener")
        code = make_run.launch().wait(60)
        out = make_run.out()
    finally:
        holder.kill()
        holder.wait()
    assert code != 0
    assert f"notifier port 127.0.0.1:{make_run.port('notifier')} is in use by pid {holder.pid}" in (
        out
    ), out
