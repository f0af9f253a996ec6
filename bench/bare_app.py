"""The yardstick for enrollment's API: a FastAPI endpoint that only parses JSON and answers.

Served with the same uvicorn settings as the real service (bench.enrollment runs both), so the
ratio says what validation, storage and the outbox cost on top of the framework.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/participants", status_code=201)
    async def register(body: dict[str, Any]) -> dict[str, str]:
        return {"id": str(uuid.uuid4()), "received": str(len(body))}

    return app
