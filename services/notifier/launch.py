"""What `make run` starts for the notifier: the worker and the local sinks it sends to (an SMS
gateway, an SMTP server and a WhatsApp Cloud API).

The local gateway signs its receipts with the run's callback secret (NOTIFIER_SMS_CALLBACK_SECRET
when set, else a new random one each run: only these two processes need it), and the
participant view opens to the run's enrollment admin key (its digest, `LaunchContext`).
E-mails link to this notifier's own `/unsubscribe`, signed with a key kept in the data folder
(NOTIFIER_UNSUBSCRIBE_SECRET when set), so links in mail of an earlier run keep working.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from services.platform import LaunchContext, ProcessSpec

LOCAL_SMS_API_KEY = "local-dev-key"  # the local sink's key, not a secret
CALLBACK_SECRET_ENV = "NOTIFIER_SMS_CALLBACK_SECRET"  # noqa: S105 - a variable name
ADMIN_HASHES_ENV = "NOTIFIER_ADMIN_KEY_HASHES"
UNSUBSCRIBE_SECRET_ENV = "NOTIFIER_UNSUBSCRIBE_SECRET"  # noqa: S105 - a variable name
UNSUBSCRIBE_URL_ENV = "NOTIFIER_UNSUBSCRIBE_URL"
#: a port under this name starts a second local SMS gateway, which the notifier fails over to
#: (`make reliability`'s sms_failover; `make run` has none)
SECOND_GATEWAY_PORT = "sms_gateway_2"
#: the local WhatsApp Cloud API's token and the run's number id: not secrets, like the SMS key
LOCAL_WHATSAPP_TOKEN = "local-wa-token"  # noqa: S105
LOCAL_WHATSAPP_NUMBER_ID = "1055500000"
WHATSAPP_APP_SECRET_ENV = "NOTIFIER_WHATSAPP_APP_SECRET"  # noqa: S105 - a variable name


def _unsubscribe_secret(data: Path) -> str:
    """The run's link key: made once, 0600, beside the notifier's data (like enrollment's
    NIK hash key), because a link must outlive the run that mailed it."""
    path = data / "unsubscribe.key"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _gateway(
    name: str, port: int, sinks: Path, notifier: str, callback_secret: str, python: str
) -> ProcessSpec:
    gateway = f"http://127.0.0.1:{port}"
    return ProcessSpec(
        name=name,
        argv=[
            python,
            "-m",
            "services.notifier.sinks.sms_gateway",
            "--port",
            str(port),
            "--data-dir",
            str(sinks),
            "--api-key",
            LOCAL_SMS_API_KEY,
            "--receipt-url",
            f"{notifier}/receipts",
            "--inbound-url",
            f"{notifier}/inbound-sms",
        ],
        # in the environment, not argv: the secret stays out of `ps`
        env={"SMS_GATEWAY_CALLBACK_SECRET": callback_secret},
        urls={
            "SMS received": f"{gateway}/messages",
            "reply as a person (POST {from, text})": f"{gateway}/inbound",
        },
        ready_url=f"{gateway}/healthz",
    )


def _whatsapp(
    port: int, sinks: Path, notifier: str, app_secret: str, python: str
) -> tuple[ProcessSpec, dict[str, str]]:
    """The local Cloud API, and the notifier's settings that point at it."""
    api = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(
        name="whatsapp-sink",
        argv=[
            python,
            "-m",
            "services.notifier.sinks.whatsapp_sink",
            "--port",
            str(port),
            "--data-dir",
            str(sinks),
            "--token",
            LOCAL_WHATSAPP_TOKEN,
            "--webhook-url",
            f"{notifier}/webhooks/whatsapp",
        ],
        env={"WHATSAPP_SINK_APP_SECRET": app_secret},
        urls={
            "WhatsApp received": f"{api}/messages",
            'a number not on WhatsApp (POST {"absent": "+62…"})': f"{api}/control",
        },
        ready_url=f"{api}/healthz",
    )
    env = {
        "NOTIFIER_WHATSAPP_URL": api,
        "NOTIFIER_WHATSAPP_PHONE_NUMBER_ID": LOCAL_WHATSAPP_NUMBER_ID,
        "NOTIFIER_WHATSAPP_TOKEN": LOCAL_WHATSAPP_TOKEN,
        WHATSAPP_APP_SECRET_ENV: app_secret,
        "NOTIFIER_WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
    }
    return spec, env


def processes(ctx: LaunchContext) -> list[ProcessSpec]:
    data = ctx.data_dir / "notifier"
    sinks = data / "sinks"
    gateway_port, smtp_port, port = ctx.port("sms_gateway"), ctx.port("smtp"), ctx.port("notifier")
    gateway = f"http://127.0.0.1:{gateway_port}"
    notifier = f"http://127.0.0.1:{port}"
    callback_secret = ctx.setting(CALLBACK_SECRET_ENV) or secrets.token_urlsafe(32)
    # enrollment's launcher runs first (SERVICE_PACKAGES) and records a key it just issued
    admins = [ctx.setting(ADMIN_HASHES_ENV) or "", *ctx.admin_key_digests()]
    unsubscribe_secret = ctx.setting(UNSUBSCRIBE_SECRET_ENV) or _unsubscribe_secret(data)
    unsubscribe_url = ctx.setting(UNSUBSCRIBE_URL_ENV) or f"{notifier}/unsubscribe"
    gateways = [_gateway("sms-gateway", gateway_port, sinks, notifier, callback_secret, ctx.python)]
    sms: dict[str, str] = {"NOTIFIER_SMS_GATEWAY_URL": gateway}
    if SECOND_GATEWAY_PORT in ctx.ports:
        # a second local gateway (fault scenarios): the notifier fails over to it
        second = ctx.port(SECOND_GATEWAY_PORT)
        gateways.append(
            _gateway(
                "sms-gateway-2", second, data / "sinks-2", notifier, callback_secret, ctx.python
            )
        )
        providers = [
            {"name": f"local-{n}", "kind": "gateway", "url": url, "key": LOCAL_SMS_API_KEY}
            for n, url in enumerate((gateway, f"http://127.0.0.1:{second}"), start=1)
        ]
        sms = {"NOTIFIER_SMS_PROVIDERS": json.dumps(providers)}
    sinks_extra: list[ProcessSpec] = []
    whatsapp: dict[str, str] = {}
    if "whatsapp" in ctx.ports:
        app_secret = ctx.setting(WHATSAPP_APP_SECRET_ENV) or secrets.token_urlsafe(32)
        spec, whatsapp = _whatsapp(ctx.port("whatsapp"), sinks, notifier, app_secret, ctx.python)
        sinks_extra.append(spec)
    return [
        *gateways,
        *sinks_extra,
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
                **sms,
                **whatsapp,
                "NOTIFIER_SMS_API_KEY": LOCAL_SMS_API_KEY,
                "NOTIFIER_SINK_DIR": str(sinks),
                CALLBACK_SECRET_ENV: callback_secret,
                ADMIN_HASHES_ENV: ",".join(filter(None, admins)),
                UNSUBSCRIBE_URL_ENV: unsubscribe_url,
                UNSUBSCRIBE_SECRET_ENV: unsubscribe_secret,
            },
            urls={
                "messages (SMS, WhatsApp, e-mail the sinks got)": f"{notifier}/messages",
                "one-click unsubscribe (the link in every e-mail)": unsubscribe_url,
                "metrics": f"{notifier}/metrics",
                "list in a terminal": f"python -m services.notifier messages --sink-dir {sinks}",
            },
            ready_url=f"{notifier}/readyz",
        ),
    ]
