"""Which channels a message kind goes out on: a table, not code (`NOTIFIER_ROUTES`).

A route names channels in order, `preferred` standing for the person's preferred channel, and
a mode: `all` sends on every listed channel the person can be reached on, `first` on the first
one only (the others are its fallbacks: a person without e-mail, or who opted out of SMS, gets
the next). The defaults are what the notifier always did: the welcome on SMS and e-mail, every
other kind on the preferred channel, else SMS, else e-mail. A person is reachable on SMS
always (every participant has a phone), on e-mail when they gave an address, on WhatsApp when
the notifier has a WhatsApp account, the person opted in to WhatsApp (`consent_whatsapp`:
WhatsApp's rules ask for an opt-in per channel) and no message found their number off
WhatsApp, and never on a channel they opted out of.

A route may also name the SMS providers its kind goes through, in failover order
(`sms_providers`, names from `NOTIFIER_SMS_PROVIDERS`): say, campaigns through the cheaper
gateway first and reminders through the more reliable one. Unnamed: the provider list's order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from schemas.vocab import MessageKind

PREFERRED = "preferred"
CHANNELS = ("sms", "email", "whatsapp")
#: the channels a notifier without a WhatsApp account has
WITHOUT_WHATSAPP = frozenset({"sms", "email"})
KINDS = frozenset(kind.value for kind in MessageKind)
DEFAULT_KIND = "default"  # the route of every kind the table does not name

Mode = Literal["all", "first"]


@dataclass(frozen=True)
class Route:
    mode: Mode
    channels: tuple[str, ...]
    #: the SMS providers this kind goes through, in failover order (empty: the list's order)
    sms_providers: tuple[str, ...] = ()

    def pick(
        self, person: Mapping[str, Any], available: frozenset[str] = WITHOUT_WHATSAPP
    ) -> list[str]:
        """The channels this person gets the message on (what `reachable` leaves), in the
        route's order; `available`: the channels this notifier has adapters for."""
        reach = reachable(person, available)
        chosen: list[str] = []
        for name in self.channels:
            channel = _preferred(person, reach) if name == PREFERRED else name
            if channel in reach and channel not in chosen:
                chosen.append(channel)
        return chosen if self.mode == "all" else chosen[:1]


DEFAULT_ROUTES: dict[str, Route] = {
    MessageKind.WELCOME.value: Route("all", ("sms", "email")),
    DEFAULT_KIND: Route("first", (PREFERRED, "sms", "email")),
}


def reachable(person: Mapping[str, Any], available: frozenset[str]) -> set[str]:
    """The channels the person can be sent anything on."""
    reach = {"sms"} | ({"email"} if person.get("email") else set())
    if person.get("consent_whatsapp") and not person.get("not_on_whatsapp"):
        reach.add("whatsapp")
    return (reach & available) - set(person.get("opted_out", []))


def route_for(kind: str, routes: Mapping[str, Route]) -> Route:
    return routes.get(kind) or routes.get(DEFAULT_KIND) or DEFAULT_ROUTES[DEFAULT_KIND]


def parse_routes(text: str) -> dict[str, Route]:
    """The defaults with the JSON object's routes over them, e.g.
    `{"campaign_announcement": {"mode": "first", "channels": ["sms"]}}`; ValueError naming the
    kind and field that are wrong."""
    routes = dict(DEFAULT_ROUTES)
    for kind, spec in kind_table(text, "route").items():
        routes[kind] = _route(kind, spec)
    return routes


def kind_table(text: str, what: str) -> dict[str, Any]:
    """A setting's JSON object of message kind -> `what` ({} for a blank setting); ValueError
    when it is not JSON or not an object."""
    if not text.strip():
        return {}
    try:
        table = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(table, dict):
        raise ValueError(f"an object of message kind -> {what}")
    return table


def _route(kind: str, spec: Any) -> Route:
    if kind not in KINDS and kind != DEFAULT_KIND:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"{kind}: not a message kind ({known}, or {DEFAULT_KIND})")
    if not isinstance(spec, dict) or set(spec) - {"mode", "channels", "sms_providers"}:
        raise ValueError(
            f"{kind}: a route is {{'mode': 'all'|'first', 'channels': [...], "
            "'sms_providers': [...] (optional)}"
        )
    mode = spec.get("mode", "first")
    if mode not in ("all", "first"):
        raise ValueError(f"{kind}.mode: 'all' or 'first', not {mode!r}")
    channels = spec.get("channels")
    if not isinstance(channels, list) or not channels:
        raise ValueError(f"{kind}.channels: a non-empty list")
    for name in channels:
        if name not in (*CHANNELS, PREFERRED):
            raise ValueError(f"{kind}.channels: {name!r} is not sms, email, whatsapp or preferred")
    providers = spec.get("sms_providers", [])
    if not isinstance(providers, list) or not all(isinstance(p, str) and p for p in providers):
        raise ValueError(f"{kind}.sms_providers: a list of SMS provider names")
    if len(set(providers)) != len(providers):
        raise ValueError(f"{kind}.sms_providers: each provider once")
    return Route(mode, tuple(channels), tuple(providers))


def _preferred(person: Mapping[str, Any], reach: set[str]) -> str:
    preferred = person.get("preferred_channel")
    if preferred == "whatsapp" and "whatsapp" not in reach:
        # no WhatsApp account here, no opt-in, or the number is not on WhatsApp: a person
        # who prefers WhatsApp prefers their phone, so SMS stands in for it
        return "sms"
    return preferred if preferred in ("email", "whatsapp") else "sms"
