"""Command handlers: validate, write state and its event in one transaction, say the result."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.events import (
    Audience,
    CampaignBroadcastRequestedV1,
    CampaignCreatedV1,
    ParticipantOptedOutV1,
    ParticipantRegisteredV3,
    ParticipantUpdatedV2,
)
from schemas.nik import mask_nik, nik_hash
from schemas.vocab import MessageKind
from services.common.clock import Clock
from services.enrollment.adapters.repository import Row, utc
from services.enrollment.adapters.unit_of_work import UnitOfWork
from services.enrollment.domain.access import Principal
from services.enrollment.domain.broadcast import (
    AudienceGroup,
    BroadcastRules,
    check_text,
    estimated_cost,
    reach,
)
from services.enrollment.domain.correction import (
    Correction,
    CorrectionInput,
    CurrentState,
    validate_correction,
)
from services.enrollment.domain.errors import (
    AlreadyRegistered,
    Conflict,
    DomainError,
    DuplicateWrite,
    FieldProblem,
    InvalidInput,
    NotFound,
)
from services.enrollment.domain.model import (
    CHANNELS,
    ContactRules,
    Registration,
    RegistrationInput,
    validate_registration,
)
from services.enrollment.domain.participant_number import participant_number
from services.enrollment.domain.payments import (
    CostRules,
    PaymentPlan,
    accounts_for,
    check_periods,
    period_of,
    plan_payment,
)
from services.enrollment.domain.reference import ReferenceData
from services.enrollment.outbox import OutboxWriter
from services.enrollment.payments import RecordedPayment, amount_changes
from services.enrollment.views import participant_view

#: Payments may be stamped a little ahead of our clock by the paying system.
PAID_AT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class PreparedRegistration:
    """A registration that passed every check that needs no write."""

    registration: Registration
    nik_hash: str
    actor: Principal


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


class Enrollment:
    """The application service: every write the API and the importer make goes through here."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        reference: ReferenceData,
        contacts: ContactRules,
        clock: Clock,
        outbox: OutboxWriter,
        nik_secret: bytes,
        on_commit: Callable[[], None] = lambda: None,
        broadcast_rules: BroadcastRules | None = None,
        due_day: int = 15,
    ) -> None:
        self.uow = uow_factory
        self.reference = reference
        self.contacts = contacts
        self.clock = clock
        self.outbox = outbox
        self.nik_secret = nik_secret
        self.on_commit = on_commit
        self.broadcast_rules = broadcast_rules or BroadcastRules()
        #: the day of the month contributions fall due: a period's cost is fixed at its end
        self.due_day = due_day
        # Campaigns are never edited or deleted, so a code once seen can be trusted.
        self._campaigns: dict[str, frozenset[str]] = {}
        self._campaigns_lock = threading.Lock()

    # --- idempotency -----------------------------------------------------------------------

    def replay(self, actor: Principal, idem: Idempotency) -> Replay | None:
        with self.uow() as uow:
            stored = uow.idempotency.get(actor.key_id, idem.key)
        if stored is None:
            return None
        if stored["fingerprint"] != idem.fingerprint:
            raise self._reused_key()
        return Replay(stored["status_code"], json.loads(stored["body"]))

    @staticmethod
    def _idempotency_row(
        actor: Principal, idem: Idempotency, status: int, body: Any, now: datetime
    ) -> Row:
        return {
            "principal": actor.key_id,
            "key": idem.key,
            "fingerprint": idem.fingerprint,
            "status_code": status,
            "body": json.dumps(body, default=str),
            "created_at": now,
        }

    def _remember(
        self, uow: UnitOfWork, actor: Principal, idem: Idempotency | None, status: int, body: Any
    ) -> None:
        if idem is not None:
            row = self._idempotency_row(actor, idem, status, body, self.clock.now())
            uow.idempotency.add_many([row])

    def _commit(self, uow: UnitOfWork) -> None:
        uow.commit()
        self.on_commit()

    # --- participants ----------------------------------------------------------------------

    def validate(self, raw: RegistrationInput, today: date | None = None) -> Registration:
        return validate_registration(
            raw, self.reference, self.contacts, today or self.clock.now().date()
        )

    def check_campaign(self, uow: UnitOfWork, registration: Registration) -> FieldProblem | None:
        code = registration.campaign_code
        if code is None:
            return None
        branches = self._campaign_branches(uow, code)
        if branches is None:
            return FieldProblem("campaign_code", f"unknown campaign {code!r}")
        return _campaign_mismatch(code, branches, registration.branch.code, "campaign_code")

    def _campaign_branches(self, uow: UnitOfWork, code: str) -> frozenset[str] | None:
        cached = self._campaigns.get(code)
        if cached is not None:
            return cached
        row = uow.campaigns.get(code)
        if row is None:
            return None
        branches = frozenset(b for b in row["branch_codes"].split(",") if b)
        with self._campaigns_lock:
            self._campaigns[code] = branches
        return branches

    def prepare(self, raw: RegistrationInput, actor: Principal) -> PreparedRegistration:
        """Everything about a registration that needs no write: access, rules, campaign, hash."""
        if actor.role == "viewer" or raw.branch_code in self.reference.branches:
            actor.require_write(raw.branch_code)  # unknown branches are reported by validation
        registration = self.validate(raw)
        if registration.campaign_code and registration.campaign_code not in self._campaigns:
            with self.uow() as uow:  # once per campaign code: afterwards it is cached
                problem = self.check_campaign(uow, registration)
        else:
            problem = self._cached_campaign_problem(registration)
        if problem:
            raise InvalidInput([problem])
        hashed = nik_hash(registration.nik.nik, self.nik_secret)
        return PreparedRegistration(registration, hashed, actor)

    def _cached_campaign_problem(self, registration: Registration) -> FieldProblem | None:
        code = registration.campaign_code
        if code is None:
            return None
        return _campaign_mismatch(
            code, self._campaigns[code], registration.branch.code, "campaign_code"
        )

    def register(
        self, raw: RegistrationInput, actor: Principal, idem: Idempotency | None = None
    ) -> dict[str, Any]:
        outcome = self.store_registrations([(self.prepare(raw, actor), idem)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def store_registrations(
        self, items: list[tuple[PreparedRegistration, Idempotency | None]]
    ) -> list[dict[str, Any] | DomainError]:
        """Write prepared registrations in one transaction (group commit); one outcome each.

        A batch that hits a constraint (a race on the same NIK or Idempotency-Key with another
        writer) is retried one registration at a time, so only the loser gets the error.
        """
        try:
            return self._store(items)
        except DuplicateWrite:
            if len(items) == 1:
                return [self._why_insert_failed(*items[0])]
            return [self.store_registrations([item])[0] for item in items]

    def _store(
        self, items: list[tuple[PreparedRegistration, Idempotency | None]]
    ) -> list[dict[str, Any] | DomainError]:
        now = self.clock.now()
        outcomes: list[dict[str, Any] | DomainError] = []
        participants: list[Row] = []
        events: list[Row] = []
        remembered: list[Row] = []
        # (key id, Idempotency-Key) -> (fingerprint, answer) of requests in this batch
        answered: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        # NIKs registered by earlier transactions are not looked up first: the unique index
        # finds them (DuplicateWrite, handled by the caller), and a duplicate is rare while a
        # query per batch is not. `known` catches the same NIK twice within this batch.
        known: dict[str, str] = {}
        with self.uow() as uow:
            # One serial per item: a replay or an in-batch duplicate leaves a gap, which is
            # cheaper than deciding first and allocating after.
            serials = iter(uow.participants.allocate_serials(len(items)))
            for prepared, idem in items:
                slot = (prepared.actor.key_id, idem.key) if idem else None
                if idem is not None and slot is not None and slot in answered:
                    # A retry that arrived in the same batch as its original: same answer.
                    fingerprint, first = answered[slot]
                    same = fingerprint == idem.fingerprint
                    outcomes.append(first if same else self._reused_key())
                    continue
                existing = known.get(prepared.nik_hash)
                if existing:
                    outcomes.append(AlreadyRegistered(existing))
                    continue
                row, event = self.participant_rows(
                    prepared.registration,
                    prepared.nik_hash,
                    prepared.actor,
                    now,
                    participant_number(next(serials)),
                )
                # A second registration of this NIK in the same batch is a duplicate too.
                known[prepared.nik_hash] = row["id"]
                view = participant_view(row)
                participants.append(row)
                events.append(event)
                if idem is not None and slot is not None:
                    remembered.append(self._idempotency_row(prepared.actor, idem, 201, view, now))
                    answered[slot] = (idem.fingerprint, view)
                outcomes.append(view)
            uow.participants.add_many(participants)
            uow.outbox.add_many(events)
            uow.idempotency.add_many(remembered)
            self._commit(uow)
        return outcomes

    def _why_insert_failed(
        self, prepared: PreparedRegistration, idem: Idempotency | None
    ) -> dict[str, Any] | DomainError:
        """A concurrent request won the race: same Idempotency-Key (replay it) or same NIK."""
        stored = None
        with self.uow() as uow:
            if idem is not None:
                stored = uow.idempotency.get(prepared.actor.key_id, idem.key)
            existing = uow.participants.id_for_nik_hash(prepared.nik_hash)
        if stored is not None and idem is not None:
            if stored["fingerprint"] != idem.fingerprint:
                return self._reused_key()
            answer: dict[str, Any] = json.loads(stored["body"])
            return answer
        if existing:
            return AlreadyRegistered(existing)
        return Conflict("a request with this Idempotency-Key is being processed; retry shortly")

    @staticmethod
    def _reused_key() -> Conflict:
        return Conflict(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )

    def participant_rows(
        self, reg: Registration, hashed: str, actor: Principal, now: datetime, number: str
    ) -> tuple[Row, Row]:
        """The participant row and the outbox row of its `participant.registered` event."""
        participant_id = str(uuid.uuid4())
        masked = mask_nik(reg.nik.nik)
        row: Row = {
            "id": participant_id,
            "nik_hash": hashed,
            "nik_masked": masked,
            "participant_number": number,
            "full_name": reg.full_name,
            "birth_date": reg.nik.birth_date,
            "sex": reg.nik.sex,
            "province_code": reg.nik.province.code,
            "phone_e164": reg.phone_e164,
            "email": reg.email,
            "segment": reg.segment,
            "branch_code": reg.branch.code,
            "campaign_code": reg.campaign_code,
            "programmes": ",".join(reg.programmes),
            "declared_income": reg.declared_income,
            "monthly_contribution": reg.contribution.total,
            "preferred_channel": reg.preferred_channel,
            "language": reg.language,
            "consent_reminders": reg.consent_reminders,
            "source": reg.source,
            "community": reg.community,
            "officer_id": actor.key_id,
            "opted_out_channels": "",
            "registered_at": now,
        }
        data = ParticipantRegisteredV3(
            participant_id=participant_id,
            participant_number=number,
            full_name=reg.full_name,
            nik_hash=hashed,
            nik_masked=masked,
            birth_date=reg.nik.birth_date,
            sex=reg.nik.sex,
            phone_e164=reg.phone_e164,
            email=reg.email,
            segment=reg.segment,
            branch_code=reg.branch.code,
            branch_timezone=reg.branch.timezone,
            campaign_code=reg.campaign_code,
            officer_id=actor.key_id,
            programmes=list(reg.programmes),
            declared_income=reg.declared_income,
            monthly_contribution=reg.contribution.total,
            preferred_channel=reg.preferred_channel,
            language=reg.language,
            consent_reminders=reg.consent_reminders,
            source=reg.source,
            registered_at=now,
            community=reg.community,
        )
        return row, self.outbox.row(data, participant_id, now)

    def _participant_for_write(self, uow: UnitOfWork, pid: str, actor: Principal) -> Row:
        row = uow.participants.get(pid, for_update=True)
        if row is None:
            raise NotFound("participant", pid)
        actor.require_write(row["branch_code"])
        return row

    def record_contribution(
        self,
        participant_id: str,
        periods: list[str],
        amount: int,
        paid_at: datetime,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        """Record a payment of one or more periods; the rules are in domain/payments.py."""
        now = self.clock.now()
        problems = []
        if amount <= 0:
            problems.append(FieldProblem("amount", "must be more than 0 rupiah"))
        if utc(paid_at) > now + PAID_AT_SKEW:
            problems.append(FieldProblem("paid_at", "is in the future"))
        if problems:
            raise InvalidInput(problems)
        with self.uow() as uow:
            participant = self._participant_for_write(uow, participant_id, actor)
            branch = self.reference.branches[participant["branch_code"]]
            plan = self._plan(uow, participant, branch.timezone, periods, amount)
            payment_id = str(uuid.uuid4())
            payment = RecordedPayment(payment_id, utc(paid_at), now, actor.key_id)
            uow.contributions.add_many(payment.rows(participant_id, plan))
            events = payment.events(participant, branch.code, branch.timezone, plan)
            uow.outbox.add_many([self.outbox.row(e, participant_id, now) for e in events])
            view = payment.view(participant, plan)
            self._remember(uow, actor, idem, 201, view)
            try:
                self._commit(uow)
            except DuplicateWrite:
                # Only a writer that skipped the row lock gets here (the lock serialises
                # payments of one participant): another payment paid one of these periods.
                named = ", ".join(line.period for line in plan.lines)
                raise Conflict(
                    f"another payment for {named} was recorded at the same time; "
                    "send this one again to see what is still owed",
                    [FieldProblem("periods", f"{named} changed while this payment was recorded")],
                ) from None
        return view

    def _plan(
        self, uow: UnitOfWork, participant: Row, zone: str, periods: list[str], amount: int
    ) -> PaymentPlan:
        registered = utc(participant["registered_at"]).astimezone(ZoneInfo(zone)).date()
        ordered = check_periods(periods, period_of(registered))
        accounts = accounts_for(
            ordered,
            CostRules(ZoneInfo(zone), self.due_day),
            participant["monthly_contribution"],
            amount_changes(uow.audit.for_participant(participant["id"])),
            uow.contributions.paid_so_far(participant["id"], ordered),
        )
        return plan_payment(amount, accounts)

    def correct(
        self, participant_id: str, raw: CorrectionInput, actor: Principal
    ) -> dict[str, Any]:
        """Apply a correction; answers the participant as it now is.

        Naturally idempotent: sending the same correction again changes nothing, so writes no
        event and no audit entry (no Idempotency-Key needed).
        """
        now = self.clock.now()
        with self.uow() as uow:
            row = self._participant_for_write(uow, participant_id, actor)
            moving_to = raw.branch_code
            if moving_to in self.reference.branches and moving_to != row["branch_code"]:
                # Officers act in their own branch only: moving someone out is an admin's job.
                actor.require_write(moving_to)
            correction = validate_correction(current_state(row), raw, self.reference, self.contacts)
            if "branch_code" in correction.changes and row["campaign_code"]:
                code = row["campaign_code"]
                branches = self._campaign_branches(uow, code) or frozenset()
                problem = _campaign_mismatch(code, branches, correction.branch.code, "branch_code")
                if problem:
                    raise InvalidInput([problem])
            if correction.changes:
                stored = correction.new_values()
                if "programmes" in stored:
                    stored["programmes"] = ",".join(stored["programmes"])
                uow.participants.update(participant_id, stored)
                data = self._updated_event(row, correction, now)
                event = self.outbox.row(data, participant_id, now)
                uow.outbox.add_many([event])
                self._audit(
                    uow, participant_id, "correction", correction.changes, actor, event, now
                )
                row = {**row, **stored}
            self._commit(uow)
        return participant_view(row)

    @staticmethod
    def _updated_event(row: Row, correction: Correction, now: datetime) -> ParticipantUpdatedV2:
        changed = correction.new_values()
        cleared = [name for name, value in changed.items() if value is None]
        fields = {
            name: value
            for name, value in changed.items()
            if value is not None and name in ParticipantUpdatedV2.model_fields
        }
        fields.update(
            participant_id=row["id"],
            branch_code=correction.branch.code,
            branch_timezone=correction.branch.timezone,
            participant_number=row["participant_number"],
            cleared=cleared or None,
            updated_at=now,
        )
        return ParticipantUpdatedV2.model_validate(fields)

    @staticmethod
    def _audit(
        uow: UnitOfWork,
        participant_id: str,
        action: str,
        changes: dict[str, tuple[Any, Any]],
        actor: Principal,
        event: Row,
        now: datetime,
    ) -> None:
        uow.audit.add(
            {
                "participant_id": participant_id,
                "action": action,
                "changes": json.dumps(
                    {name: {"old": old, "new": new} for name, (old, new) in changes.items()}
                ),
                "actor_key_id": actor.key_id,
                "actor_role": actor.role,
                "event_id": event["event_id"],
                "changed_at": now,
            }
        )

    def audit_trail(self, participant_id: str, actor: Principal) -> dict[str, Any]:
        actor.require_admin()
        with self.uow() as uow:
            if uow.participants.get(participant_id) is None:
                raise NotFound("participant", participant_id)
            rows = uow.audit.for_participant(participant_id)
        return {"participant_id": participant_id, "items": [audit_view(r) for r in rows]}

    def opt_out(
        self,
        participant_id: str,
        channels: list[str],
        reason: str,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        wanted = set(CHANNELS) if "all" in channels else set(channels)
        unknown = wanted - set(CHANNELS)
        if unknown or not wanted:
            raise InvalidInput(
                [FieldProblem("channels", f"use 'all' or some of {', '.join(CHANNELS)}")]
            )
        with self.uow() as uow:
            participant = self._participant_for_write(uow, participant_id, actor)
            view = self._opt_out(uow, participant, wanted, reason, actor)
            self._remember(uow, actor, idem, 200, view)
            self._commit(uow)
        return view

    def apply_opt_out_request(
        self,
        participant_id: str,
        channels: list[str],
        reason: str,
        person: Principal,
        request: Idempotency,
    ) -> dict[str, Any]:
        """A person's own request (an SMS reply, an unsubscribe link), checked by the door it
        came through: no branch to authorise. Applied once per request id (`request.key`),
        in the transaction that records it; a request seen before answers as it did then."""
        replay = self.replay(person, request)
        if replay is not None:
            return {**replay.body, "replayed": True}
        try:
            with self.uow() as uow:
                participant = uow.participants.get(participant_id, for_update=True)
                if participant is None:
                    raise NotFound("participant", participant_id)
                wanted = set(channels) & set(CHANNELS)
                # the request's id correlates it with the participant.opted_out it causes
                view = self._opt_out(uow, participant, wanted, reason, person, request.key)
                self._remember(uow, person, request, 200, view)
                self._commit(uow)
        except DuplicateWrite:  # the same request, applied meanwhile by another reader
            replay = self.replay(person, request)
            if replay is None:
                raise
            return {**replay.body, "replayed": True}
        return view

    def _opt_out(
        self,
        uow: UnitOfWork,
        participant: Row,
        wanted: set[str],
        reason: str,
        actor: Principal,
        correlationid: str | None = None,
    ) -> dict[str, Any]:
        """Add channels to a participant's opt-outs; only a change writes its event and audit
        entry, so opting out twice publishes once."""
        now = self.clock.now()
        participant_id = participant["id"]
        before = {c for c in participant["opted_out_channels"].split(",") if c}
        new = sorted(wanted - before)
        after = sorted(before | wanted)
        if new:
            uow.participants.update(participant_id, {"opted_out_channels": ",".join(after)})
            branch = self.reference.branches[participant["branch_code"]]
            data = ParticipantOptedOutV1(
                participant_id=participant_id,
                branch_code=branch.code,
                branch_timezone=branch.timezone,
                campaign_code=participant["campaign_code"],
                channels=new,
                reason=reason,
                opted_out_at=now,
            )
            event = self.outbox.row(data, participant_id, now, correlationid)
            uow.outbox.add_many([event])
            change = {"opted_out_channels": (sorted(before), after)}
            self._audit(uow, participant_id, "opt_out", change, actor, event, now)
        return {"participant_id": participant_id, "opted_out_channels": after, "changed": new}

    # --- campaigns -------------------------------------------------------------------------

    def create_campaign(
        self,
        code: str,
        name: str,
        branch_codes: list[str],
        starts_on: date,
        ends_on: date | None,
        actor: Principal,
        idem: Idempotency | None = None,
    ) -> dict[str, Any]:
        actor.require_admin()
        problems = [
            FieldProblem("branch_codes", f"unknown branch {b!r}")
            for b in branch_codes
            if b not in self.reference.branches
        ]
        if ends_on is not None and ends_on < starts_on:
            problems.append(FieldProblem("ends_on", "is before starts_on"))
        if problems:
            raise InvalidInput(problems)
        now = self.clock.now()
        row = {
            "code": code,
            "name": name,
            "branch_codes": ",".join(branch_codes),
            "starts_on": starts_on,
            "ends_on": ends_on,
            "created_at": now,
            "created_by": actor.key_id,
        }
        data = CampaignCreatedV1(
            campaign_code=code,
            name=name,
            branch_codes=branch_codes,
            starts_on=starts_on,
            ends_on=ends_on,
            created_at=now,
        )
        with self.uow() as uow:
            if uow.campaigns.get(code):
                raise Conflict(f"campaign {code} already exists")
            uow.campaigns.add(row)
            uow.outbox.add_many([self.outbox.row(data, code, now)])
            view = campaign_view(row)
            self._remember(uow, actor, idem, 201, view)
            try:
                self._commit(uow)
            except DuplicateWrite:
                raise Conflict(f"campaign {code} already exists") from None
        return view

    def get_campaign(self, code: str) -> dict[str, Any]:
        with self.uow() as uow:
            row = uow.campaigns.get(code)
        if row is None:
            raise NotFound("campaign", code)
        return campaign_view(row)

    def request_broadcast(
        self,
        campaign_code: str,
        message_kind: str,
        branch_codes: list[str],
        segments: list[str],
        params: dict[str, str],
        actor: Principal,
        idem: Idempotency | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Check a broadcast and accept it; with `dry_run`, answer its reach and cost instead.

        A dry run writes nothing (no broadcast, no event, no idempotency record).
        """
        actor.require_admin()
        problems = [
            FieldProblem("audience.branch_codes", f"unknown branch {b!r}")
            for b in branch_codes
            if b not in self.reference.branches
        ] + [
            FieldProblem("audience.segments", f"unknown segment {s!r}")
            for s in segments
            if s not in self.reference.segments
        ]
        kinds = [k.value for k in MessageKind]
        if message_kind not in kinds:
            problems.append(FieldProblem("message_kind", f"must be one of {', '.join(kinds)}"))
        plan, text_problems = check_text(params, self.broadcast_rules)
        problems += text_problems
        if problems:
            raise InvalidInput(problems)
        now = self.clock.now()
        audience = Audience(
            branch_codes=branch_codes, segments=segments, campaign_codes=[campaign_code]
        )
        view: dict[str, Any] = {
            "campaign_code": campaign_code,
            "message_kind": message_kind,
            "audience": audience.model_dump(),
            "params": params,
            "sms": plan.as_dict(),
        }
        with self.uow() as uow:
            if uow.campaigns.get(campaign_code) is None:
                raise NotFound("campaign", campaign_code)
            if dry_run:
                groups = uow.participants.audience_groups(
                    branch_codes, segments, audience.campaign_codes
                )
                reached = reach(
                    (
                        AudienceGroup(p, e, frozenset(o.split(",")) - {""}, k, n)
                        for p, e, o, k, n in groups
                    ),
                    message_kind,
                )
                return {
                    "dry_run": True,
                    **view,
                    "recipients": reached.as_dict(),
                    "estimated_cost": estimated_cost(reached, plan, self.broadcast_rules),
                }
            broadcast_id = str(uuid.uuid4())
            uow.campaigns.add_broadcast(
                {
                    "id": broadcast_id,
                    "campaign_code": campaign_code,
                    "message_kind": message_kind,
                    "audience": audience.model_dump_json(),
                    "params": json.dumps(params),
                    "requested_by": actor.key_id,
                    "requested_at": now,
                }
            )
            data = CampaignBroadcastRequestedV1(
                broadcast_id=broadcast_id,
                campaign_code=campaign_code,
                message_kind=MessageKind(message_kind),
                audience=audience,
                params=params,
                requested_by=actor.key_id,
                requested_at=now,
            )
            uow.outbox.add_many([self.outbox.row(data, campaign_code, now)])
            view = {"broadcast_id": broadcast_id, **view, "requested_at": now.isoformat()}
            self._remember(uow, actor, idem, 202, view)
            self._commit(uow)
        return view


def _campaign_mismatch(
    code: str, branches: frozenset[str], branch_code: str, field_name: str
) -> FieldProblem | None:
    """A campaign limited to some branches (empty: every branch) does not run in this one."""
    if branches and branch_code not in branches:
        return FieldProblem(field_name, f"campaign {code} does not run in branch {branch_code}")
    return None


def current_state(row: Row) -> CurrentState:
    return CurrentState(
        phone_e164=row["phone_e164"],
        email=row["email"],
        declared_income=row["declared_income"],
        programmes=tuple(row["programmes"].split(",")),
        branch_code=row["branch_code"],
        preferred_channel=row["preferred_channel"],
        language=row["language"],
        consent_reminders=row["consent_reminders"],
        monthly_contribution=row["monthly_contribution"],
    )


def audit_view(row: Row) -> dict[str, Any]:
    return {
        "action": row["action"],
        "changes": json.loads(row["changes"]),
        "actor": {"key_id": row["actor_key_id"], "role": row["actor_role"]},
        "event_id": row["event_id"],
        "changed_at": utc(row["changed_at"]).isoformat(),
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
