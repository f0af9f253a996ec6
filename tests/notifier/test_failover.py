"""SMS provider failover (adapters/failover.py) on scripted providers of our own ChannelPort,
the dispatcher binding a retry to the provider that may hold its message, the adapters telling
"surely not taken" from "maybe taken", the settings of the provider list, and the breaker
metrics as bootstrap wires them."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr, ValidationError

from services.common.clock import FrozenClock
from services.notifier.access import Callback, EitherGuard, twilio_signed, web_access
from services.notifier.adapters.failover import FailoverSms, Route
from services.notifier.adapters.sms_http import JsonSmsGateway
from services.notifier.adapters.twilio import TwilioSms
from services.notifier.bootstrap import providers_of, sms_channel
from services.notifier.domain.breaker import Breaker, BreakerPolicy, BreakerState
from services.notifier.domain.model import Message, SmsMessage
from services.notifier.domain.signatures import TWILIO_HEADER, signed_headers, twilio_signature
from services.notifier.metrics import Metrics
from services.notifier.ports import PermanentError, SendReceipt, TransientError
from services.notifier.settings import Settings, SmsProvider
from tests.notifier.factories import registered
from tests.notifier.http_stub import (
    REFUSED,
    UNROUTABLE,
    RawHandler,
    closes_mid_answer,
    no_answer,
    provider,
    raw_provider,
    respond,
)
from tests.notifier.test_service import START, World

POLICY = BreakerPolicy(
    consecutive_failures=2, window_seconds=10, min_requests=100, cool_down_seconds=5
)


def sms(n: int = 1, provider: str | None = None) -> SmsMessage:
    return SmsMessage(f"P{n}|welcome|once|sms", "+6281234567890", "Halo", "BEBAS", provider)


class Scripted:
    """A provider of our ChannelPort: answers from `script` first, then `down` (an error
    raised on every request) or acceptance."""

    name = "sms"

    def __init__(self, provider: str, drops_repeats: bool = True) -> None:
        self.provider = provider
        self.drops_repeats = drops_repeats
        self.script: list[Exception] = []
        self.down: Exception | None = None
        self.requests: list[str] = []
        self.accepted: list[str] = []
        self.closed = False

    async def send(self, message: Message) -> SendReceipt:
        self.requests.append(message.key)
        if self.script:
            raise self.script.pop(0)
        if self.down is not None:
            raise self.down
        self.accepted.append(message.key)
        return SendReceipt(self.provider, f"{self.provider}-{len(self.accepted)}")

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused() -> TransientError:
    return TransientError("gateway unreachable: ConnectError")


def timed_out(provider: str) -> TransientError:
    return TransientError("gateway timeout: ReadTimeout", held_by=provider)


class Setup:
    def __init__(self, *names: str) -> None:
        self.clock = Clock()
        self.providers = [Scripted(name) for name in names]
        self.requests: list[tuple[str, str]] = []
        self.channel = FailoverSms(
            [Route(p, Breaker(POLICY, self.clock)) for p in self.providers],
            on_request=lambda provider, result, seconds: self.requests.append((provider, result)),
        )

    def breaker(self, index: int) -> Breaker:
        return self.channel.routes[index].breaker


async def test_the_first_provider_takes_messages_while_it_is_healthy() -> None:
    setup = Setup("a", "b")
    receipt = await setup.channel.send(sms())
    assert receipt == SendReceipt("a", "a-1")
    assert setup.providers[1].requests == []
    assert setup.requests == [("a", "accepted")]


async def test_a_refused_message_goes_to_the_next_provider_in_the_same_send() -> None:
    setup = Setup("a", "b")
    a, b = setup.providers
    a.script = [refused()]
    receipt = await setup.channel.send(sms())
    assert receipt.provider == "b"
    assert (a.requests, a.accepted, b.accepted) == (["P1|welcome|once|sms"], [], [sms().key])
    assert setup.requests == [("a", "error"), ("b", "accepted")]


async def test_an_open_breaker_sends_messages_to_the_next_at_once_until_a_probe_succeeds() -> None:
    setup = Setup("a", "b", "c")
    a, b, c = setup.providers
    a.down = refused()
    for n in range(2):
        assert (await setup.channel.send(sms(n))).provider == "b"
    assert setup.breaker(0).state is BreakerState.OPEN
    for n in range(2, 6):
        assert (await setup.channel.send(sms(n))).provider == "b"
    assert len(a.requests) == 2  # skipped while open: no request, no wait
    setup.clock.now += 5  # cool-down over: one probe, which fails and moves on to b
    assert (await setup.channel.send(sms(6))).provider == "b"
    assert len(a.requests) == 3
    assert setup.breaker(0).state is BreakerState.OPEN
    a.down = None  # a recovers; the next probe after the cool-down closes it
    assert (await setup.channel.send(sms(7))).provider == "b"
    setup.clock.now += 5
    assert (await setup.channel.send(sms(8))).provider == "a"
    assert setup.breaker(0).state is BreakerState.CLOSED
    assert (await setup.channel.send(sms(9))).provider == "a"
    assert c.requests == []
    assert sorted(a.accepted + b.accepted) == sorted(sms(n).key for n in range(10))


async def test_a_provider_that_may_hold_the_message_keeps_it() -> None:
    setup = Setup("a", "b")
    a, b = setup.providers
    a.script = [timed_out("a")]
    with pytest.raises(TransientError) as caught:
        await setup.channel.send(sms())
    assert caught.value.held_by == "a"
    assert b.requests == []
    assert setup.requests == [("a", "error")]


async def test_a_bound_retry_waits_for_its_provider_s_probe_and_never_goes_elsewhere() -> None:
    setup = Setup("a", "b")
    a, b = setup.providers
    a.down = refused()
    for n in range(2):
        await setup.channel.send(sms(n))  # a's breaker opens
    assert setup.breaker(0).state is BreakerState.OPEN
    asked = len(a.requests)
    with pytest.raises(TransientError) as caught:
        await setup.channel.send(sms(9, provider="a"))
    # no request: a is known to be down, and asking would only use up the message's attempts
    assert (caught.value.tried, caught.value.held_by) == (False, "a")
    assert caught.value.retry_after == 5.0  # when a's breaker lets a probe through
    assert len(a.requests) == asked
    assert sms(9).key not in b.requests
    setup.clock.now += 5  # the cool-down is over: the bound retry is a's probe
    a.down = None
    receipt = await setup.channel.send(sms(9, provider="a"))
    assert receipt.provider == "a"
    assert setup.breaker(0).state is BreakerState.CLOSED
    assert sms(9).key not in b.requests


async def test_a_retry_bound_to_a_provider_no_longer_configured_goes_down_the_list() -> None:
    setup = Setup("a", "b")
    assert (await setup.channel.send(sms(provider="gone"))).provider == "a"


async def test_a_permanent_answer_is_the_message_s_fault_and_moves_nowhere() -> None:
    setup = Setup("a", "b")
    a, b = setup.providers
    a.script = [PermanentError("gateway HTTP 400: invalid_number")] * 3
    for _ in range(3):
        with pytest.raises(PermanentError):
            await setup.channel.send(sms())
    assert b.requests == []
    assert setup.breaker(0).state is BreakerState.CLOSED
    assert setup.requests == [("a", "rejected")] * 3


async def test_the_last_provider_is_never_skipped() -> None:
    setup = Setup("a", "b")
    a, b = setup.providers
    a.down = b.down = refused()
    for _ in range(3):
        with pytest.raises(TransientError):
            await setup.channel.send(sms())
    assert setup.breaker(0).state is setup.breaker(1).state is BreakerState.OPEN
    with pytest.raises(TransientError):
        await setup.channel.send(sms())
    assert len(a.requests) == 2  # skipped once open
    assert len(b.requests) == 4  # the retries' own backoff spaces these


async def test_drops_repeats_only_when_every_provider_does() -> None:
    clock = Clock()
    gateways = FailoverSms([Route(Scripted("a"), Breaker(POLICY, clock))])
    mixed = FailoverSms(
        [Route(Scripted(n, drops_repeats=n == "a"), Breaker(POLICY, clock)) for n in "ab"]
    )
    assert gateways.drops_repeats is True
    assert mixed.drops_repeats is False
    with pytest.raises(ValueError, match="must differ"):
        FailoverSms([Route(Scripted("a"), Breaker(POLICY, clock)) for _ in range(2)])
    await mixed.close()
    assert all(route.adapter.closed for route in mixed.routes)  # type: ignore[attr-defined]


# --- the dispatcher binds a retry to the provider that may hold the message -----------------


def failover_world(*names: str) -> tuple[World, list[Scripted]]:
    world = World()
    providers = [Scripted(name) for name in names]
    clock = world.clock
    channel = FailoverSms(
        [Route(p, Breaker(POLICY, lambda: clock.now().timestamp())) for p in providers]
    )
    world.dispatcher.channels["sms"] = channel
    return world, providers


async def test_a_timed_out_message_is_retried_at_the_same_provider_and_sent_once() -> None:
    world, (a, b) = failover_world("a", "b")
    a.script = [timed_out("a"), refused()]
    person = registered(START, email=None)
    pid = person.participant_id
    key = f"{pid}|welcome|once|sms"
    await world.handle(person)
    await world.drain()
    entry = world.record(pid)["queue"][key]
    assert (entry["attempt"], entry["provider"]) == (2, "a")
    world.clock.advance(timedelta(seconds=20))
    await world.drain()  # a refuses: still bound to a, never offered to b
    entry = world.record(pid)["queue"][key]
    assert (entry["attempt"], entry["provider"]) == (3, "a")
    world.clock.advance(timedelta(seconds=20))
    await world.drain()
    assert a.requests == [key] * 3
    assert b.requests == []
    (sent,) = world.publisher.events
    assert (sent.provider, sent.attempt) == ("a", 3)  # type: ignore[attr-defined]
    assert world.record(pid)["sent"][key]["provider"] == "a"


async def test_a_refused_message_is_sent_by_the_next_provider_on_its_first_attempt() -> None:
    world, (a, b) = failover_world("a", "b")
    a.down = refused()
    person = registered(START, email=None)
    await world.handle(person)
    await world.drain()
    (sent,) = world.publisher.events
    assert (sent.provider, sent.attempt) == ("b", 1)  # type: ignore[attr-defined]
    assert world.record(person.participant_id)["queue"] == {}
    assert b.accepted == [f"{person.participant_id}|welcome|once|sms"]


# --- adapters: surely not taken, or maybe taken ---------------------------------------------


@pytest.mark.parametrize(
    ("where", "behaviour", "held"),
    [
        ("connection refused", None, False),
        ("no route, or no connection in time", None, False),
        ("sent, no answer in time", no_answer, True),
        ("sent, closed mid-answer", closes_mid_answer, True),
    ],
)
async def test_adapters_say_which_provider_may_hold_an_unanswered_message(
    where: str, behaviour: RawHandler | None, held: bool
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if behaviour is not None:
            url = await stack.enter_async_context(raw_provider(behaviour))
        else:
            url = REFUSED if where.startswith("connection refused") else UNROUTABLE
        gateway = JsonSmsGateway(url, "k", provider="gw-2", timeout=0.5)
        twilio = TwilioSms(url, "AC1", "t", provider="tw", timeout=0.5)
        for adapter, name in ((gateway, "gw-2"), (twilio, "tw")):
            with pytest.raises(TransientError) as caught:
                await adapter.send(sms())
            await adapter.close()
            assert caught.value.held_by == (name if held else None), str(caught.value)


async def test_adapters_name_receipts_after_the_configured_provider() -> None:
    async with provider(respond(202, {"message_id": "m-1", "sid": "SM1"})) as (url, _):
        gateway = JsonSmsGateway(url, "k", provider="gw-2")
        twilio = TwilioSms(url, "AC1", "t", provider="tw")
        assert (await gateway.send(sms())).provider == "gw-2"
        assert (await twilio.send(sms())).provider == "tw"
        await gateway.close()
        await twilio.close()
    assert JsonSmsGateway("http://gw.test", "k").provider == "sms-json"  # the old names


# --- settings and bootstrap ---------------------------------------------------------------


PROVIDERS = [
    {"name": "gw-a", "kind": "gateway", "url": "http://127.0.0.1:8025", "key": "k1"},
    {
        "name": "tw",
        "kind": "twilio",
        "url": "https://api.twilio.com",
        "key": "token",
        "account_sid": "AC1",
        "timeout_seconds": 3,
    },
]


def settings(**env: Any) -> Settings:
    return Settings(**env)


def test_the_provider_list_comes_from_json_in_order_with_secret_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFIER_SMS_PROVIDERS", json.dumps(PROVIDERS))
    routes = Settings().sms_route_list
    assert [(r.name, r.kind) for r in routes] == [("gw-a", "gateway"), ("tw", "twilio")]
    assert routes[1].key.get_secret_value() == "token"
    assert "token" not in repr(routes)


def test_without_a_list_the_older_variables_make_a_list_of_one() -> None:
    (one,) = settings(sms_gateway_url="http://gw:1").sms_route_list
    assert (one.name, one.kind, one.url) == ("sms-json", "gateway", "http://gw:1")
    (tw,) = settings(sms_provider="twilio", twilio_account_sid="AC9").sms_route_list
    assert (tw.name, tw.kind, tw.account_sid) == ("twilio", "twilio", "AC9")
    with pytest.raises(ValueError, match="NOTIFIER_TWILIO_ACCOUNT_SID"):
        _ = settings(sms_provider="twilio").sms_route_list


@pytest.mark.parametrize(
    ("providers", "says"),
    [
        ([], "at least one provider"),
        ([PROVIDERS[0], PROVIDERS[0]], "gw-a repeated"),
        ([{**PROVIDERS[1], "account_sid": None}], "account_sid is required for provider 'tw'"),
        ([{**PROVIDERS[0], "kind": "smpp"}], "sms_providers.0.kind"),
        ([{**PROVIDERS[0], "name": "Bad Name"}], "sms_providers.0.name"),
        ([{**PROVIDERS[0], "url": "ftp://x"}], "sms_providers.0.url"),
        ([{"name": "x", "kind": "gateway", "url": "http://x"}], "sms_providers.0.key"),
    ],
)
def test_a_bad_provider_list_is_refused_naming_the_field(
    providers: list[dict[str, Any]], says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(sms_providers=providers)
    assert says in str(caught.value)
    assert "sms_providers" in str(caught.value)


def test_breaker_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="sms_breaker_error_rate"):
        settings(sms_breaker_error_rate=0)
    with pytest.raises(ValidationError, match="sms_breaker_cool_down_seconds"):
        settings(sms_breaker_cool_down_seconds=0)


async def test_bootstrap_wires_breakers_to_the_clock_and_metrics_per_provider() -> None:
    clock = FrozenClock(START)
    metrics = Metrics()
    a, b = Scripted("gw-a"), Scripted("gw-b")
    a.down = refused()
    channel = sms_channel(
        settings(sms_breaker_failures=2, sms_breaker_cool_down_seconds=30),
        metrics=metrics,
        clock=clock,
        adapters=[a, b],
    )
    assert providers_of(channel) == ["gw-a", "gw-b"]
    metrics.start_at_zero([("sms", "gw-a"), ("sms", "gw-b")], [])

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"channel": "sms", **labels})

    for n in range(3):
        assert (await channel.send(sms(n))).provider == "gw-b"
    assert value("notifier_provider_breaker_state", provider="gw-a") == 2
    assert value("notifier_provider_breaker_state", provider="gw-b") == 0
    requests = "notifier_provider_requests_total"
    assert value(requests, provider="gw-a", result="error") == 2
    assert value(requests, provider="gw-b", result="accepted") == 3
    assert value("notifier_provider_request_seconds_count", provider="gw-b") == 3
    a.down = None
    clock.advance(timedelta(seconds=30))  # the notifier's clock ends the cool-down
    assert (await channel.send(sms(4))).provider == "gw-a"
    assert value("notifier_provider_breaker_state", provider="gw-a") == 0


# --- callbacks from a list of providers of both kinds ---------------------------------------


def test_callbacks_of_a_mixed_list_pass_when_a_provider_of_their_kind_signed_them(
    tmp_path: Path,
) -> None:
    secret = "gateway-callback-secret-0123"
    url = "https://sms-callbacks.example"
    providers = [*PROVIDERS, {**PROVIDERS[1], "name": "tw-2", "key": "token-2"}]
    access = web_access(
        settings(
            data_dir=tmp_path,
            sms_providers=providers,
            sms_callback_secret=secret,
            sms_callback_url=url,
        )
    )
    guard = access.callbacks
    assert isinstance(guard, EitherGuard)
    body = b'{"reference": "P1|welcome|once|sms", "status": "delivered"}'
    gateway = Callback("/receipts", signed_headers(secret.encode(), body, int(time.time())), body)
    assert guard.refusal(gateway) is None
    assert not twilio_signed(guard, gateway.headers)
    form = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]
    target = "/receipts?reference=P1%7Cwelcome%7Conce%7Csms"
    raw = urlencode(form).encode()
    for token in ("token", "token-2"):  # either Twilio account
        signature = twilio_signature(token, url + target, form)
        twilio = Callback(target, {TWILIO_HEADER: signature}, raw)
        assert twilio_signed(guard, twilio.headers)
        assert guard.refusal(twilio) is None
    forged = Callback(target, {TWILIO_HEADER: twilio_signature("nope", url + target, form)}, raw)
    assert guard.refusal(forged) is not None
    assert guard.refusal(Callback("/receipts", {}, body)) is not None
    with pytest.raises(ValueError, match="needs NOTIFIER_SMS_CALLBACK_URL"):
        web_access(settings(sms_providers=providers, sms_callback_secret=secret))
    with pytest.raises(ValueError, match="NOTIFIER_SMS_CALLBACK_SECRET is not set"):
        web_access(settings(sms_providers=providers, sms_callback_url=url))


async def test_a_route_s_providers_set_the_order_for_its_kind() -> None:
    setup = Setup("a", "b", "c")
    a, _, c = setup.providers
    campaign = replace(sms(), providers=("c", "b"))
    assert (await setup.channel.send(campaign)).provider == "c"
    c.script = [refused()]
    assert (await setup.channel.send(campaign)).provider == "b"  # its own fallback
    assert a.requests == []  # never a provider the route left out
    assert (await setup.channel.send(sms())).provider == "a"  # other kinds: the list's order
    bound = replace(campaign, provider="a")  # a retry stays where it may be held
    assert (await setup.channel.send(bound)).provider == "a"


def test_a_route_naming_an_unknown_provider_stops_the_start() -> None:
    providers = [
        SmsProvider(name=n, kind="gateway", url="http://127.0.0.1:1", key=SecretStr("k"))
        for n in "ab"
    ]
    routes = '{"campaign_announcement": {"channels": ["sms"], "sms_providers": ["b", "cheap"]}}'
    with pytest.raises(ValidationError, match=r"campaign_announcement\.sms_providers names cheap"):
        Settings(sms_providers=providers, routes=routes)
    ok = Settings(sms_providers=providers, routes=routes.replace('"cheap"', '"a"'))
    assert ok.route_table["campaign_announcement"].sms_providers == ("b", "a")
