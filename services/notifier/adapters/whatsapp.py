"""WhatsApp through the WhatsApp Business Cloud API (Meta's Graph API), template messages only.

Request  POST {base}/{version}/{phone-number-id}/messages
         headers  Authorization: Bearer <NOTIFIER_WHATSAPP_TOKEN>, Content-Type: application/json
         body     {"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "6281234567890", "type": "template",
                   "biz_opaque_callback_data": "<notification key>",
                   "template": {"name": "bebas_welcome", "language": {"code": "id"},
                                "components": [{"type": "body", "parameters": [
                                    {"type": "text", "text": "Ibu Siti"}, …]}]}}
Response 200      {"messaging_product": "whatsapp", "contacts": [{"input": …, "wa_id": …}],
                   "messages": [{"id": "wamid.…"}]}
         error    {"error": {"message": …, "type": …, "code": 131026, "error_data": …}}
                  -> `domain/whatsapp.classify`: rate limits, 5xx and token trouble are
                  transient; "not on WhatsApp" (131026) is permanent with an SMS fallback;
                  other 4xx (template missing, bad parameter) are permanent.

The Cloud API has no client reference that drops a repeat, so, as with Twilio, a crash
between "accepted" and "recorded" may repeat a message: dispatch rounds on this channel stay
as small as its concurrency (`drops_repeats = False`).
"""

from __future__ import annotations

from typing import Any

from services.notifier.adapters.http_post import Answer, HttpFailure, HttpPoster
from services.notifier.adapters.ratelimit import RateLimiter
from services.notifier.adapters.sms_http import retry_after_seconds, transport_failure
from services.notifier.domain.model import Message, WhatsAppMessage
from services.notifier.domain.whatsapp import classify
from services.notifier.ports import PermanentError, SendReceipt, TransientError

DEFAULT_API_VERSION = "v21.0"


def request_body(message: WhatsAppMessage) -> dict[str, Any]:
    """The Cloud API's template message for `message` (its `to` without the `+`)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.removeprefix("+"),
        "type": "template",
        "biz_opaque_callback_data": message.key,
        "template": {
            "name": message.template,
            "language": {"code": message.language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": text} for text in message.parameters],
                }
            ],
        },
    }


class WhatsAppCloud:
    name = "whatsapp"
    provider = "whatsapp-cloud"
    #: no client reference: a repeat is a second message
    drops_repeats = False

    def __init__(
        self,
        base_url: str,
        phone_number_id: str,
        token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        rate_per_second: float = 50.0,
        provider: str = "whatsapp-cloud",
    ) -> None:
        self.provider = provider
        self._path = f"/{api_version}/{phone_number_id}/messages"
        self._http = HttpPoster(
            base_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )
        self._limit = RateLimiter(rate_per_second)

    async def send(self, message: Message) -> SendReceipt:
        if not isinstance(message, WhatsAppMessage):
            raise PermanentError("the WhatsApp channel only sends WhatsAppMessage")
        await self._limit.acquire()
        try:
            response = await self._http.post(self._path, json=request_body(message))
        except HttpFailure as exc:
            raise transport_failure("whatsapp", self.provider, exc) from exc
        body = _json(response)
        if response.is_success:
            messages = body.get("messages") if body else None
            first = messages[0] if isinstance(messages, list) and messages else {}
            return SendReceipt(self.provider, first.get("id") if isinstance(first, dict) else None)
        verdict = classify(response.status, body)
        if verdict.transient:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(verdict.reason, retry_after=retry_after)
        raise PermanentError(verdict.reason, fallback="sms" if verdict.not_on_whatsapp else None)

    async def close(self) -> None:
        await self._http.close()


def _json(response: Answer) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
