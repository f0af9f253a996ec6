"""enrollment.*: POST /v1/participants against a bare FastAPI endpoint, and a 100k-row import."""

from __future__ import annotations

import csv
import itertools
import json
import secrets
import time
from pathlib import Path

import httpx

from bench.context import BenchContext
from bench.identities import identities
from bench.processes import serving
from bench.rss import peak_rss_mb
from bench.wrk import post_load
from services.common.ports import free_port

BRANCH, CAMPAIGN = "SURAKARTA", "KKBC-PASAR-KLEWER"  # the seeded demo campaign runs there
_salts = itertools.count(1)
COLUMNS = ["full_name", "nik", "phone", "segment", "branch_code", "declared_income"]
COLUMNS += ["campaign_code", "consent_reminders"]


def _body_template(folder: Path) -> Path:
    body = {
        "full_name": "Sri Wahyuni",
        "nik": "__NIK__",
        "phone": "__PHONE__",
        "segment": "trader",
        "branch_code": BRANCH,
        "campaign_code": CAMPAIGN,
        "programmes": ["JKK", "JKM"],
        "declared_income": 1_500_000,
        "preferred_channel": "sms",
        "consent_reminders": True,
        "source": "field",
    }
    path = folder / "registration.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def _enrollment_env(ctx: BenchContext, folder: Path, port: int, key: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": ctx.kafka.bootstrap_servers,
        "ENROLLMENT_DATA_DIR": str(folder),
        "ENROLLMENT_PORT": str(port),
        "ENROLLMENT_BOOTSTRAP_ADMIN_KEY": key,
        "ENROLLMENT_NIK_HASH_KEY": secrets.token_hex(16),
    }


def _rps(url: str, body: Path, seconds: int, auth: str = "") -> float:
    return post_load(url, body, seconds=seconds, auth=auth, salt=next(_salts)).rps


def api_against_bare(ctx: BenchContext) -> dict[str, float]:
    folder = ctx.folder("enrollment-api")
    body = _body_template(folder)
    seconds = 5 if ctx.quick else 10
    bare_port, api_port, key = free_port(), free_port(), "bc_bench_" + secrets.token_hex(16)
    bare_argv = ["-m", "bench.serve_bare", "--port", str(bare_port)]
    api_argv = ["-m", "services.enrollment", "serve", "--seed-demo", "--log-level", "warning"]
    bare_url = f"http://127.0.0.1:{bare_port}/v1/participants"
    api_url = f"http://127.0.0.1:{api_port}/v1/participants"
    env = _enrollment_env(ctx, folder, api_port, key)
    bare_runs, api_runs = [], []
    with (
        serving(bare_argv, f"http://127.0.0.1:{bare_port}/docs", folder / "bare.log"),
        serving(api_argv, f"http://127.0.0.1:{api_port}/readyz", folder / "api.log", env),
    ):
        _rps(bare_url, body, 2)  # warm-up both, then alternate so drift hits both alike
        _rps(api_url, body, 2, f"Bearer {key}")
        for _ in range(ctx.repetitions()):
            bare_runs.append(_rps(bare_url, body, seconds))
            api_runs.append(_rps(api_url, body, seconds, f"Bearer {key}"))
    bare, api = sorted(bare_runs)[len(bare_runs) // 2], sorted(api_runs)[len(api_runs) // 2]
    return {"enrollment.bare_rps": bare, "enrollment.api_rps": api, "enrollment.ratio": api / bare}


def write_sheet(path: Path, rows: int, salt: int, campaign: str = CAMPAIGN) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            [
                "full_name",
                "nik",
                "phone",
                "segment",
                "branch_code",
                "declared_income",
                "campaign_code",
                "consent_reminders",
            ]
        )
        for i, (nik, phone) in enumerate(identities(rows, salt)):
            writer.writerow(
                [f"Pedagang {i}", nik, phone, "trader", BRANCH, 1_200_000, campaign, "ya"]
            )


def csv_import(ctx: BenchContext) -> dict[str, float]:
    folder = ctx.folder("enrollment-import")
    rows = ctx.size(100_000, 10_000)
    sheet = folder / "sheet.csv"
    write_sheet(sheet, rows, salt=900 + next(_salts))
    port, key = free_port(), "bc_bench_" + secrets.token_hex(16)
    argv = ["-m", "services.enrollment", "serve", "--seed-demo", "--log-level", "warning"]
    env = _enrollment_env(ctx, folder, port, key)
    with serving(argv, f"http://127.0.0.1:{port}/readyz", folder / "api.log", env) as server:
        started = time.perf_counter()
        with sheet.open("rb") as upload:
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/imports",
                files={"file": ("sheet.csv", upload, "text/csv")},
                headers={"Authorization": f"Bearer {key}"},
                timeout=1800,
            )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        registered = response.json()["registered"]
        peak = peak_rss_mb(server.pid)
    if registered != rows:
        raise RuntimeError(f"import registered {registered} of {rows} valid rows")
    return {"enrollment.csv_rows_per_s": rows / elapsed, "memory.enrollment_import_rss_mb": peak}


def measure(ctx: BenchContext) -> dict[str, float]:
    return {**api_against_bare(ctx), **csv_import(ctx)}
