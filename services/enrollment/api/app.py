"""The FastAPI application: routes, problem handlers, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from services.enrollment.adapters.db import reader, schema_is_current
from services.enrollment.adapters.repository import OutboxRepository
from services.enrollment.api import problems
from services.enrollment.api.deps import ContainerDep
from services.enrollment.api.routes import router
from services.enrollment.bootstrap import Container

OUTBOX_PENDING = Gauge("enrollment_outbox_pending", "Outbox events not yet acknowledged by Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "enrollment_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox event not yet acknowledged by Kafka (0 when none waits)",
)


def create_app(container: Container) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container.start()
        try:
            yield
        finally:
            container.stop()

    app = FastAPI(
        title="Bebas Cemas — Enrollment",
        version="1.0.0",
        description="Register informal workers, campaigns and payments (Kerja Keras Bebas Cemas).",
        lifespan=lifespan,
    )
    app.state.container = container
    problems.install(app)
    app.include_router(router)

    def pending() -> float:
        with reader(container.engine) as conn:
            return float(OutboxRepository(conn).pending_count())

    def oldest_age() -> float:
        # read from the database, not the relay, so a dead or fenced relay still shows up here
        with reader(container.engine) as conn:
            oldest = OutboxRepository(conn).oldest_pending_created_at()
        if oldest is None:
            return 0.0
        return max(0.0, (container.enrollment.clock.now() - oldest).total_seconds())

    OUTBOX_PENDING.set_function(pending)
    OUTBOX_OLDEST_AGE.set_function(oldest_age)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(container: ContainerDep) -> JSONResponse:
        checks = {"database": "ok", "broker": "ok"}
        try:
            if not schema_is_current(container.engine):
                checks["database"] = "schema not migrated"
        except SQLAlchemyError as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if not container.broker_ready():
            checks["broker"] = f"unreachable at {container.kafka.bootstrap_servers}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["health"])
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
