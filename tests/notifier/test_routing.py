"""The routing table (`NOTIFIER_ROUTES`): which channels each message kind takes, with
fallbacks; the defaults are the notifier's long-standing choices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.vocab import Channel
from services.notifier.domain.routing import DEFAULT_ROUTES, parse_routes, route_for
from services.notifier.settings import Settings
from tests.notifier.factories import broadcast, opted_out, registered
from tests.notifier.test_service import START, World

PERSON: dict[str, Any] = {"email": "sari@example.id", "preferred_channel": "sms", "opted_out": []}
CAMPAIGN = "campaign_announcement"


@pytest.mark.parametrize(
    ("route", "person", "expected"),
    [
        ({"mode": "all", "channels": ["sms", "email"]}, PERSON, ["sms", "email"]),
        ({"mode": "first", "channels": ["email", "sms"]}, PERSON, ["email"]),
        # no e-mail address: the fallback
        ({"mode": "first", "channels": ["email", "sms"]}, {**PERSON, "email": None}, ["sms"]),
        # opted out of the first: the next
        (
            {"mode": "first", "channels": ["sms", "email"]},
            {**PERSON, "opted_out": ["sms"]},
            ["email"],
        ),
        # the person's preference first, named once however often it is listed
        (
            {"mode": "all", "channels": ["preferred", "sms", "email"]},
            {**PERSON, "preferred_channel": "email"},
            ["email", "sms"],
        ),
        # no WhatsApp channel here (the default): its fans are reached like SMS fans
        (
            {"mode": "first", "channels": ["preferred", "email"]},
            {**PERSON, "preferred_channel": "whatsapp", "consent_whatsapp": True},
            ["sms"],
        ),
        ({"mode": "first", "channels": ["email"]}, {**PERSON, "email": None}, []),
    ],
)
def test_a_route_picks_the_reachable_channels_in_its_order(
    route: dict[str, Any], person: dict[str, Any], expected: list[str]
) -> None:
    routes = parse_routes(json.dumps({CAMPAIGN: route}))
    assert route_for(CAMPAIGN, routes).pick(person) == expected


WA_FAN: dict[str, Any] = {**PERSON, "preferred_channel": "whatsapp", "consent_whatsapp": True}
WITH_WHATSAPP = frozenset({"sms", "email", "whatsapp"})


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (WA_FAN, ["whatsapp"]),
        # WhatsApp asks for an opt-in of its own: consent to reminders is not enough
        ({**WA_FAN, "consent_whatsapp": False}, ["sms"]),
        ({**WA_FAN, "opted_out": ["whatsapp"]}, ["sms"]),
        # a message found the number off WhatsApp: SMS from then on
        ({**WA_FAN, "not_on_whatsapp": "2026-12-05T04:00:00+00:00"}, ["sms"]),
        # consent alone does not move a person who prefers e-mail
        ({**WA_FAN, "preferred_channel": "email"}, ["email"]),
    ],
)
def test_whatsapp_takes_consent_and_an_account(person: dict[str, Any], expected: list[str]) -> None:
    default = route_for(CAMPAIGN, DEFAULT_ROUTES)
    assert default.pick(person, WITH_WHATSAPP) == expected
    assert default.pick(person) == (["email"] if expected == ["email"] else ["sms"])


def test_unnamed_kinds_take_the_default_route_and_the_defaults_stay() -> None:
    routes = parse_routes('{"default": {"mode": "first", "channels": ["email", "sms"]}}')
    assert route_for("contribution_due_d1", routes).pick(PERSON) == ["email"]
    assert route_for("welcome", routes) == DEFAULT_ROUTES["welcome"]
    assert parse_routes("") == DEFAULT_ROUTES


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ("[]", "an object of message kind"),
        ('{"birthday": {"channels": ["sms"]}}', "birthday: not a message kind"),
        ('{"welcome": {"mode": "some", "channels": ["sms"]}}', "welcome.mode"),
        ('{"welcome": {"mode": "all", "channels": []}}', "welcome.channels: a non-empty list"),
        ('{"welcome": {"channels": ["fax"]}}', "welcome.channels: 'fax'"),
        ('{"welcome": {"channels": ["sms"], "provider": "x"}}', "welcome: a route is"),
    ],
)
def test_a_wrong_table_is_refused_naming_the_kind_and_field(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_routes(text)
    with pytest.raises(ValidationError, match="routes"):
        Settings(routes=text)


async def test_a_campaign_routed_to_every_channel_is_queued_on_each_once() -> None:
    routes = parse_routes(f'{{"{CAMPAIGN}": {{"mode": "all", "channels": ["email", "sms"]}}}}')
    world = World(routes=routes)
    fisher = registered(START, segment="fisher", email="nelayan@example.id")
    quiet = registered(START, segment="fisher", email="diam@example.id")
    for person in (fisher, quiet):
        await world.handle(person)
    await world.handle(opted_out(quiet.participant_id, [Channel.EMAIL], START))
    await world.drain()
    await world.handle(broadcast(START, segments=["fisher"]))
    await world.drain()
    assert world.kinds("email").count(CAMPAIGN) == 1  # the one who did not opt out of e-mail
    assert world.kinds("sms").count(CAMPAIGN) == 2


def test_a_route_may_name_its_sms_providers() -> None:
    routes = parse_routes('{"default": {"channels": ["sms"], "sms_providers": ["gw-b", "gw-a"]}}')
    assert routes["default"].sms_providers == ("gw-b", "gw-a")
    assert routes["welcome"].sms_providers == ()
    for text, says in [
        ('{"welcome": {"channels": ["sms"], "sms_providers": "gw-a"}}', "a list of SMS provider"),
        ('{"welcome": {"channels": ["sms"], "sms_providers": ["a", "a"]}}', "each provider once"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_routes(text)
