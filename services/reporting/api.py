"""The HTTP API: metrics per campaign and branch, overview, CSV, stream health, dead letters,
dashboard.

Every figure is cluster-wide (see `cluster.py`). Errors are RFC 9457 problem+json and name
the field that is wrong. Everything under /v1 needs a sign-in (`access.py`): a bearer key, or
the session cookie POST /v1/session gives. /healthz, /readyz and /metrics stay open (probes
and Prometheus call them without a key; they carry no figures of a branch), and so does
/internal/v1/partial, which the workers ask each other (see the README's "Security").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body as BodyParam
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import deadletter_cli
from services.common.deadletters import PAGE_SIZE, Selection
from services.common.problem import PROBLEM_JSON, problem_body
from services.reporting.access import COOKIE, Access, Unauthenticated
from services.reporting.cluster import PEER_HEADER, Gathered, Partial, gather
from services.reporting.dead_letter_requests import ReplayRequest, ServiceFilter, dead_letter_filter
from services.reporting.domain import figures
from services.reporting.domain.access import Forbidden, Principal, peer_token, peer_token_ok
from services.reporting.lag import LagSnapshot
from services.reporting.schemas_api import (
    BranchMetrics,
    CampaignMetrics,
    Overview,
    StreamHealth,
)

STATIC = Path(__file__).parent / "static"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$|^-$"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = headers


@dataclass
class Services:
    """What the routes need from the running worker (a port: tests may pass their own)."""

    worker: Any  # ReportingWorker: owned(), counters(), peers(), ready, sources, telemetry
    lag: LagSnapshot
    registry: CollectorRegistry
    url: str
    peer_timeout_s: float = 3.0
    #: who may sign in (default: nobody)
    access: Access = field(default_factory=Access)
    #: each service's dead letters: where they are and how a replay is checked (empty: none
    #: offered)
    dead_letters: Mapping[str, deadletter_cli.DeadLetterConfig] = field(default_factory=dict)

    def local_partial(self) -> Partial:
        telemetry = self.worker.telemetry
        return Partial(
            url=self.url,
            owned=self.worker.owned(),
            counters=self.worker.counters(),
            totals=telemetry.totals(),
            events_per_second=telemetry.events_per_second(),
            first_at=telemetry.first_at,
            last_at=telemetry.last_at,
        )

    def expected_partitions(self) -> dict[str, int]:
        return {name: source.partitions for name, source in self.worker.sources.items()}

    async def gathered(self) -> Gathered:
        token = peer_token(self.access.secret, self.access.wall())
        return await gather(
            self.local_partial(), self.worker.peers(), self.peer_timeout_s, {PEER_HEADER: token}
        )

    async def counters(self) -> figures.Counters:
        got = await self.gathered()
        missing = got.missing(self.expected_partitions())
        if missing:
            where = "; ".join(f"{t} {ps}" for t, ps in missing.items())
            raise Problem(
                503,
                "Figures incomplete",
                f"no recovered worker answers for partitions: {where} "
                "(starting, rebalancing or unreachable); try again shortly",
                missing_partitions=missing,
                unreachable_workers=got.unreachable,
            )
        return got.merged()


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
Code = Annotated[str, PathParam(pattern=CODE_PATTERN, description="campaign or branch code")]
From = Annotated[date | None, Query(alias="from", description="first local day (YYYY-MM-DD)")]
To = Annotated[date | None, Query(alias="to", description="last local day (YYYY-MM-DD)")]


def date_range(start: From = None, end: To = None) -> figures.DateRange:
    try:
        return figures.DateRange(start, end)
    except ValueError as exc:
        raise Problem(
            422, "Invalid date range", str(exc), errors=[{"field": "from", "message": str(exc)}]
        ) from exc


RangeDep = Annotated[figures.DateRange, Depends(date_range)]


def signed_in(request: Request, services: ServicesDep) -> Principal:
    try:
        return services.access.who(
            request.headers.get("Authorization"), request.cookies.get(COOKIE)
        )
    except Unauthenticated as exc:
        raise Problem(
            401, "Sign-in required", str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc


Who = Annotated[Principal, Depends(signed_in)]


def create_api(services: Services, lifespan: Any = None) -> FastAPI:
    api = FastAPI(
        title="Bebas Cemas reporting",
        version="1.0",
        description="Live campaign metrics for operations teams: enrolments, messages, "
        "payments, opt-outs; stream health. Days are local days of each branch (WIB/WITA/WIT).",
        lifespan=lifespan,
    )
    api.state.services = services
    _problems(api)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")

    @api.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["health"])
    async def readyz(services: ServicesDep) -> JSONResponse:
        ready = bool(services.worker.ready)
        body = {"status": "ready" if ready else "not ready", "owned": services.worker.owned()}
        return JSONResponse(body, status_code=200 if ready else 503)

    @api.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics(services: ServicesDep) -> Response:
        return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)

    @api.post("/v1/session", tags=["sign-in"])
    async def sign_in(
        services: ServicesDep, key: Annotated[str, BodyParam(embed=True, min_length=1)]
    ) -> JSONResponse:
        """Exchange an API key for a session cookie (HttpOnly, SameSite=Strict, signed)."""
        try:
            principal = services.access.sign_in(key)
        except Unauthenticated as exc:
            raise Problem(
                401,
                "Sign-in refused",
                f"key: {exc}",
                headers={"WWW-Authenticate": "Bearer"},
                errors=[{"field": "key", "in": "body", "message": str(exc)}],
            ) from exc
        token, expires = services.access.session(principal)
        response = JSONResponse({**principal.public(), "expires_at": expires})
        response.set_cookie(
            COOKIE,
            token,
            max_age=services.access.session_seconds,
            httponly=True,
            samesite="strict",
            secure=services.access.cookie_secure,
            path="/",
        )
        return response

    @api.get("/v1/session", tags=["sign-in"])
    async def session(who: Who) -> dict[str, str | None]:
        """Whose key this request is signed in with (the dashboard hides what it may not read)."""
        return who.public()

    @api.delete("/v1/session", tags=["sign-in"], status_code=204)
    async def sign_out() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @api.get("/v1/campaigns/{code}/metrics", tags=["metrics"], response_model=CampaignMetrics)
    async def campaign_metrics(
        code: Code, rng: RangeDep, services: ServicesDep, who: Who
    ) -> dict[str, Any]:
        """Enrolments, messages, payments and opt-outs of one campaign, by branch and day (an
        officer's key: their branch only)."""
        return figures.campaign_report(await services.counters(), code, rng, who.branch)

    @api.get("/v1/campaigns/{code}/report.csv", tags=["metrics"], response_class=PlainTextResponse)
    async def campaign_csv(code: Code, rng: RangeDep, services: ServicesDep, who: Who) -> Response:
        """The campaign report as CSV: one row per local day and branch."""
        rows = figures.campaign_csv_rows(await services.counters(), code, rng, who.branch)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(figures.CSV_HEADER)
        writer.writerows(rows)
        filename = f"bebas-cemas-{code}-report.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @api.get("/v1/branches/{code}/metrics", tags=["metrics"], response_model=BranchMetrics)
    async def branch_metrics(
        code: Code, rng: RangeDep, services: ServicesDep, who: Who
    ) -> dict[str, Any]:
        """Everything of one branch, by campaign and day."""
        who.require_branch(code)
        return figures.branch_report(await services.counters(), code, rng)

    @api.get("/v1/overview", tags=["metrics"], response_model=Overview)
    async def overview(rng: RangeDep, services: ServicesDep, who: Who) -> dict[str, Any]:
        """Every campaign's headline figures, and the totals (an officer's key: their branch)."""
        return figures.overview(await services.counters(), rng, who.branch)

    _dead_letter_routes(api)

    @api.get("/v1/stream-health", tags=["health"], response_model=StreamHealth)
    async def stream_health(services: ServicesDep, who: Who) -> dict[str, Any]:
        """Consumer lag per group and partition, events per second, dead letters (admins and
        viewers)."""
        who.require_operations()
        got = await services.gathered()
        processed: dict[str, dict[str, int]] = {}
        for partial in got.partials:
            for topic, values in partial.totals.items():
                into = processed.setdefault(topic, {})
                for name, value in values.items():
                    into[name] = into.get(name, 0) + value
        lag = services.lag
        firsts = [p.first_at for p in got.partials if p.first_at is not None]
        lasts = [p.last_at for p in got.partials if p.last_at is not None]
        return {
            "workers": sorted(p.url for p in got.partials),
            "unreachable_workers": got.unreachable,
            "missing_partitions": got.missing(services.expected_partitions()),
            "events_per_second": round(sum(p.events_per_second for p in got.partials), 1),
            "topics": processed,
            "dead_letters": sum(v.get("dead_letters", 0) for v in processed.values()),
            "first_batch_at": min(firsts) if firsts else None,
            "last_batch_at": max(lasts) if lasts else None,
            "lag": {
                "by_group": lag.by_group(),
                "partitions": [
                    {
                        "group": p.group,
                        "topic": p.topic,
                        "partition": p.partition,
                        "committed": p.committed,
                        "end": p.end,
                        "lag": p.lag,
                    }
                    for p in lag.partitions
                ],
                "taken_at": lag.taken_at,
                "error": lag.error,
            },
        }

    @api.get("/internal/v1/partial", include_in_schema=False)
    async def partial(
        services: ServicesDep, peer: Annotated[str | None, Header(alias=PEER_HEADER)] = None
    ) -> dict[str, Any]:
        """A worker's counters, for its peers only: the token proves the shared secret."""
        access = services.access
        if not peer or not peer_token_ok(access.secret, peer, access.wall()):
            raise Problem(
                401,
                "Unauthorized",
                f"{PEER_HEADER}: only reporting workers sharing REPORTING_SESSION_SECRET ask "
                "for partials",
            )
        return services.local_partial().to_json()

    return api


def _dead_letter_routes(api: FastAPI) -> None:
    @api.get("/v1/dead-letters", tags=["dead letters"])
    async def dead_letters(
        services: ServicesDep,
        who: Who,
        selection: Annotated[Selection, Depends(dead_letter_filter)],
        service: ServiceFilter = None,
        page: Annotated[int, Query(ge=1, description="1 is the newest")] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> dict[str, Any]:
        """Every service's dead letters (or one service's), newest first, with counts by
        reason; each item names its `service` (admins and viewers; the original bytes are
        never shown, any NIK in the text is masked)."""
        who.require_operations()
        configs = _dead_letter_configs(services, service)
        return await deadletter_cli.listing_doc_of(configs, selection, page, page_size)

    @api.post("/v1/dead-letters/replay", tags=["dead letters"])
    async def replay(services: ServicesDep, who: Who, body: ReplayRequest) -> dict[str, Any]:
        """Send the selected dead letters back to the topic and key they came from, each at
        most once and by the rules of the service that wrote it (admins): the answer counts
        replayed, skipped and refused letters."""
        who.require_admin()
        selection = body.selection()
        if selection.empty:
            why = "say which letters: ids, topic, reason, from or to (an empty body replays none)"
            raise Problem(
                422, "Invalid request", f"ids: {why}", errors=[{"field": "ids", "message": why}]
            )
        configs = _dead_letter_configs(services, body.service)
        report = await deadletter_cli.replay_selected_of(configs, selection)
        return report.as_dict()


def _dead_letter_configs(
    services: Services, service: str | None
) -> list[deadletter_cli.DeadLetterConfig]:
    if not services.dead_letters:
        raise Problem(404, "Not offered", "this worker was started without dead letters")
    if service is None:
        return list(services.dead_letters.values())
    return [services.dead_letters[service]]


def _problems(api: FastAPI) -> None:
    @api.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        body = problem_body(403, "Forbidden", str(exc), instance=request.url.path)
        return JSONResponse(body, status_code=403, media_type=PROBLEM_JSON)

    @api.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        body = problem_body(
            exc.status, exc.title, exc.detail, instance=request.url.path, **exc.extra
        )
        headers = {"Retry-After": "2"} if exc.status == 503 else exc.headers
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]),
                "in": str(err["loc"][0]),
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        body = problem_body(
            422, "Invalid request", detail, instance=request.url.path, errors=errors
        )
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = str(exc.detail)
        body = problem_body(exc.status_code, title, title, instance=request.url.path)
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON)
