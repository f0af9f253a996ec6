"""What `make run` starts for reporting: one worker (faust + API + dashboard) on a rocksdb store."""

from __future__ import annotations

from services.platform import LaunchContext, ProcessSpec


def processes(ctx: LaunchContext) -> list[ProcessSpec]:
    port = ctx.port("reporting")
    url = f"http://127.0.0.1:{port}"
    env = {
        "REPORTING_HOST": "127.0.0.1",
        "REPORTING_PORT": str(port),
        "REPORTING_DATA_DIR": str(ctx.data_dir / "reporting"),
        "REPORTING_STORE": "rocksdb://",
    }
    return [
        ProcessSpec(
            name="reporting",
            argv=[ctx.python, "-m", "services.reporting", "worker"],
            env=env,
            urls={
                "dashboard": f"{url}/",
                "API docs": f"{url}/docs",
                "metrics": f"{url}/metrics",
            },
            ready_url=f"{url}/readyz",
        )
    ]
