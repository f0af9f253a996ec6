"""Demo data for `make run`: the Pasar Klewer campaign (branches come from data/branches.json)."""

from __future__ import annotations

from datetime import date

from services.enrollment.bootstrap import Container
from services.enrollment.domain.access import Principal
from services.enrollment.domain.errors import Conflict

DEMO_CAMPAIGN_CODE = "KKBC-PASAR-KLEWER"
DEMO_CAMPAIGN_NAME = "Kerja Keras Bebas Cemas – Pasar Klewer"
_SEEDER = Principal(key_id="seed-demo", role="admin")


def seed_demo(container: Container) -> bool:
    """Create the demo campaign when missing; True when something was created."""
    try:
        container.enrollment.create_campaign(
            DEMO_CAMPAIGN_CODE,
            DEMO_CAMPAIGN_NAME,
            ["SURAKARTA"],
            date(2023, 12, 16),
            None,
            _SEEDER,
        )
    except Conflict:
        return False
    return True
