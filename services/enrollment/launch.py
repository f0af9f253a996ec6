"""What `make run` starts for enrollment: the API server with the outbox relay inside."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from services.enrollment.apikeys import KEY_PREFIX
from services.platform import LaunchContext, ProcessSpec


def _admin_key(ctx: LaunchContext, data_dir_marker: str) -> tuple[str | None, bool]:
    """The bootstrap admin key: ENROLLMENT_BOOTSTRAP_ADMIN_KEY (from the launcher's environment
    or the process's), or a new one on the first run.

    Only a marker (never the key) is written, so the generated key is shown exactly once.
    """
    configured = ctx.setting("ENROLLMENT_BOOTSTRAP_ADMIN_KEY")
    if configured:
        return configured, False
    marker = ctx.data_dir / "enrollment" / data_dir_marker
    if marker.exists():
        return None, False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"a demo admin key was printed at {datetime.now(UTC).isoformat()}\n")
    return KEY_PREFIX + secrets.token_urlsafe(32), True


def processes(ctx: LaunchContext) -> list[ProcessSpec]:
    port = ctx.port("enrollment")
    base = f"http://127.0.0.1:{port}"
    env = {
        "ENROLLMENT_DATA_DIR": str(ctx.data_dir / "enrollment"),
        "ENROLLMENT_HOST": "127.0.0.1",
        "ENROLLMENT_PORT": str(port),
    }
    key, fresh = _admin_key(ctx, "admin-key-issued")
    if key:
        env["ENROLLMENT_BOOTSTRAP_ADMIN_KEY"] = key
        ctx.remember_admin_key(key)  # its digest lets the notifier's participant view in
    urls = {"API": f"{base}/v1", "docs": f"{base}/docs", "metrics": f"{base}/metrics"}
    if fresh and key:
        urls["admin key (shown once)"] = key
    elif not key:
        urls["admin key"] = (
            "printed on the first run; new one: python -m services.enrollment apikey create "
            "--role admin"
        )
    return [
        ProcessSpec(
            name="enrollment",
            argv=[ctx.python, "-m", "services.enrollment", "serve", "--seed-demo"],
            env=env,
            urls=urls,
            ready_url=f"{base}/readyz",
        )
    ]
