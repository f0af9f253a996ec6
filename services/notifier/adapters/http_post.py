"""One HTTP POST to a provider, and what a failed one means for the message.

The providers' adapters (JSON gateway, Twilio, WhatsApp Cloud) post through this with aiohttp.
It was httpx until a profile of a welcome burst (docs/performance.md, 2026-12-05) put 30 % of a
notifier worker in httpx and httpcore (an expiry check of every pooled connection and anyio
locks and cancel scopes per request): measured against the same local gateway, aiohttp spends
about 185 µs of CPU per request where httpx spends 800–860 µs.

Timeouts are per phase, as httpx's were: `connect` bounds waiting for a pooled connection and
opening one (a request that never left: `HttpFailure.sent` False, the next provider may take
the message), `sock_read` bounds each wait for the answer (the provider may have the message).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=CIMultiDict)  # names in any case

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.text)


class HttpFailure(Exception):
    """No answer. `sent` False: the request surely never reached the provider."""

    def __init__(self, detail: str, *, sent: bool, timeout: bool) -> None:
        super().__init__(detail)
        self.sent = sent
        self.timeout = timeout


class HttpPoster:
    """POSTs to one provider's base URL over a pooled aiohttp session, opened on first use
    (inside the worker's event loop, never at import or construction)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        connections: int = 100,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self._headers = dict(headers or {})
        if auth:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        self._session: aiohttp.ClientSession | None = None

    async def post(
        self, path: str, *, json: Any = None, data: dict[str, str] | None = None
    ) -> Answer:
        session = self._session_now()
        try:
            async with session.post(self._base + path, json=json, data=data) as response:
                text = await response.text()
                return Answer(response.status, text, CIMultiDict(response.headers))
        except aiohttp.ClientConnectorError as exc:  # refused, no route, DNS: never left
            raise HttpFailure(f"unreachable: {exc!r}", sent=False, timeout=False) from exc
        except aiohttp.ConnectionTimeoutError as exc:  # no connection in time: never left
            raise HttpFailure(f"timeout: {exc!r}", sent=False, timeout=True) from exc
        except TimeoutError as exc:  # sent, no answer in time
            raise HttpFailure(f"timeout: {exc!r}", sent=True, timeout=True) from exc
        except aiohttp.ClientError as exc:  # reset or closed after the request went out
            raise HttpFailure(f"unreachable: {exc!r}", sent=True, timeout=False) from exc

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
