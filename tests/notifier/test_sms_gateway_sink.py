"""The local SMS gateway (`make run`'s provider): what it tells a sender that resends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from services.common.ports import free_port
from services.notifier.adapters.sms_http import JsonSmsGateway
from services.notifier.domain.model import SmsMessage
from services.notifier.sinks.sms_gateway import Gateway
from tests.notifier.http_stub import Seen, provider

MESSAGE = SmsMessage(key="p-1|welcome|once|sms", to="+6281234567890", text="Halo", sender="B")


async def test_a_resend_hears_of_the_delivery_again_with_its_first_time(tmp_path: Path) -> None:
    """A rebuilt notifier resends what it had sent; the receipt it gets again keeps the
    delivery's time, so reporting dates the outcome on the same day as before."""
    receipts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def take(seen: Seen) -> web.StreamResponse:
        receipts.put_nowait(json.loads(seen.body))
        return web.json_response({}, status=202)

    async with provider(take) as (notifier, _):
        gateway = Gateway(tmp_path, receipt_url=f"{notifier}/receipts", callback_secret=b"s")
        runner = web.AppRunner(gateway.app())
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        sender = JsonSmsGateway(f"http://127.0.0.1:{port}", "k")
        try:
            first = await sender.send(MESSAGE)
            first_receipt = await asyncio.wait_for(receipts.get(), 10)
            again = await sender.send(MESSAGE)
            second_receipt = await asyncio.wait_for(receipts.get(), 10)
        finally:
            await sender.close()
            await runner.cleanup()
    assert again.provider_message_id == first.provider_message_id
    assert second_receipt == first_receipt
    stored = json.loads((tmp_path / "sms.jsonl").read_text().splitlines()[0])
    assert first_receipt["at"] == stored["received_at"]
