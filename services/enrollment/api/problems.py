"""RFC 9457 problem details, worded for a branch officer, naming every field that is wrong."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.problem import PROBLEM_JSON, problem_body
from services.enrollment.domain.errors import (
    AlreadyRegistered,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
)
from services.enrollment.imports import ImportRejected

BASE = "https://bebas-cemas.id/problems/"


def problem(
    status: int, kind: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    body = problem_body(status, title, detail, type=BASE + kind, instance=instance, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(problems: list[FieldProblem], instance: str) -> JSONResponse:
    errors = [{"field": p.field, "message": p.message} for p in problems]
    detail = "; ".join(f"{p.field} {p.message}" for p in problems)
    return problem(422, "validation", "Some fields are not valid", detail, instance, errors=errors)


def _friendly(error: dict[str, Any]) -> FieldProblem:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    name = ".".join(loc) or "body"
    kind = error.get("type", "")
    message = str(error.get("msg", "is not valid"))
    if kind == "missing":
        message = "is required"
    elif kind == "json_invalid":
        name, message = "body", "is not valid JSON"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        message = "must be a whole number"
    elif kind == "bool_parsing":
        message = "must be true or false"
    elif kind == "model_attributes_type" or kind == "dict_type":
        message = "must be a JSON object"
    message = message.replace("Input should be", "must be").replace("String should", "must")
    message = message.replace("Value error, ", "")
    return FieldProblem(name, message)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return field_errors([_friendly(dict(e)) for e in exc.errors()], request.url.path)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return field_errors(exc.problems, request.url.path)

    @app.exception_handler(AlreadyRegistered)
    async def _duplicate(request: Request, exc: AlreadyRegistered) -> JSONResponse:
        return problem(
            409,
            "already-registered",
            "This person is already registered",
            str(exc),
            request.url.path,
            participant_id=exc.participant_id,
            errors=[{"field": "nik", "message": "is already registered"}],
        )

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        extra = {"errors": errors} if errors else {}
        return problem(409, "conflict", "Conflict", str(exc), request.url.path, **extra)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "not-found", f"No such {exc.what}", str(exc), request.url.path)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return problem(
            403, "forbidden", "Not allowed with this API key", str(exc), request.url.path
        )

    @app.exception_handler(ImportRejected)
    async def _import(request: Request, exc: ImportRejected) -> JSONResponse:
        return field_errors([FieldProblem("file", str(exc))], request.url.path)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        titles = {401: "API key missing or not valid", 404: "Not found", 405: "Method not allowed"}
        title = titles.get(exc.status_code, "Request failed")
        return problem(
            exc.status_code, f"http-{exc.status_code}", title, str(exc.detail), request.url.path
        )
