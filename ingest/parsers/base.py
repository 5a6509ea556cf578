"""Shared pieces of every parser: the canonical record, row-numbered errors, safe text reading.

Pure Python: no Django. A parser turns an export file into a stream of CanonicalRecord; it
collects row-numbered errors and raises IngestError at the end, so a file lands whole or not at all.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
MAX_ERRORS = 50
SNIFF_BYTES = 64 * 1024
NULL_VALUES = frozenset({"", "null", "NULL", "--"})


@dataclass(frozen=True)
class RowError:
    """One problem in a file: where (row, column) and what was expected."""

    row: int | None
    message: str
    column: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class IngestError(Exception):
    """The file cannot be ingested; ``errors`` says where and why. Nothing from it was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors[:5]))


@dataclass
class ParseStats:
    """What a parse saw: data rows read and rows skipped, by reason."""

    rows_read: int = 0
    rows_skipped: dict[str, int] = field(default_factory=dict)
    # Which generation or variant of the format the file is (e.g. "FOCUS 1.2", "EA amortized"); "" if the
    # format has only one.
    format_version: str = ""
    # For formats where one "export" is really several (the OpenAI Usage API has one endpoint per kind of
    # usage): which parts this file holds. A later file replaces earlier rows only of the same parts.
    source_parts: set[str] = field(default_factory=set)

    def skip(self, reason: str) -> None:
        self.rows_skipped[reason] = self.rows_skipped.get(reason, 0) + 1


@dataclass(slots=True)
class CanonicalRecord:
    """One ledger line as a parser produces it, before normalization and allocation."""

    period_start: datetime
    period_end: datetime
    provider: str
    model_raw: str
    token_type: str
    quantity: int
    source_row: int
    unit: str = "tokens"
    requests: int | None = None
    cost: Decimal | None = None
    currency: str = "USD"
    cost_basis: str = "unknown"
    project: str = ""
    workspace: str = ""
    api_key: str = ""
    account: str = ""
    region: str = ""
    service_tier: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def text_stream(raw: IO[bytes]) -> IO[str]:
    """An export's bytes as text: UTF-8 with the BOM stripped; reject empty and binary input clearly."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, buffer_size=SNIFF_BYTES)  # type: ignore[arg-type,type-var]
    try:
        head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if not head.strip():
            raise IngestError(
                [RowError(row=None, message="the file is empty; expected a CSV export with a header row")]
            )
        if b"\x00" in head:
            raise IngestError(
                [RowError(row=None, message="the file is binary, not text; expected a CSV export (UTF-8 text)")]
            )
        try:
            codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        except UnicodeDecodeError as error:
            raise IngestError(
                [
                    RowError(
                        row=None,
                        message=f"the file is not UTF-8 text (undecodable byte at offset {error.start}); "
                        "expected a UTF-8 CSV export",
                    )
                ]
            ) from error
    except BaseException:
        buffered.close()
        raise
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def open_export_text(path: Path) -> IO[str]:
    """Open a plain export file as text (see ``text_stream``)."""
    return text_stream(path.open("rb"))


def header_of(text: IO[str]) -> list[str]:
    """The header row of an export opened as text, as written (BOM stripped)."""
    try:
        return next(csv.reader(text), [])
    except (csv.Error, UnicodeDecodeError) as error:
        raise IngestError([RowError(row=1, message=f"cannot read the header row: {error}")]) from error


def read_header(path: Path) -> list[str]:
    """A plain export file's header row, as written (BOM stripped)."""
    with open_export_text(path) as text:
        return header_of(text)


def normalize_header_name(name: str) -> str:
    """Lower-case and trim a column name; reduce localized ``名称 (MeterName)`` to the name inside."""
    cleaned = name.strip().lower()
    if cleaned.endswith(")") and "(" in cleaned:
        inner = cleaned[cleaned.rindex("(") + 1 : -1].strip()
        if inner:
            return inner
    return cleaned


class RowReader:
    """Streams the data rows of a CSV as dicts keyed by normalized header, with strict shape checks.

    Shape problems (a row cut off, broken quoting, bad bytes) are recorded as row-numbered errors
    and reading stops there; the caller raises IngestError when ``errors`` is not empty.
    """

    def __init__(self, text: IO[str], errors: list[RowError]) -> None:
        self._reader = csv.reader(text, strict=True)
        self.errors = errors
        raw_header = next(self._reader)
        self.header = [normalize_header_name(name) for name in raw_header]
        self.row_number = 1

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        width = len(self.header)
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as error:
                self.errors.append(
                    RowError(
                        row=self.row_number + 1,
                        message=f"broken CSV quoting ({error}); the file may be cut off inside a quoted value",
                    )
                )
                return
            except UnicodeDecodeError as error:
                self.errors.append(
                    RowError(row=self.row_number + 1, message=f"not UTF-8 text ({error.reason}); expected UTF-8")
                )
                return
            self.row_number = self._reader.line_num
            if not values:
                continue
            if len(values) != width:
                truncated = len(values) < width
                hint = " (the file seems cut off in the middle of a row)" if truncated else ""
                self.errors.append(
                    RowError(
                        row=self.row_number,
                        message=f"has {len(values)} fields, expected {width} as in the header{hint}",
                    )
                )
                return
            yield self.row_number, dict(zip(self.header, values, strict=True))


def is_null(value: str | None) -> bool:
    return value is None or value.strip() in NULL_VALUES


def parse_token_count(value: str | None, *, row: int, column: str, errors: list[RowError]) -> int:
    """A non-negative whole token count; floats such as ``31422.0`` are accepted when whole."""
    if value is None:
        return 0
    if value.isascii():  # the common cases, "31422" and "31422.0", need no Decimal
        if value.isdigit():
            return int(value)
        if value.endswith(".0") and value[:-2].isdigit():
            return int(value[:-2])
    if is_null(value):
        return 0
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a number; expected a token count"))
        return 0
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a whole non-negative token count"))
        return 0
    return int(number)
