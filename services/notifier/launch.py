"""What `make run` starts for the notifier: the worker and the two local sinks it sends to."""

from __future__ import annotations

from services.platform import LaunchContext, ProcessSpec

LOCAL_SMS_API_KEY = "local-dev-key"  # the local sink's key, not a secret


def processes(ctx: LaunchContext) -> list[ProcessSpec]:
    data = ctx.data_dir / "notifier"
    sinks = data / "sinks"
    gateway_port, smtp_port, port = ctx.port("sms_gateway"), ctx.port("smtp"), ctx.port("notifier")
    gateway = f"http://127.0.0.1:{gateway_port}"
    notifier = f"http://127.0.0.1:{port}"
    return [
        ProcessSpec(
            name="sms-gateway",
            argv=[
                ctx.python,
                "-m",
                "services.notifier.sinks.sms_gateway",
                "--port",
                str(gateway_port),
                "--data-dir",
                str(sinks),
                "--api-key",
                LOCAL_SMS_API_KEY,
                "--receipt-url",
                f"{notifier}/receipts",
            ],
            urls={"SMS received": f"{gateway}/messages"},
            ready_url=f"{gateway}/healthz",
        ),
        ProcessSpec(
            name="smtp-sink",
            argv=[
                ctx.python,
                "-m",
                "services.notifier.sinks.smtp_sink",
                "--port",
                str(smtp_port),
                "--data-dir",
                str(sinks),
            ],
            urls={"SMTP": f"smtp://127.0.0.1:{smtp_port} (mail in {sinks / 'mail'})"},
        ),
        ProcessSpec(
            name="notifier",
            argv=[ctx.python, "-m", "services.notifier", "worker"],
            env={
                "NOTIFIER_HOST": "127.0.0.1",
                "NOTIFIER_PORT": str(port),
                "NOTIFIER_DATA_DIR": str(data),
                "NOTIFIER_SMTP_HOST": "127.0.0.1",
                "NOTIFIER_SMTP_PORT": str(smtp_port),
                "NOTIFIER_SMS_GATEWAY_URL": gateway,
                "NOTIFIER_SMS_API_KEY": LOCAL_SMS_API_KEY,
                "NOTIFIER_SINK_DIR": str(sinks),
            },
            urls={
                "messages (SMS + e-mail the sinks got)": f"{notifier}/messages",
                "metrics": f"{notifier}/metrics",
                "list in a terminal": f"python -m services.notifier messages --sink-dir {sinks}",
            },
            ready_url=f"{notifier}/readyz",
        ),
    ]
