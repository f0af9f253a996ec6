"""CSV import: streamed, per-row report, no duplicates on re-upload, on both databases."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.enrollment.adapters import tables
from services.enrollment.bootstrap import Container
from services.enrollment.domain.access import Principal
from tests.enrollment.conftest import Keys
from tests.enrollment.factory import nik_for, phone_for

HEADER = [
    "full_name",
    "nik",
    "phone",
    "email",
    "segment",
    "branch_code",
    "campaign_code",
    "declared_income",
    "jht",
    "consent_reminders",
]
SEGMENTS = ["trader", "ojek", "farmer", "fisher", "labourer", "other"]

#: The six kinds of bad row, each with the exact report line it must produce.
BAD_KINDS: list[tuple[dict[str, str], str, str]] = [
    (
        {"nik": "9912345678901234"},
        "nik",
        "starts with 99, which is not an Indonesian province code",
    ),
    (
        {"phone": "021-555-1234"},
        "phone",
        "'021-555-1234' is a landline; give a mobile number that can receive SMS",
    ),
    (
        {"segment": "pilot"},
        "segment",
        "unknown segment 'pilot'; use one of trader, ojek, farmer, fisher, labourer, other",
    ),
    (
        {"declared_income": "banyak"},
        "declared_income",
        "'banyak' is not an amount in rupiah (write e.g. 1500000, 1.500.000 or Rp1.500.000)",
    ),
    ({"branch_code": "ATLANTIS"}, "branch_code", "unknown branch 'ATLANTIS'"),
    (
        {"email": "sri.example.id"},
        "email",
        "is not a valid e-mail address: An email address must have an @-sign.",
    ),
]


def good_row(n: int) -> dict[str, str]:
    return {
        "full_name": f"Pedagang Klewer {n}",
        "nik": nik_for(n, female=n % 2 == 0),
        "phone": phone_for(n),
        "email": f"p{n}@example.id" if n % 3 == 0 else "",
        "segment": SEGMENTS[n % len(SEGMENTS)],
        "branch_code": "SURAKARTA",
        "campaign_code": "KKBC-PASAR-KLEWER" if n % 2 else "",
        "declared_income": f"Rp{1_000_000 + n * 100:,}".replace(",", "."),
        "jht": "ya" if n % 4 == 0 else "tidak",
        "consent_reminders": "ya",
    }


def build_sheet(rows: int, delimiter: str = ";") -> tuple[bytes, list[dict[str, Any]], int]:
    """A sheet where every 20th row (5%) is bad in a known way, and what the report must say."""
    lines = [delimiter.join(HEADER)]
    expected: list[dict[str, Any]] = []
    good = 0
    for i in range(rows):
        row_number = i + 2  # the header is row 1
        values = good_row(i)
        if i % 20 == 7:
            kind = (i // 20) % (len(BAD_KINDS) + 1)
            if kind == len(BAD_KINDS):  # a repeated NIK: the same person written twice
                values["nik"] = nik_for(i - 1, female=(i - 1) % 2 == 0)
                message = f"same NIK as row {row_number - 1} of this file; skipped"
                expected.append({"row": row_number, "field": "nik", "message": message})
            else:
                change, field, message = BAD_KINDS[kind]
                values.update(change)
                expected.append({"row": row_number, "field": field, "message": message})
        else:
            good += 1
        lines.append(delimiter.join(values[h] for h in HEADER))
    body = "\r\n".join(lines) + "\r\n"
    return ("\ufeff" + body).encode("utf-8"), expected, good


def upload(client: TestClient, key: str, content: bytes) -> Any:
    return client.post(
        "/v1/imports",
        files={"file": ("pendaftaran.csv", content, "text/csv")},
        headers=Keys.auth(key),
    )


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_ten_thousand_rows_with_five_percent_bad_give_the_exact_report(
    client: TestClient, keys: Keys, container: Container
) -> None:
    content, expected, good = build_sheet(10_000)
    before = count(container, tables.outbox)
    response = upload(client, keys.admin, content)
    assert response.status_code == 200, response.text[:500]
    report = response.json()
    assert report["rows"] == 10_000
    assert report["registered"] == good == 9_500
    assert report["duplicates"] == 71  # every 7th bad row repeats the NIK of the row above
    assert report["rejected"] == 500 - 71
    assert report["problems"] == expected
    assert count(container, tables.participants) == 9_500
    assert count(container, tables.outbox) - before == 9_500

    again = upload(client, keys.admin, content).json()
    assert again["registered"] == 0
    assert again["duplicates"] == 9_500 + 71
    assert count(container, tables.participants) == 9_500
    assert count(container, tables.outbox) - before == 9_500
    already = [p for p in again["problems"] if p["message"].startswith("already registered")]
    assert len(already) == 9_500
    assert {p["field"] for p in already} == {"nik"}


def test_comma_sheet_without_bom_and_optional_columns(
    client: TestClient, keys: Keys, container: Container
) -> None:
    sheet = (
        "NIK,Full_Name,Phone,Segment,Branch_Code,Declared_Income,Shoe_Size\n"
        f"{nik_for(1)},Budi,{phone_for(1)},ojek,SURAKARTA,2000000,42\n"
        "\n"
        f"{nik_for(2)},Sri,{phone_for(2)},trader,SURAKARTA,1000000,38\n"
    )
    report = upload(client, keys.admin, sheet.encode()).json()
    assert report["rows"] == 2
    assert report["registered"] == 2
    assert report["ignored_columns"] == ["shoe_size"]
    listed = client.get("/v1/participants", headers=Keys.auth(keys.admin)).json()["items"]
    assert {p["source"] for p in listed} == {"import"}
    assert {p["consent_reminders"] for p in listed} == {False}  # no consent written, none assumed


def test_whole_file_problems(client: TestClient, keys: Keys) -> None:
    missing = upload(client, keys.admin, b"full_name;nik\nBudi;3372010101900002\n")
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {
            "field": "file",
            "message": "missing column(s): phone, segment, branch_code, declared_income",
        }
    ]
    empty = upload(client, keys.admin, b"")
    assert empty.json()["errors"][0]["message"].startswith("the file is empty")
    latin1 = upload(client, keys.admin, "full_name;nik\nJos\xe9;1\n".encode("latin-1"))
    assert latin1.status_code == 422
    assert latin1.json()["errors"] == [
        {"field": "file", "message": "the file is not UTF-8 text; save it as CSV UTF-8"}
    ]


def test_import_reads_the_file_incrementally(container: Container) -> None:
    """The importer pulls the upload in pieces: it never asks the file for all of it at once."""

    class Watched(io.BytesIO):
        largest = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Watched.largest = max(Watched.largest, len(data))
            return data

        def read1(self, size: int = -1) -> bytes:
            data = super().read1(size)
            Watched.largest = max(Watched.largest, len(data))
            return data

        def readinto(self, buffer: Any) -> int:
            n = super().readinto(buffer)
            Watched.largest = max(Watched.largest, n)
            return n

    content, _, good = build_sheet(3_000)
    assert len(content) > 300_000
    report = container.importer.run(Watched(content), Principal("key_test", "admin"))
    assert report.registered == good
    assert 0 < Watched.largest <= 64 * 1024


def test_income_column_reads_indonesian_amounts_and_rejects_ambiguous_ones(
    client: TestClient, keys: Keys
) -> None:
    """`Rp 1.500.000,00` and `1500000.00` were read as 150,000,000 before."""
    incomes = ["Rp 1.500.000,00", "1500000.00", "1.500.000", "Rp1.500.000", "1500000", "1.500"]
    lines = ["full_name;nik;phone;segment;branch_code;declared_income"]
    lines += [
        f"Pedagang {n};{nik_for(n)};{phone_for(n)};trader;SURAKARTA;{income}"
        for n, income in enumerate(incomes, start=1)
    ]
    report = upload(client, keys.admin, "\n".join(lines).encode()).json()
    assert report["registered"] == 5
    assert report["problems"] == [
        {
            "row": 7,
            "field": "declared_income",
            "message": "'1.500' is ambiguous: 1500 rupiah or 1,5 rupiah; "
            "write 1500 (or Rp1.500) if you mean Rp1.500",
        }
    ]
    listed = client.get("/v1/participants", headers=Keys.auth(keys.admin)).json()["items"]
    assert [p["declared_income"] for p in listed] == [1_500_000] * 5
    assert {p["monthly_contribution"] for p in listed} == {21_800}
