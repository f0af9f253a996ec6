"""CSV import of a field sign-up sheet: streamed, validated per row, registered in chunks.

Columns (header row required, names case-insensitive, order free):
  full_name*, nik*, phone*, segment*, branch_code*, declared_income*,
  email, campaign_code, jht (ya/tidak), preferred_channel, language, consent_reminders (ya/tidak),
  consent_whatsapp (ya/tidak), community
Row numbers in the report are spreadsheet line numbers: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import IO, Any

from services.enrollment.domain.access import Principal
from services.enrollment.domain.amounts import parse_rupiah
from services.enrollment.domain.errors import FieldProblem, Forbidden, InvalidInput
from services.enrollment.domain.model import Registration, RegistrationInput
from services.enrollment.handlers import Enrollment

REQUIRED = ("full_name", "nik", "phone", "segment", "branch_code", "declared_income")
OPTIONAL = (
    "email",
    "campaign_code",
    "jht",
    "preferred_channel",
    "language",
    "consent_reminders",
    "consent_whatsapp",
    "community",
)
YES = {"ya", "y", "yes", "true", "1", "x"}
NO = {"tidak", "t", "no", "n", "false", "0", ""}


class ImportRejected(ValueError):
    """The file as a whole cannot be read (encoding, missing columns)."""


@dataclass
class ImportReport:
    rows: int = 0
    registered: int = 0
    duplicates: int = 0
    rejected: int = 0
    participant_ids: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def problem(self, row: int, field_name: str, message: str) -> None:
        self.problems.append({"row": row, "field": field_name, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "registered": self.registered,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ignored_columns": self.ignored_columns,
            "problems": self.problems,
        }


def text_stream(binary: IO[bytes]) -> io.TextIOWrapper:
    """UTF-8 with or without BOM, decoded incrementally from the upload's spooled file."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _yes(raw: str, default: bool) -> bool:
    value = raw.strip().lower()
    if value == "":
        return default
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"{raw.strip()!r} is not ya/tidak")


class CsvImporter:
    def __init__(
        self,
        enrollment: Enrollment,
        chunk_size: int = 1000,
        bulk_write: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self.enrollment = enrollment
        self.chunk_size = chunk_size
        #: Held for the whole import, so the outbox relay can keep out of its way.
        self.bulk_write = bulk_write

    def run(self, binary: IO[bytes], actor: Principal) -> ImportReport:
        if actor.role == "viewer":
            raise Forbidden("your key is read-only (viewer)")
        report = ImportReport()
        stream = text_stream(binary)
        try:
            header_line = stream.readline()
        except UnicodeDecodeError:
            raise ImportRejected("the file is not UTF-8 text; save it as CSV UTF-8") from None
        if not header_line.strip():
            raise ImportRejected("the file is empty; the first line must be the column names")
        delimiter = sniff_delimiter(header_line)
        header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportRejected(f"missing column(s): {', '.join(missing)}")
        report.ignored_columns = [h for h in header if h not in REQUIRED + OPTIONAL]
        seen: dict[str, int] = {}
        with self.bulk_write():
            for chunk in self._chunks(csv.reader(stream, delimiter=delimiter), header, report):
                self._register_chunk(chunk, actor, seen, report)
        report.problems.sort(key=lambda p: int(p["row"]))
        return report

    def _chunks(
        self, reader: Iterator[list[str]], header: list[str], report: ImportReport
    ) -> Iterator[list[tuple[int, Registration]]]:
        chunk: list[tuple[int, Registration]] = []
        row_number = 1
        today = self.enrollment.clock.now().date()
        try:
            for values in reader:
                row_number += 1
                if not any(v.strip() for v in values):
                    continue  # blank lines in spreadsheets are not rows
                report.rows += 1
                record = dict(zip(header, values, strict=False))
                registration = self._validate(row_number, record, today, report)
                if registration is not None:
                    chunk.append((row_number, registration))
                if len(chunk) >= self.chunk_size:
                    yield chunk
                    chunk = []
        except UnicodeDecodeError:
            report.problem(row_number, "file", "this line is not UTF-8 text; import stopped here")
        except csv.Error as exc:
            report.problem(row_number, "file", f"unreadable CSV line ({exc}); import stopped here")
        if chunk:
            yield chunk

    def _validate(
        self, row: int, record: dict[str, str], today: Any, report: ImportReport
    ) -> Registration | None:
        problems: list[FieldProblem] = []

        def parse(name: str, fn: Any, *args: Any) -> Any:
            try:
                return fn(record.get(name, ""), *args)
            except ValueError as exc:
                problems.append(FieldProblem(name, str(exc)))
                return None

        income = parse("declared_income", parse_rupiah)
        jht = parse("jht", _yes, False)
        consent = parse("consent_reminders", _yes, False)
        whatsapp = parse("consent_whatsapp", _yes, False)
        raw = RegistrationInput(
            full_name=record.get("full_name", ""),
            nik=record.get("nik", ""),
            phone=record.get("phone", ""),
            email=record.get("email", "").strip() or None,
            segment=record.get("segment", "").strip().lower(),
            branch_code=record.get("branch_code", "").strip().upper(),
            campaign_code=record.get("campaign_code", "").strip() or None,
            declared_income=income or 0,
            programmes=["JKK", "JKM", "JHT"] if jht else ["JKK", "JKM"],
            preferred_channel=record.get("preferred_channel", "").strip().lower() or "sms",
            language=record.get("language", "").strip().lower() or "id",
            consent_reminders=bool(consent),
            consent_whatsapp=bool(whatsapp),
            source="import",
            community=record.get("community", "").strip() or None,
        )
        try:
            registration = self.enrollment.validate(raw, today)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            registration = None
        if problems:
            report.rejected += 1
            for p in problems:
                report.problem(row, p.field, p.message)
            return None
        return registration

    def _register_chunk(
        self,
        chunk: list[tuple[int, Registration]],
        actor: Principal,
        seen: dict[str, int],
        report: ImportReport,
    ) -> None:
        for outcome in self.enrollment.imports.register_chunk(chunk, actor, seen):
            if outcome.participant_id is not None:
                report.registered += 1
                report.participant_ids.append(outcome.participant_id)
                continue
            if outcome.duplicate:
                report.duplicates += 1
            else:
                report.rejected += 1
            if outcome.problem is not None:
                report.problem(outcome.row, outcome.problem.field, outcome.problem.message)
