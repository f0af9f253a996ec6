"""What `make run` starts for reporting: one worker (faust + API + dashboard) on a rocksdb store.

The dashboard opens to the run's enrollment admin key: its digest (`LaunchContext`, recorded
by enrollment's launcher, which runs first) joins REPORTING_KEY_HASHES as an admin entry. Session
cookies are signed with REPORTING_SESSION_SECRET when set, else a new random one each run (a
restart asks the browser to sign in again).
"""

from __future__ import annotations

import secrets

from services.platform import LaunchContext, ProcessSpec
from services.reporting.domain.access import parse_keys

KEYS_ENV = "REPORTING_KEY_HASHES"
SESSION_SECRET_ENV = "REPORTING_SESSION_SECRET"  # noqa: S105 - a variable name


def key_hashes(ctx: LaunchContext) -> str:
    """The configured entries, and every admin key of this data folder not among them."""
    configured = ctx.setting(KEYS_ENV) or ""
    listed = parse_keys(configured)
    added = [f"{d}:admin" for d in ctx.admin_key_digests() if d not in listed]
    return ",".join(filter(None, [configured.strip(" ,"), *added]))


def processes(ctx: LaunchContext) -> list[ProcessSpec]:
    port = ctx.port("reporting")
    url = f"http://127.0.0.1:{port}"
    env = {
        "REPORTING_HOST": "127.0.0.1",
        "REPORTING_PORT": str(port),
        "REPORTING_DATA_DIR": str(ctx.data_dir / "reporting"),
        "REPORTING_STORE": "rocksdb://",
        KEYS_ENV: key_hashes(ctx),
        SESSION_SECRET_ENV: ctx.setting(SESSION_SECRET_ENV) or secrets.token_urlsafe(32),
    }
    return [
        ProcessSpec(
            name="reporting",
            argv=[ctx.python, "-m", "services.reporting", "worker"],
            env=env,
            urls={
                "dashboard (sign in with the admin key)": f"{url}/",
                "API docs": f"{url}/docs",
                "metrics": f"{url}/metrics",
            },
            ready_url=f"{url}/readyz",
        )
    ]
