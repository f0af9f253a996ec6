"""FastAPI dependencies as Annotated aliases: the container, the caller, the idempotency key."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from pydantic import BaseModel

from services.enrollment.bootstrap import Container
from services.enrollment.domain.access import Principal
from services.enrollment.handlers import Idempotency


async def _container(request: Request) -> Container:  # async: no thread hop per request
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(_container)]


async def _principal(request: Request) -> Principal:
    # One flat dependency reading the header itself: FastAPI's dependency solving costs more
    # per request than checking a cached key (async, so no thread hop either).
    authorization = request.headers.get("authorization")
    if not authorization:
        raise HTTPException(401, "send your API key as 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer <key>'")
    container: Container = request.app.state.container
    principal = container.api_keys.authenticate(key.strip())
    if principal is None:
        raise HTTPException(401, "this API key is not valid (unknown or revoked)")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]
IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="retrying with the same key returns the first response",
    ),
]


def idempotency(key: str | None, path: str, body: BaseModel) -> Idempotency | None:
    if key is None:
        return None
    fingerprint = hashlib.sha256(f"{path}\n{body.model_dump_json()}".encode()).hexdigest()
    return Idempotency(key=key, fingerprint=fingerprint)
