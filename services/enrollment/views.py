"""How a stored participant is shown: NIK only masked, never its hash."""

from __future__ import annotations

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
        "source": row["source"],
        "community": row["community"],
        "opted_out_channels": [c for c in row["opted_out_channels"].split(",") if c],
        "registered_at": utc(row["registered_at"]).isoformat(),
    }
