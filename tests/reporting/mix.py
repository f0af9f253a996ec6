"""A known mix of events and, written out by hand, every figure it must produce.

Three campaigns in three time zones (WIB, WITA, WIT), events near local midnight, a late
arrival, redeliveries and malformed input. The expected figures below were worked out from
the list of events by hand: they are not computed by the code under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.envelope import CloudEvent
from tests.reporting import factory as f


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 12, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Outgoing:
    topic: str  # "participants", "campaigns" or "notifications"
    key: bytes
    value: bytes


def _out(topic: str, event: CloudEvent[Any]) -> Outgoing:
    return Outgoing(topic, event.subject.encode(), f.raw(event))


def _p(data: Any, pid: str) -> Outgoing:
    return _out("participants", f.envelope(data, pid))


def _n(data: Any, pid: str) -> Outgoing:
    return _out("notifications", f.envelope(data, pid))


K, N, P = "KLEWER23", "NELAYAN23", "PAPUA23"
SKA = {"branch": "SKA", "tz": f.WIB}
MKS = {"branch": "MKS", "tz": f.WITA}
JAY = {"branch": "JAY", "tz": f.WIT}


def build() -> tuple[list[Outgoing], list[Outgoing]]:
    """(first half, second half); the second half redelivers some of the first."""
    campaigns = [
        _out("campaigns", f.envelope(f.campaign(K, "Pasar Klewer", utc(1, 0)), K)),
        _out("campaigns", f.envelope(f.campaign(N, "Nelayan Makassar", utc(1, 0)), N)),
        _out("campaigns", f.envelope(f.campaign(P, "Petani Jayapura", utc(1, 0)), P)),
    ]
    reg = {
        # 10:00 WIB on the 16th
        "P01": _p(
            f.registered("P01", utc(16, 3), campaign=K, segment="pedagang", officer="OFF-1", **SKA),
            "P01",
        ),
        # 23:30 WIB: still the 16th
        "P02": _p(f.registered("P02", utc(16, 16, 30), campaign=K, officer="OFF-1", **SKA), "P02"),
        # 00:30 WIB on the 17th
        "P03": _p(
            f.registered(
                "P03",
                utc(16, 17, 30),
                campaign=K,
                segment="ojek",
                source="web",
                officer=None,
                **SKA,
            ),
            "P03",
        ),
        # late arrival: happened on the 15th, published last
        "P04": _p(
            f.registered("P04", utc(15, 5), campaign=K, source="import", officer="OFF-2", **SKA),
            "P04",
        ),
        # 00:30 WITA on the 17th
        "P05": _p(
            f.registered(
                "P05", utc(16, 16, 30), campaign=N, segment="nelayan", officer="OFF-3", **MKS
            ),
            "P05",
        ),
        "P06": _p(
            f.registered("P06", utc(16, 2), campaign=N, segment="nelayan", officer="OFF-3", **MKS),
            "P06",
        ),
        # 00:30 WIT on the 17th
        "P07": _p(
            f.registered(
                "P07", utc(16, 15, 30), campaign=P, segment="petani", officer="OFF-4", **JAY
            ),
            "P07",
        ),
        "P08": _p(
            f.registered("P08", utc(16, 4), campaign=None, source="web", officer=None, **SKA), "P08"
        ),
        # 23:59 WITA on the 16th, a Klewer participant served by the Makassar branch
        "P09": _p(f.registered("P09", utc(16, 15, 59), campaign=K, officer="OFF-3", **MKS), "P09"),
    }
    msgs = [
        _n(f.sent("P01", utc(16, 3, 5), campaign=K, **SKA), "P01"),
        _n(f.delivered("P01", utc(16, 3, 6), campaign=K, **SKA), "P01"),
        # a second SMS gateway took P02's (the notifier failed over to it)
        _n(f.sent("P02", utc(16, 16, 35), campaign=K, provider="gw-2", **SKA), "P02"),
        _n(f.delivered("P02", utc(16, 17, 5), campaign=K, **SKA), "P02"),  # 00:05 WIB, 17th
        _n(
            f.sent("P03", utc(16, 17, 35), channel="email", campaign=K, provider="smtp", **SKA),
            "P03",
        ),
        _n(
            f.failed("P03", utc(16, 17, 40), "mailbox full", channel="email", campaign=K, **SKA),
            "P03",
        ),
        _n(f.deferred("P04", utc(15, 15), campaign=K, **SKA), "P04"),
        _n(f.sent("P05", utc(16, 16, 35), campaign=N, **MKS), "P05"),
        _n(f.failed("P05", utc(16, 16, 40), "nomor tidak aktif", campaign=N, **MKS), "P05"),
        _n(
            f.sent("P06", utc(16, 2, 5), channel="whatsapp", campaign=N, provider="wa", **MKS),
            "P06",
        ),
        _n(f.delivered("P06", utc(16, 2, 6), channel="whatsapp", campaign=N, **MKS), "P06"),
        _n(f.sent("P09", utc(16, 15), kind="contribution_due_d7", campaign=K, **MKS), "P09"),
        _n(
            f.delivered("P09", utc(16, 16, 10), kind="contribution_due_d7", campaign=K, **MKS),
            "P09",
        ),
    ]
    pays = [
        _p(f.paid("P01", utc(16, 5), period="2023-12", campaign=K, **SKA), "P01"),
        _p(f.paid("P01", utc(16, 6), period="2024-01", campaign=K, **SKA), "P01"),
        _p(f.paid("P06", utc(16, 8), amount=36_800, campaign=N, **MKS), "P06"),
        _p(f.paid("P09", utc(16, 16, 30), campaign=K, **MKS), "P09"),  # 00:30 WITA, 17th
        _p(f.paid("P08", utc(16, 5), campaign=None, **SKA), "P08"),
    ]
    opts = [
        _p(f.opted_out("P03", utc(16, 18), ["sms", "email"], campaign=K, **SKA), "P03"),
        _p(f.opted_out("P05", utc(17, 1), ["whatsapp"], campaign=N, **MKS), "P05"),
    ]
    # the notifier's observations (on the notifications topic), counted per campaign only
    lapses = [
        _n(f.lapsed("P01", utc(17, 2), campaign=K, **SKA), "P01"),
        _n(f.reactivated("P01", utc(17, 5), lapsed_at=utc(17, 2), campaign=K, **SKA), "P01"),
        _n(f.lapsed("P05", utc(17, 2), campaign=N, **MKS), "P05"),
    ]
    # a campaign message the notifier dropped: P02 had had as many as the frequency cap allows
    dropped = _n(f.suppressed("P02", utc(16, 17), campaign=K, **SKA), "P02")
    not_json = Outgoing("participants", b"P99", b'{"type": "participant.registered", oops')
    invalid = json.loads(reg["P01"].value)
    invalid["id"] = "9d5a2c1e-0000-4000-8000-000000000099"
    invalid["data"]["branch_timezone"] = "Europe/Paris"  # schema-invalid
    schema_invalid = Outgoing("participants", b"P01", json.dumps(invalid).encode())

    first = [
        *campaigns,
        *(reg[p] for p in ("P01", "P02", "P05", "P06", "P09")),
        *msgs[:7],
        dropped,
        pays[0],
        not_json,
        reg["P01"],  # duplicate in the same half
    ]
    second = [
        *(reg[p] for p in ("P03", "P07", "P08")),
        *msgs[7:],
        *pays[1:],
        *opts,
        *lapses,
        schema_invalid,
        # redeliveries of first-half events (at-least-once upstream)
        reg["P02"],
        msgs[0],
        pays[0],
        campaigns[0],
        reg["P04"],  # the late arrival
        msgs[12],  # and a duplicate within the second half
        lapses[0],  # a lapse announced again (the notifier replayed it after a crash)
    ]
    return first, second


DEAD_LETTERS = 2  # the non-JSON record and the schema-invalid one


def _group(
    enrol: int,
    sent: int,
    delivered: int,
    failed: int,
    deferred: int,
    payers: int,
    payments: int,
    amount: int,
    opt_outs: int,
    delivery: float | None,
    conversion: float | None,
) -> dict[str, Any]:
    return {
        "enrolments": enrol,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "deferred": deferred,
        "payers": payers,
        "payments": payments,
        "amount": amount,
        "opt_outs": opt_outs,
        "delivery_rate": delivery,
        "conversion_rate": conversion,
    }


def _day(
    date: str,
    enrol: int = 0,
    sent: int = 0,
    delivered: int = 0,
    failed: int = 0,
    deferred: int = 0,
    payers: int = 0,
    payments: int = 0,
    amount: int = 0,
    opt_outs: int = 0,
) -> dict[str, Any]:
    return {
        "date": date,
        "enrolments": enrol,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "deferred": deferred,
        "payers": payers,
        "payments": payments,
        "amount": amount,
        "opt_outs": opt_outs,
    }


def _statuses(sent: int, delivered: int, failed: int, deferred: int) -> dict[str, int]:
    return {"sent": sent, "delivered": delivered, "failed": failed, "deferred": deferred}


KLEWER = {
    "campaign": {"code": K, "name": "Pasar Klewer"},
    "range": {"from": None, "to": None},
    "enrolments": {
        "total": 5,
        "by_segment": {"ojek": 1, "pedagang": 4},
        "by_source": {"field": 3, "import": 1, "web": 1},
        "by_officer": {"-": 1, "OFF-1": 2, "OFF-2": 1, "OFF-3": 1},
    },
    "messages": {
        "sent": 4,
        "delivered": 3,
        "failed": 1,
        "deferred": 1,
        "delivery_rate": 0.75,
        "by_kind": {
            "contribution_due_d7": _statuses(1, 1, 0, 0),
            "welcome": _statuses(3, 2, 1, 1),
        },
        "by_channel": {"email": _statuses(1, 0, 1, 0), "sms": _statuses(3, 3, 0, 1)},
        "failures_by_reason": {"mailbox full": 1},
        "suppressed_by_reason": {"frequency_cap": 1},
        # P01 and P09 by "test", P02 by "gw-2", P03's e-mail by "smtp"
        "sent_by_provider": {"gw-2": 1, "smtp": 1, "test": 2},
    },
    "payments": {
        "payers": 2,
        "payments": 3,
        "amount": 50_400,
        "conversion_rate": 0.4,
        "by_period": {
            "2023-12": {"payments": 2, "amount": 33_600},
            "2024-01": {"payments": 1, "amount": 16_800},
        },
    },
    "opt_outs": {"total": 2, "by_channel": {"email": 1, "sms": 1}},
    "lapses": {"lapsed": 1, "reactivated": 1},  # P01's, counted once though announced twice
    "by_branch": {
        "MKS": _group(1, 1, 1, 0, 0, 1, 1, 16_800, 0, 1.0, 1.0),
        "SKA": _group(4, 3, 2, 1, 1, 1, 2, 33_600, 2, 0.6667, 0.25),
    },
    "series": [
        _day("2023-12-15", enrol=1, deferred=1),
        _day("2023-12-16", enrol=3, sent=3, delivered=1, payers=1, payments=2, amount=33_600),
        _day(
            "2023-12-17",
            enrol=1,
            sent=1,
            delivered=2,
            failed=1,
            payers=1,
            payments=1,
            amount=16_800,
            opt_outs=2,
        ),
    ],
}

BRANCH_MKS = {
    "branch": {"code": "MKS"},
    "range": {"from": None, "to": None},
    "enrolments": {
        "total": 3,
        "by_segment": {"nelayan": 2, "pedagang": 1},
        "by_source": {"field": 3},
        "by_officer": {"OFF-3": 3},
    },
    "messages": {
        "sent": 3,
        "delivered": 2,
        "failed": 1,
        "deferred": 0,
        "delivery_rate": 0.6667,
        "by_kind": {
            "contribution_due_d7": _statuses(1, 1, 0, 0),
            "welcome": _statuses(2, 1, 1, 0),
        },
        "by_channel": {"sms": _statuses(2, 1, 1, 0), "whatsapp": _statuses(1, 1, 0, 0)},
        "failures_by_reason": {"nomor tidak aktif": 1},
        "suppressed_by_reason": {},
        # P05 and P09 by "test", P06's WhatsApp by "wa"
        "sent_by_provider": {"test": 2, "wa": 1},
    },
    "payments": {
        "payers": 2,
        "payments": 2,
        "amount": 53_600,
        "conversion_rate": 0.6667,
        "by_period": {"2023-12": {"payments": 2, "amount": 53_600}},
    },
    "opt_outs": {"total": 1, "by_channel": {"whatsapp": 1}},
    "lapses": {"lapsed": 1, "reactivated": 0},  # P05 (Nelayan) at the Makassar branch
    "by_campaign": {
        K: _group(1, 1, 1, 0, 0, 1, 1, 16_800, 0, 1.0, 1.0),
        N: _group(2, 2, 1, 1, 0, 1, 1, 36_800, 1, 0.5, 0.5),
    },
    "series": [
        _day("2023-12-16", enrol=2, sent=2, delivered=1, payers=1, payments=1, amount=36_800),
        _day(
            "2023-12-17",
            enrol=1,
            sent=1,
            delivered=1,
            failed=1,
            payers=1,
            payments=1,
            amount=16_800,
            opt_outs=1,
        ),
    ],
}

OVERVIEW = {
    "range": {"from": None, "to": None},
    "totals": {
        "enrolments": 9,
        "sent": 6,
        "delivered": 4,
        "failed": 2,
        "deferred": 1,
        "delivery_rate": 0.6667,
        "payers": 4,
        "payments": 5,
        "amount": 104_000,
        "conversion_rate": 0.4444,
        "opt_outs": 3,
    },
    "campaigns": [
        {"code": "-", "name": None, **_group(1, 0, 0, 0, 0, 1, 1, 16_800, 0, None, 1.0)},
        {"code": K, "name": "Pasar Klewer", **_group(5, 4, 3, 1, 1, 2, 3, 50_400, 2, 0.75, 0.4)},
        {"code": N, "name": "Nelayan Makassar", **_group(2, 2, 1, 1, 0, 1, 1, 36_800, 1, 0.5, 0.5)},
        {"code": P, "name": "Petani Jayapura", **_group(1, 0, 0, 0, 0, 0, 0, 0, 0, None, 0.0)},
    ],
}

KLEWER_CSV = """\
date,branch,enrolments,sent,delivered,failed,deferred,payers,payments,amount,opt_outs
2023-12-15,SKA,1,0,0,0,1,0,0,0,0
2023-12-16,MKS,1,1,0,0,0,0,0,0,0
2023-12-16,SKA,2,2,1,0,0,1,2,33600,0
2023-12-17,MKS,0,0,1,0,0,1,1,16800,0
2023-12-17,SKA,1,1,1,1,0,0,0,0,2
"""
