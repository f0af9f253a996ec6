"""What the local sinks received, for people (`python -m services.notifier messages`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def read_sinks(sink_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {"sms": _lines(sink_dir / "sms.jsonl"), "email": _lines(sink_dir / "mail.jsonl")}


def format_listing(sinks: dict[str, list[dict[str, Any]]], participant: str | None) -> str:
    out: list[str] = []
    for sms in sinks["sms"]:
        if participant and not str(sms.get("reference", "")).startswith(f"{participant}|"):
            continue
        out.append(f"SMS   {sms['received_at']}  to {sms['to']}  [{sms.get('reference')}]")
        out.append(f"      {sms['text']}")
    for mail in sinks["email"]:
        if participant and not mail.get("notification_key", "").startswith(f"{participant}|"):
            continue
        out.append(
            f"EMAIL {mail['received_at']}  to {', '.join(mail['to'])}  "
            f"[{mail.get('notification_key')}]"
        )
        out.append(f"      {mail['subject']}  (file mail/{mail['file']})")
    return "\n".join(out) if out else "(no messages yet)"
