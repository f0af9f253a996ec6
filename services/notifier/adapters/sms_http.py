"""SMS through a generic JSON HTTP gateway.

Request  POST {base}/v1/messages
         headers  X-API-Key: <NOTIFIER_SMS_API_KEY>, Content-Type: application/json
         body     {"to": "+6281234567890", "text": "...", "sender": "BEBASCEMAS",
                   "reference": "<notification key>"}
Response 2xx      {"message_id": "gw-…", "status": "accepted", "duplicate": false}
         400/422  {"error": "invalid_number", "detail": "..."}  -> permanent
         other 4xx                                               -> permanent
         408, 429 (Retry-After: seconds), 5xx, timeout, refused  -> transient

`reference` is the client reference: a gateway that already accepted a message with that
reference answers 2xx with the first message id ("duplicate": true) and sends nothing again.
That is what makes a resend after a crash between "accepted" and "recorded" harmless.
"""

from __future__ import annotations

from services.notifier.adapters.http_post import Answer, HttpFailure, HttpPoster
from services.notifier.adapters.ratelimit import RateLimiter
from services.notifier.domain.model import Message, SmsMessage
from services.notifier.ports import PermanentError, SendReceipt, TransientError


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def transport_failure(who: str, provider: str, exc: HttpFailure) -> TransientError:
    """A request that got no answer. Unless it never left (refused, no connection), the
    provider may have accepted it: `held_by` keeps the retry with that provider."""
    return TransientError(f"{who} {exc}", held_by=provider if exc.sent else None)


def classify(response: Answer) -> None:
    """Raise the right ChannelError for a non-2xx answer."""
    status = response.status
    detail = response.text[:200]
    if status in (408, 429) or status >= 500:
        raise TransientError(
            f"gateway HTTP {status}: {detail}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    raise PermanentError(f"gateway HTTP {status}: {detail}")


class JsonSmsGateway:
    name = "sms"
    provider = "sms-json"
    #: the gateway answers a repeated `reference` with the first message id and sends nothing
    drops_repeats = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        rate_per_second: float = 100.0,
        provider: str = "sms-json",
    ) -> None:
        self.provider = provider  # its name in events and metrics (one of several gateways)
        self._http = HttpPoster(base_url, timeout=timeout, headers={"X-API-Key": api_key})
        self._limit = RateLimiter(rate_per_second)

    async def send(self, message: Message) -> SendReceipt:
        if not isinstance(message, SmsMessage):
            raise PermanentError("the SMS channel only sends SmsMessage")
        await self._limit.acquire()
        body = {
            "to": message.to,
            "text": message.text,
            "sender": message.sender,
            "reference": message.key,
        }
        try:
            response = await self._http.post("/v1/messages", json=body)
        except HttpFailure as exc:
            raise transport_failure("gateway", self.provider, exc) from exc
        if response.is_success:
            try:
                message_id = response.json().get("message_id")
            except ValueError:
                message_id = None
            return SendReceipt(self.provider, str(message_id) if message_id else None)
        classify(response)
        raise AssertionError("unreachable")  # pragma: no cover - classify always raises

    async def close(self) -> None:
        await self._http.close()
