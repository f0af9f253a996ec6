"""A real HTTP server standing in for an SMS or WhatsApp provider in the adapters' tests.

It listens on 127.0.0.1 inside the test's event loop, records every request and answers with
what the test's `answer` function returns, so the adapters' aiohttp client does everything it
does against a provider: connect, send, read, reuse the connection. `no_answer` and
`closes_mid_answer` give the two ways a provider can leave a request unanswered after it went
out; `REFUSED` and `UNROUTABLE` two ways a request never leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from services.common.ports import free_port


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes


Answer = Callable[[Seen], web.StreamResponse]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def respond(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    """Always the same JSON answer."""
    return lambda seen: web.json_response(body or {}, status=status, headers=headers)


@contextlib.asynccontextmanager
async def provider(answer: Answer) -> AsyncIterator[tuple[str, list[Seen]]]:
    """(base URL, requests seen so far) of a provider answering with `answer`."""
    seen: list[Seen] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        record = Seen(request.method, request.path, request.headers, await request.read())
        seen.append(record)
        return answer(record)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_provider(on_request: RawHandler) -> AsyncIterator[str]:
    """A TCP server that reads one request's head and then does `on_request`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            await on_request(reader, writer)

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def no_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Took the request, never answers; ends when the client gives up and closes."""
    await reader.read()


async def closes_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Took the request, starts an answer and closes the connection."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    writer.close()


async def trickles(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers 200 slowly: a byte of its body every 0.1 s for a second (the connection stays
    busy for that second while no single read waits long)."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n")
    for byte in b'{"a":"....."}'[:12]:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)
    writer.close()


#: nothing listens there: connection refused
REFUSED = f"http://127.0.0.1:{free_port()}"
#: a TEST-NET-1 address (RFC 5737): no route, or no answer until the connect timeout
UNROUTABLE = "http://192.0.2.1:81"
