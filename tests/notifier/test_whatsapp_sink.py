"""The local WhatsApp Cloud API (`make run`'s provider): what it tells a sender that resends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from services.common.ports import free_port
from services.notifier.adapters.whatsapp import WhatsAppCloud
from services.notifier.domain.model import WhatsAppMessage
from services.notifier.sinks.whatsapp_sink import CloudApi, approved_templates
from tests.notifier.http_stub import Seen, provider

MESSAGE = WhatsAppMessage(
    key="p-1|welcome|once|whatsapp",
    to="+6281234567890",
    template="bebas_welcome",
    language="id",
    parameters=("Ibu Sri", "22012345678", "JKK, JKM", "Rp16.800", "kanal pembayaran resmi"),
)
YESTERDAY = datetime(2026, 12, 4, 16, 59, 58, 250000, tzinfo=UTC)


@asynccontextmanager
async def cloud_api(
    data_dir: Path, webhook_url: str
) -> AsyncIterator[tuple[WhatsAppCloud, CloudApi]]:
    api = CloudApi(
        data_dir, "t", approved_templates(), webhook_url=webhook_url, app_secret=b"secret"
    )
    runner = web.AppRunner(api.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sender = WhatsAppCloud(f"http://127.0.0.1:{port}", "local", "t")
    try:
        yield sender, api
    finally:
        await sender.close()
        await runner.cleanup()


async def statuses(queue: asyncio.Queue[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(queue.get(), 10) for _ in range(count)]


async def test_a_resend_hears_of_the_message_again_with_its_first_id_and_time(
    tmp_path: Path,
) -> None:
    """A notifier rebuilt after midnight resends a message the API took yesterday (the sink
    restarted meanwhile, reading what it had taken): the repeat is that message, its statuses
    carry its id and yesterday's time, so reporting dates the delivery as before."""
    first_id = "wamid.first"
    taken = {
        "message_id": first_id,
        "to": MESSAGE.to,
        "reference": MESSAGE.key,
        "received_at": YESTERDAY.isoformat(),
    }
    (tmp_path / "whatsapp.jsonl").write_text(json.dumps(taken) + "\n", encoding="utf-8")
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def take(seen: Seen) -> web.StreamResponse:
        for status in json.loads(seen.body)["entry"][0]["changes"][0]["value"]["statuses"]:
            heard.put_nowait(status)
        return web.json_response({})

    async with (
        provider(take) as (notifier, _),
        cloud_api(tmp_path, f"{notifier}/wa") as (
            sender,
            _,
        ),
    ):
        receipt = await sender.send(MESSAGE)
        repeat = await statuses(heard, 2)
        other = await sender.send(replace(MESSAGE, key="p-2|welcome|once|whatsapp"))
        fresh = await statuses(heard, 2)
    assert receipt.provider_message_id == first_id
    assert [(s["id"], s["status"]) for s in repeat] == [(first_id, "sent"), (first_id, "delivered")]
    assert {s["timestamp"] for s in repeat} == {str(int(YESTERDAY.timestamp()))}
    # a message taken now is dated now
    stored = [json.loads(line) for line in (tmp_path / "whatsapp.jsonl").read_text().splitlines()]
    assert stored[-1]["message_id"] == other.provider_message_id != first_id
    now = str(int(datetime.fromisoformat(stored[-1]["received_at"]).timestamp()))
    assert {s["timestamp"] for s in fresh} == {now}
    assert (tmp_path / "whatsapp-duplicates.jsonl").read_text().count(MESSAGE.key) == 1
