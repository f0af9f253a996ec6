"""How stored rows are shown: a participant (NIK only masked, never its hash), a campaign,
an audit entry. Also what an Idempotency-Key replays, so the handlers build them."""

from __future__ import annotations

import json
from typing import Any

from services.enrollment.adapters.repository import Row, utc


def participant_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "participant_number": row["participant_number"],
        "full_name": row["full_name"],
        "nik_masked": row["nik_masked"],
        "birth_date": row["birth_date"].isoformat(),
        "sex": row["sex"],
        "phone_e164": row["phone_e164"],
        "email": row["email"],
        "segment": row["segment"],
        "branch_code": row["branch_code"],
        "campaign_code": row["campaign_code"],
        "programmes": row["programmes"].split(","),
        "declared_income": row["declared_income"],
        "monthly_contribution": row["monthly_contribution"],
        "preferred_channel": row["preferred_channel"],
        "language": row["language"],
        "consent_reminders": row["consent_reminders"],
        "consent_whatsapp": row["consent_whatsapp"],
        "source": row["source"],
        "community": row["community"],
        "opted_out_channels": [c for c in row["opted_out_channels"].split(",") if c],
        "registered_at": utc(row["registered_at"]).isoformat(),
    }


def campaign_view(row: Row) -> dict[str, Any]:
    return {
        "code": row["code"],
        "name": row["name"],
        "branch_codes": [b for b in row["branch_codes"].split(",") if b],
        "starts_on": row["starts_on"].isoformat(),
        "ends_on": row["ends_on"].isoformat() if row["ends_on"] else None,
        "created_at": utc(row["created_at"]).isoformat(),
    }


def audit_view(row: Row) -> dict[str, Any]:
    return {
        "action": row["action"],
        "changes": json.loads(row["changes"]),
        "actor": {"key_id": row["actor_key_id"], "role": row["actor_role"]},
        "event_id": row["event_id"],
        "changed_at": utc(row["changed_at"]).isoformat(),
    }
