"""What the local sinks received, for people (`python -m services.notifier messages`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


#: the field that holds the notification key in each sink's lines
KEY_FIELDS = {"sms": "reference", "email": "notification_key", "whatsapp": "reference"}


def read_sinks(sink_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        "sms": _lines(sink_dir / "sms.jsonl"),
        "email": _lines(sink_dir / "mail.jsonl"),
        "whatsapp": _lines(sink_dir / "whatsapp.jsonl"),
    }


def of_participant(
    sinks: dict[str, list[dict[str, Any]]], participant: str
) -> dict[str, list[dict[str, Any]]]:
    """Only the messages to one participant (their keys start with the participant id)."""
    prefix = f"{participant}|"
    return {
        channel: [m for m in lines if str(m.get(KEY_FIELDS[channel]) or "").startswith(prefix)]
        for channel, lines in sinks.items()
    }


def format_listing(sinks: dict[str, list[dict[str, Any]]], participant: str | None) -> str:
    if participant:
        sinks = of_participant(sinks, participant)
    out: list[str] = []
    for sms in sinks["sms"]:
        out.append(f"SMS   {sms['received_at']}  to {sms['to']}  [{sms.get('reference')}]")
        out.append(f"      {sms['text']}")
    for wa in sinks.get("whatsapp", []):
        out.append(f"WA    {wa['received_at']}  to {wa['to']}  [{wa.get('reference')}]")
        out.append(f"      {wa.get('text') or wa['template']}")
    for mail in sinks["email"]:
        out.append(
            f"EMAIL {mail['received_at']}  to {', '.join(mail['to'])}  "
            f"[{mail.get('notification_key')}]"
        )
        out.append(f"      {mail['subject']}  (file mail/{mail['file']})")
    return "\n".join(out) if out else "(no messages yet)"
