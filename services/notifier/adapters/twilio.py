"""SMS through a Twilio-compatible REST API (Twilio, and the many providers that copy it).

POST {base}/2010-04-01/Accounts/{sid}/Messages.json, form-encoded To/From/Body, HTTP basic
auth (account sid, auth token). Twilio has no client reference for de-duplication, so the
crash window between "accepted" and "recorded" can repeat a message with this adapter; the
JSON gateway adapter closes that window (see README).

With a `callback_url` (NOTIFIER_SMS_CALLBACK_URL) each message asks Twilio for status
callbacks at `{callback_url}/receipts?reference=<notification key>`: Twilio has no client
reference, so the key rides in the URL, which its X-Twilio-Signature covers.
"""

from __future__ import annotations

from urllib.parse import quote

from services.notifier.adapters.http_post import HttpFailure, HttpPoster
from services.notifier.adapters.ratelimit import RateLimiter
from services.notifier.adapters.sms_http import classify, transport_failure
from services.notifier.domain.model import Message, SmsMessage
from services.notifier.ports import PermanentError, SendReceipt


class TwilioSms:
    name = "sms"
    provider = "twilio"
    #: no client reference: a repeat is a second SMS
    drops_repeats = False

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        timeout: float = 5.0,
        rate_per_second: float = 10.0,
        callback_url: str | None = None,
        provider: str = "twilio",
    ) -> None:
        self.provider = provider  # its name in events and metrics (one of several providers)
        self._receipts = f"{callback_url.rstrip('/')}/receipts" if callback_url else None
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._http = HttpPoster(base_url, timeout=timeout, auth=(account_sid, auth_token))
        self._limit = RateLimiter(rate_per_second)

    async def send(self, message: Message) -> SendReceipt:
        if not isinstance(message, SmsMessage):
            raise PermanentError("the SMS channel only sends SmsMessage")
        await self._limit.acquire()
        form = {"To": message.to, "From": message.sender, "Body": message.text}
        if self._receipts:
            form["StatusCallback"] = f"{self._receipts}?reference={quote(message.key, safe='')}"
        try:
            response = await self._http.post(self._path, data=form)
        except HttpFailure as exc:
            raise transport_failure("twilio", self.provider, exc) from exc
        if response.is_success:
            return SendReceipt(self.provider, response.json().get("sid"))
        classify(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self._http.close()
