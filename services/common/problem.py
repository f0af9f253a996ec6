"""RFC 9457 problem details, built the same way by every service.

Framework-neutral on purpose: this builds the body (and its media type); each service's web
adapter (FastAPI in enrollment and reporting, aiohttp in the notifier) wraps it in its own
response type.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
#: RFC 9457's default type: the status code says everything the client needs.
ABOUT_BLANK = "about:blank"


def problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    type: str = ABOUT_BLANK,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem's members in the RFC's order; `instance` only when there is one."""
    body: dict[str, Any] = {"type": type, "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body
