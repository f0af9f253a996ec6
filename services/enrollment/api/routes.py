"""The /v1 routes: decode, authorise, call the handler, encode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from services.enrollment.adapters.repository import ParticipantFilter, Row
from services.enrollment.api.deps import (
    IDEMPOTENCY_OPENAPI,
    ContainerDep,
    IdempotencyHeader,
    PrincipalDep,
    idempotency,
    idempotency_key,
)
from services.enrollment.api.models import (
    BroadcastIn,
    CampaignIn,
    Code,
    ContributionIn,
    OptOutIn,
    ParticipantIn,
    ParticipantPatch,
)
from services.enrollment.bootstrap import Container
from services.enrollment.domain.access import Principal
from services.enrollment.domain.correction import CorrectionInput
from services.enrollment.domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from services.enrollment.domain.model import RegistrationInput
from services.enrollment.domain.participant_number import parse_participant_number
from services.enrollment.handlers import Idempotency
from services.enrollment.views import participant_view

REGISTERED = Counter(
    "enrollment_participants_registered_total", "Participants registered", ["source"]
)
IMPORT_ROWS = Counter("enrollment_import_rows_total", "CSV rows read by imports", ["outcome"])

router = APIRouter(prefix="/v1")


def _answer(
    container: ContainerDep,
    actor: Principal,
    idem: Idempotency | None,
    status: int,
    handle: Callable[[], dict[str, Any]],
    headers: Callable[[dict[str, Any]], dict[str, str]] | None = None,
) -> JSONResponse:
    """Replay a remembered answer for a retried Idempotency-Key, else run the handler."""
    if idem is not None:
        replay = container.enrollment.replay(actor, idem)
        if replay is not None:
            extra = headers(replay.body) if headers else {}
            return JSONResponse(
                replay.body,
                status_code=replay.status_code,
                headers={**extra, "Idempotent-Replayed": "true"},
            )
    body = handle()
    return JSONResponse(body, status_code=status, headers=headers(body) if headers else None)


@router.post(
    "/participants", status_code=201, tags=["participants"], openapi_extra=IDEMPOTENCY_OPENAPI
)
async def register_participant(
    body: ParticipantIn, request: Request, actor: PrincipalDep
) -> JSONResponse:
    """Register one worker; answers the participant with the computed monthly contribution."""
    # async, with the write handed to the group-commit writer: no thread hop per request and
    # one transaction for all registrations arriving together (see group_commit.py).
    container: Container = request.app.state.container
    enrollment = container.enrollment
    # scope["path"], not request.url.path: building the URL object costs more than the rest
    # of this function's bookkeeping.
    idem = idempotency(idempotency_key(request), request.scope["path"], body, 201)
    if idem is not None:
        replay = await run_in_threadpool(enrollment.replay, actor, idem)
        if replay is not None:
            return JSONResponse(
                replay.body,
                status_code=replay.status_code,
                headers={"Location": _location(replay.body), "Idempotent-Replayed": "true"},
            )
    prepared = enrollment.prepare(RegistrationInput(**body.model_dump()), actor)
    view = await container.registrations.submit((prepared, idem))
    REGISTERED.labels(body.source).inc()
    return JSONResponse(view, status_code=201, headers={"Location": _location(view)})


def _location(view: dict[str, Any]) -> str:
    return f"/v1/participants/{view['id']}"


@router.get("/participants/{participant_id}", tags=["participants"])
def get_participant(participant_id: str, container: ContainerDep, actor: PrincipalDep) -> Any:
    with container.enrollment.uow() as uow:
        row = uow.participants.get(participant_id)
    return _readable(row, "participant", participant_id, actor)


def _readable(row: Row | None, what: str, key: str, actor: Principal) -> dict[str, Any]:
    """The participant's view, once it exists and the caller may read its branch."""
    if row is None:
        raise NotFound(what, key)
    actor.require_read(row["branch_code"])
    return participant_view(row)


@router.patch("/participants/{participant_id}", tags=["participants"])
def correct_participant(
    participant_id: str, body: ParticipantPatch, container: ContainerDep, actor: PrincipalDep
) -> Any:
    """Correct phone, e-mail, income, programmes, branch, channel, language or consent.

    Validated like a registration; a change is published as `participant.updated` and kept in
    the audit trail. Sending the same correction twice changes nothing the second time.
    """
    raw = CorrectionInput(given=frozenset(body.model_fields_set), **body.model_dump())
    return container.enrollment.correct(participant_id, raw, actor)


@router.get("/participants/{participant_id}/audit", tags=["participants"])
def participant_audit(participant_id: str, container: ContainerDep, actor: PrincipalDep) -> Any:
    """Every correction and opt-out of one participant, oldest first (admins only)."""
    return container.enrollment.audit_trail(participant_id, actor)


@router.get("/participants/by-number/{number}", tags=["participants"])
def get_participant_by_number(number: str, container: ContainerDep, actor: PrincipalDep) -> Any:
    """The participant a number on a card or receipt belongs to; the check digit is verified."""
    try:
        wanted = parse_participant_number(number)
    except ValueError as exc:
        raise InvalidInput([FieldProblem("number", str(exc))]) from None
    with container.enrollment.uow() as uow:
        row = uow.participants.by_number(wanted)
    return _readable(row, "participant number", wanted, actor)


@router.get("/participants", tags=["participants"])
def list_participants(
    container: ContainerDep,
    actor: PrincipalDep,
    branch_code: str | None = None,
    campaign_code: str | None = None,
    segment: str | None = None,
    registered_from: date | None = None,
    registered_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Any:
    """Participants in registration order; officers see only their own branch."""
    if actor.role == "officer":
        if branch_code and branch_code != actor.branch_code:
            raise Forbidden(f"your key is for branch {actor.branch_code}, not {branch_code}")
        branch_code = actor.branch_code
    after = 0
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidInput([FieldProblem("cursor", "is not a cursor this API gave out")])
        after = int(cursor)
    if registered_from and registered_to and registered_to < registered_from:
        raise InvalidInput([FieldProblem("registered_to", "is before registered_from")])
    where = ParticipantFilter(branch_code, campaign_code, segment, registered_from, registered_to)
    with container.enrollment.uow() as uow:
        rows = uow.participants.page(where, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [participant_view(r) for r in rows],
        "next_cursor": str(rows[-1]["seq"]) if more and rows else None,
    }


@router.post("/participants/{participant_id}/contributions", status_code=201, tags=["payments"])
def record_contribution(
    participant_id: str,
    body: ContributionIn,
    request: Request,
    container: ContainerDep,
    actor: PrincipalDep,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    """Record a payment of one or more periods (`status` paid, or partial with what is owed).

    The amount must be what the named periods still owe; less is kept as a partial payment
    and the periods stay unpaid, more is refused with the amount owed per period.
    """
    idem = idempotency(idempotency_key, request.url.path, body, 201)
    return _answer(
        container,
        actor,
        idem,
        201,
        lambda: container.enrollment.record_contribution(
            participant_id, body.named_periods(), body.amount, body.paid_at, actor, idem
        ),
    )


@router.post("/participants/{participant_id}/opt-out", tags=["participants"])
def opt_out(
    participant_id: str,
    body: OptOutIn,
    request: Request,
    container: ContainerDep,
    actor: PrincipalDep,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    idem = idempotency(idempotency_key, request.url.path, body, 200)
    return _answer(
        container,
        actor,
        idem,
        200,
        lambda: container.enrollment.opt_out(
            participant_id, list(body.channels), body.reason, actor, idem
        ),
    )


@router.post("/campaigns", status_code=201, tags=["campaigns"])
def create_campaign(
    body: CampaignIn,
    request: Request,
    container: ContainerDep,
    actor: PrincipalDep,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    idem = idempotency(idempotency_key, request.url.path, body, 201)
    return _answer(
        container,
        actor,
        idem,
        201,
        lambda: container.enrollment.create_campaign(
            body.code, body.name, body.branch_codes, body.starts_on, body.ends_on, actor, idem
        ),
        lambda b: {"Location": f"/v1/campaigns/{b['code']}"},
    )


@router.get("/campaigns/{code}", tags=["campaigns"])
def get_campaign(code: Code, container: ContainerDep, actor: PrincipalDep) -> Any:
    return container.enrollment.get_campaign(code)


@router.post("/campaigns/{code}/broadcasts", status_code=202, tags=["campaigns"])
def request_broadcast(
    code: Code,
    body: BroadcastIn,
    request: Request,
    container: ContainerDep,
    actor: PrincipalDep,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    """Check a broadcast and publish it (202); `dry_run: true` answers its reach and cost (200)."""
    # A dry run changes nothing, so it is neither remembered nor replayed by Idempotency-Key.
    idem = None if body.dry_run else idempotency(idempotency_key, request.url.path, body, 202)

    def handle() -> dict[str, Any]:
        return container.enrollment.request_broadcast(
            code,
            body.message_kind,
            body.audience.branch_codes,
            body.audience.segments,
            body.params,
            actor,
            idem,
            dry_run=body.dry_run,
        )

    if body.dry_run:
        return JSONResponse(handle())
    return _answer(container, actor, idem, 202, handle)


@router.post("/imports", tags=["imports"])
def import_csv(
    file: Annotated[UploadFile, File(description="CSV sign-up sheet, UTF-8, ';' or ','")],
    container: ContainerDep,
    actor: PrincipalDep,
) -> Any:
    """Register every valid row of a sign-up sheet; answers a per-row report."""
    report = container.importer.run(file.file, actor)
    IMPORT_ROWS.labels("registered").inc(report.registered)
    IMPORT_ROWS.labels("duplicate").inc(report.duplicates)
    IMPORT_ROWS.labels("rejected").inc(report.rejected)
    REGISTERED.labels("import").inc(report.registered)
    return report.as_dict()
