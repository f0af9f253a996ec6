"""A local SMTP server (aiosmtpd) that keeps every mail it receives.

Like a mailbox, it keeps one copy per Message-ID (a resend after a crash carries the same
Message-ID); later copies are only logged in `mail-duplicates.jsonl`.
Each mail is stored as `<data-dir>/mail/<n>.eml` and one JSON line in `<data-dir>/mail.jsonl`
(to, subject, Message-ID, the `X-Bebas-Notification-Key` header, file name).
List them with `python -m services.notifier messages --sink-dir <data-dir>`.

Run: python -m services.notifier.sinks.smtp_sink --port 2525 --data-dir data/sinks
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from services.notifier.sinks.jsonl import append_line


class StoringHandler:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.mail_dir = data_dir / "mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._count = len(list(self.mail_dir.glob("*.eml")))
        index = data_dir / "mail.jsonl"
        lines = index.read_text("utf-8").splitlines() if index.exists() else []
        self._seen = {json.loads(line)["message_id"] for line in lines if line.strip()}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        message_id = str(parsed.get("Message-ID", "")).strip()
        with self._lock:
            if message_id and message_id in self._seen:
                # like a mailbox (Gmail keeps one copy per Message-ID): the person sees it once;
                # the copy is logged so tests and operators can count resends
                append_line(
                    self.data_dir / "mail-duplicates.jsonl",
                    {
                        "message_id": message_id,
                        "notification_key": str(parsed.get("X-Bebas-Notification-Key", "")).strip(),
                        "received_at": datetime.now(UTC).isoformat(),
                    },
                )
                return "250 Duplicate of an already delivered message"
            self._seen.add(message_id)
            self._count += 1
            name = f"{self._count:06d}.eml"
            (self.mail_dir / name).write_bytes(raw)
            record = {
                "file": name,
                "mail_from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(parsed.get("Subject", "")).strip(),
                "message_id": message_id,
                "notification_key": str(parsed.get("X-Bebas-Notification-Key", "")).strip(),
                "received_at": datetime.now(UTC).isoformat(),
            }
            append_line(self.data_dir / "mail.jsonl", record)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink (stores, never delivers)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--data-dir", type=Path, default=Path("data/sinks"))
    args = parser.parse_args(argv)
    controller = Controller(StoringHandler(args.data_dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, storing in {args.data_dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
