"""E-mail over SMTP with aiosmtplib: multipart/alternative (plain + HTML), a Message-ID derived
from the notification key (so a resend after a crash is recognisably the same mail), and the
key itself in `X-Bebas-Notification-Key`."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

import aiosmtplib

from services.notifier.adapters.ratelimit import RateLimiter
from services.notifier.domain.model import EmailMessage, Message
from services.notifier.ports import PermanentError, SendReceipt, TransientError


def message_id_for(key: str, domain: str = "bebas-cemas.notifier") -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def to_mime(message: EmailMessage) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = message.sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = message_id_for(message.key)
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


class SmtpChannel:
    name = "email"
    provider = "smtp"
    #: an SMTP relay may deliver a repeated Message-ID again
    drops_repeats = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: float = 10.0,
        rate_per_second: float = 50.0,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.use_tls = starttls, use_tls
        self.timeout = timeout
        self._limit = RateLimiter(rate_per_second)

    async def send(self, message: Message) -> SendReceipt:
        if not isinstance(message, EmailMessage):
            raise PermanentError("the e-mail channel only sends EmailMessage")
        await self._limit.acquire()
        mime = to_mime(message)
        try:
            await aiosmtplib.send(
                mime,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                use_tls=self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            if all(code >= 500 for code in codes):
                raise PermanentError(f"recipient refused: {exc}") from exc
            raise TransientError(f"recipient deferred: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise TransientError(f"SMTP {exc.code}: {exc.message}") from exc
            if exc.code == 535 or exc.code >= 500:
                raise PermanentError(f"SMTP {exc.code}: {exc.message}") from exc
            raise TransientError(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientError(f"SMTP unavailable: {exc!r}") from exc
        return SendReceipt(self.provider, mime["Message-ID"])

    async def close(self) -> None:
        return None
