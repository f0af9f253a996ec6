"""What a recorded payment writes: its rows, its events and the answer the API gives.

The rules (cost, allocation) are pure domain (domain/payments.py); this module turns a
checked plan into storage rows and events:
- one `contributions` row per period the payment brought money to (or paid in full);
- `contribution.paid` (v3) for each period now paid in full, `contribution.partially_paid`
  for each period that got money and still owes some. A period the money did not reach
  (a short payment spent on older periods first) gets neither.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.events import ContributionPaidV3, ContributionPartiallyPaidV1, EventData
from services.enrollment.adapters.repository import Row, utc
from services.enrollment.domain.payments import AmountChange, Line, PaymentPlan


def amount_changes(audit_rows: Iterable[Row]) -> list[AmountChange]:
    """Every change of the monthly contribution the audit trail recorded (corrections)."""
    changes = []
    for row in audit_rows:
        change = json.loads(row["changes"]).get("monthly_contribution")
        if change is not None:
            changes.append(AmountChange(utc(row["changed_at"]), change["old"], change["new"]))
    return changes


@dataclass(frozen=True)
class RecordedPayment:
    payment_id: str
    paid_at: datetime
    recorded_at: datetime
    recorded_by: str

    @staticmethod
    def _written(plan: PaymentPlan) -> list[Line]:
        return [line for line in plan.lines if line.amount > 0 or line.settled]

    def rows(self, participant_id: str, plan: PaymentPlan) -> list[Row]:
        return [
            {
                "id": str(uuid.uuid5(uuid.UUID(self.payment_id), line.period)),
                "payment_id": self.payment_id,
                "participant_id": participant_id,
                "period": line.period,
                "amount": line.amount,
                "cost": line.account.cost,
                "settles": line.settled,
                "paid_at": self.paid_at,
                "recorded_at": self.recorded_at,
                "recorded_by": self.recorded_by,
            }
            for line in self._written(plan)
        ]

    def events(
        self, participant: Row, branch_code: str, zone: str, plan: PaymentPlan
    ) -> list[EventData]:
        common: dict[str, Any] = {
            "participant_id": participant["id"],
            "participant_number": participant["participant_number"],
            "payment_id": self.payment_id,
            "paid_at": self.paid_at,
            "branch_code": branch_code,
            "branch_timezone": zone,
            "campaign_code": participant["campaign_code"],
            "payment_amount": plan.amount,
            "payment_periods": [line.period for line in plan.lines],
        }
        events: list[EventData] = []
        for line in self._written(plan):
            if line.settled:
                events.append(
                    ContributionPaidV3(
                        **common, period=line.period, amount=line.amount, cost=line.account.cost
                    )
                )
            else:
                events.append(
                    ContributionPartiallyPaidV1(
                        **common,
                        period=line.period,
                        amount=line.amount,
                        paid_total=line.paid_total,
                        cost=line.account.cost,
                        owed=line.owed,
                    )
                )
        return events

    def view(self, participant: Row, plan: PaymentPlan) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "participant_id": participant["id"],
            "participant_number": participant["participant_number"],
            "status": "paid" if plan.complete else "partial",
            "periods": [line.as_dict() for line in plan.lines],
            # `period`: the oldest named period, for clients written for one period a payment
            "period": plan.lines[0].period,
            "amount": plan.amount,
            "expected_amount": plan.expected,
            "owed": plan.owed,
            "paid_at": self.paid_at.isoformat(),
        }
