"""SMS through an ordered list of providers, each behind its circuit breaker (one ChannelPort).

A message goes to the first provider whose breaker lets it through. When that provider surely
did not take it (connection refused, 5xx/429 answered) the next one gets it at once, in the
same send: while the first provider's breaker is open, messages skip it without waiting in
retries. The last provider is never skipped: there is nowhere further to go, and the
dispatcher's retries with backoff already space the attempts (a one-provider list behaves as
that provider alone).

A provider that may have accepted the message without answering (a timeout or a lost
connection after the request went out: `TransientError.held_by`) keeps it: the error goes
back to the dispatcher, whose retry entry remembers the provider, and the retry comes here
bound to it (`SmsMessage.provider`) and goes to that provider only, with the same reference,
until it answers or the retries end. While that provider's breaker is open the retry waits
without a request (`TransientError.tried` False: the dispatcher does not count an attempt), and
the first one after the cool-down is the breaker's probe. So a message one provider
accepted is never sent by another. A message bound to a provider no longer configured goes
down the list again (logged): whoever removed the provider chose so.

Every request is counted here, per provider (`on_request`): one send may make several.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.notifier.domain.breaker import Breaker
from services.notifier.domain.model import Message, SmsMessage
from services.notifier.ports import ChannelPort, PermanentError, SendReceipt, TransientError

log = logging.getLogger(__name__)

#: (provider, result: accepted | rejected | error, seconds the request took)
RequestObserver = Callable[[str, str, float], None]


@dataclass(frozen=True)
class Route:
    """One provider of the list: its adapter (whose `provider` is its configured name) and
    its breaker."""

    adapter: ChannelPort
    breaker: Breaker

    @property
    def name(self) -> str:
        return self.adapter.provider


class FailoverSms:
    name = "sms"
    #: the dispatcher leaves request counting to this channel (it knows every provider tried)
    reports_requests = True

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        on_request: RequestObserver = lambda provider, result, seconds: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not routes:
            raise ValueError("at least one SMS provider is needed")
        names = [route.name for route in routes]
        if len(set(names)) != len(names):
            raise ValueError(f"SMS provider names must differ: {names}")
        self.routes = list(routes)
        self._by_name = {route.name: route for route in self.routes}
        self.provider = "+".join(names)
        #: a crash may re-offer a whole round only if every provider drops a repeated
        #: reference: the round may have gone to any of them
        self.drops_repeats = all(route.adapter.drops_repeats for route in self.routes)
        self._on_request = on_request
        self._monotonic = monotonic

    @property
    def providers(self) -> list[str]:
        return [route.name for route in self.routes]

    async def send(self, message: Message) -> SendReceipt:
        if not isinstance(message, SmsMessage):
            raise PermanentError("the SMS channel only sends SmsMessage")
        if message.provider is not None:
            held = self._by_name.get(message.provider)
            if held is not None:
                if not held.breaker.allow():
                    # its provider is down: asking again now would only use up the message's
                    # attempts (and a 60 s outage outlasts the six of them); it waits for the
                    # breaker's probe instead, and is tried again once that lets it through
                    raise TransientError(
                        f"held by {held.name}, whose breaker is open",
                        retry_after=max(1.0, held.breaker.retry_in()),
                        held_by=held.name,
                        tried=False,
                    )
                return await self._attempt(held, message)
            log.warning(
                "%s may be with SMS provider %r, which is no longer configured: offering it "
                "down the list",
                message.key,
                message.provider,
            )
        routes = self._routes_for(message)
        last = routes[-1]
        for route in routes:
            if route is not last and not route.breaker.allow():
                continue
            try:
                return await self._attempt(route, message)
            except TransientError as exc:
                if exc.held_by is not None or route is last:
                    raise
                log.info("%s: %s did not take it (%s), next provider", message.key, route.name, exc)
        raise AssertionError("unreachable: the last provider either answers or raises")

    def _routes_for(self, message: SmsMessage) -> list[Route]:
        """The providers the message's route names, in its order; else the list's. Names no
        longer configured are skipped (Settings refuses them at start)."""
        named = [self._by_name[n] for n in message.providers if n in self._by_name]
        return named or self.routes

    async def _attempt(self, route: Route, message: SmsMessage) -> SendReceipt:
        started = self._monotonic()
        result = "error"
        try:
            receipt = await route.adapter.send(message)
            result = "accepted"
        except PermanentError:
            result = "rejected"  # an answer about the message: the provider is healthy
            route.breaker.success()
            raise
        except TransientError:
            route.breaker.failure()
            raise
        except BaseException:
            route.breaker.release()  # cancelled: it told nothing
            result = ""
            raise
        finally:
            if result:
                self._on_request(route.name, result, self._monotonic() - started)
        route.breaker.success()
        return receipt

    async def close(self) -> None:
        for route in self.routes:
            await route.adapter.close()
