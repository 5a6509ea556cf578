"""Shared pieces of every parser: the canonical record, row-numbered errors, safe text reading.

Pure Python: no Django. A parser turns an export file into a stream of CanonicalRecord; it
collects row-numbered errors and raises IngestError at the end, so a file lands whole or not at all.
The small helpers every format needs (cells, numbers, money, dates, the format version) are at the end.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, cast

from finops.catalog import FileError

TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
MAX_ERRORS = 50
SNIFF_BYTES = 64 * 1024
# The most a header row may take: real exports name their columns in a few KiB (a CUR with hundreds of tag
# columns in tens of KiB); a longer first line is not a header, and reading it would hold it all in memory.
CSV_HEADER_MAX_BYTES = 64 * 1024
# Byte order marks of the encodings a spreadsheet may save text in instead of UTF-8 (UTF-32 first: its
# little-endian mark begins with UTF-16's).
OTHER_UNICODE_BOMS = (
    ("UTF-32", (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)),
    ("UTF-16", (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
)
NULL_VALUES = frozenset({"", "null", "NULL", "--"})
# What the ledger's columns hold (ingest.models.LedgerLine): token quantities and request counts are bigint,
# costs numeric(24, 10), 14 digits before the decimal point. A value beyond them is refused with its row.
MAX_LEDGER_COUNT = 2**63 - 1
MIN_LEDGER_COUNT = -(2**63)
MAX_LEDGER_COST = Decimal("99999999999999.9999999999")
# The costs the column takes once rounded half up to its 10 decimals, as PostgreSQL rounds: below this bound.
LEDGER_COST_BOUND = MAX_LEDGER_COST + Decimal("0.00000000005")
# A plain digit string this long or shorter is below MAX_LEDGER_COUNT (19 digits): read it with no range check.
PLAIN_COUNT_DIGITS = len(str(MAX_LEDGER_COUNT)) - 1


# One problem in a file: where (row, column) and what was expected. The price-file importer's record, shared.
RowError = FileError


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

    def skip(self, reason: str, rows: int = 1) -> None:
        self.rows_skipped[reason] = self.rows_skipped.get(reason, 0) + rows


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
        for encoding, marks in OTHER_UNICODE_BOMS:
            if head.startswith(marks):
                raise IngestError(
                    [
                        RowError(
                            row=None,
                            message=f"the file is {encoding} text (it starts with a {encoding} byte order mark); "
                            "expected UTF-8: save or export it as UTF-8",
                        )
                    ]
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
    """The header row of an export opened as text, as written (BOM stripped); reads CSV_HEADER_MAX_BYTES at most."""
    try:
        return next(csv.reader(_header_lines(text)), [])
    except (csv.Error, UnicodeDecodeError) as error:
        raise IngestError([RowError(row=1, message=f"cannot read the header row: {error}")]) from error


def _header_lines(text: IO[str]) -> Iterator[str]:
    """The lines of ``text`` as the csv reader asks for them (a header row spans lines when a quoted name holds a
    line break), refused once they pass CSV_HEADER_MAX_BYTES: the first line of a file that is not a CSV export
    can be as long as the file."""
    read = 0
    while line := text.readline(CSV_HEADER_MAX_BYTES + 1 - read):
        read += len(line.encode("utf-8"))
        if read > CSV_HEADER_MAX_BYTES:
            raise IngestError(
                [
                    RowError(
                        row=1,
                        message=f"the header line is longer than {CSV_HEADER_MAX_BYTES:,} bytes; is this a CSV "
                        "export? Expected a first line of column names",
                    )
                ]
            )
        yield line


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
    and reading stops there; the caller raises IngestError when ``errors`` is not empty. ``cell_rows``
    gives the same rows as lists of cells, for parsers that look cells up by position (``positions``).
    """

    def __init__(self, text: IO[str], errors: list[RowError]) -> None:
        self._reader = csv.reader(text, strict=True)
        self.errors = errors
        raw_header = next(self._reader)
        self.header = [normalize_header_name(name) for name in raw_header]
        self.row_number = 1

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        header = self.header
        for row_number, values in self.cell_rows():
            yield row_number, dict(zip(header, values, strict=True))

    def positions(self) -> dict[str, int]:
        """Each normalized column name's index in a row of ``cell_rows``; of a repeated name, the last
        (the one a row dict keeps)."""
        return {name: index for index, name in enumerate(self.header)}

    def cell_rows(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows as lists of cells in header order, blank lines left out; see the class docstring."""
        reader = self._reader
        errors = self.errors
        width = len(self.header)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                errors.append(
                    RowError(
                        row=self.row_number + 1,
                        message=f"broken CSV quoting ({error}); the file may be cut off inside a quoted value",
                    )
                )
                return
            except UnicodeDecodeError as error:
                errors.append(
                    RowError(row=self.row_number + 1, message=f"not UTF-8 text ({error.reason}); expected UTF-8")
                )
                return
            self.row_number = reader.line_num
            if not values:
                continue
            if len(values) != width:
                truncated = len(values) < width
                hint = " (the file seems cut off in the middle of a row)" if truncated else ""
                errors.append(
                    RowError(
                        row=self.row_number,
                        message=f"has {len(values)} fields, expected {width} as in the header{hint}",
                    )
                )
                return
            yield self.row_number, values


def is_null(value: str | None) -> bool:
    return value is None or value.strip() in NULL_VALUES


def count_out_of_range(count: int | Decimal, unit: str = "tokens") -> str | None:
    """Why the ledger's bigint columns cannot hold ``count`` (the end of a message about the value), or None."""
    if count > MAX_LEDGER_COUNT:
        return f"is larger than the ledger holds (at most {MAX_LEDGER_COUNT:,} {unit})"
    if count < MIN_LEDGER_COUNT:
        return f"is smaller than the ledger holds (at least {MIN_LEDGER_COUNT:,} {unit})"
    return None


def cost_out_of_range(cost: Decimal) -> str | None:
    """Why the ledger's numeric(24, 10) cost columns cannot hold ``cost`` (the end of a message), or None."""
    if -LEDGER_COST_BOUND < cost < LEDGER_COST_BOUND:
        return None
    if cost > 0:
        return f"is larger than the ledger holds (at most {MAX_LEDGER_COST:,}, 14 digits before the decimal point)"
    return f"is smaller than the ledger holds (at least {-MAX_LEDGER_COST:,}, 14 digits before the decimal point)"


def parse_token_count(value: str | None, *, row: int, column: str, errors: list[RowError], unit: str = "tokens") -> int:
    """A non-negative whole token count the ledger can hold; floats such as ``31422.0`` are accepted when whole."""
    if value is None:
        return 0
    if value.isascii():  # the common cases, "31422" and "31422.0", need no Decimal
        whole = value[:-2] if value.endswith(".0") else value
        if whole.isdigit() and len(whole) <= PLAIN_COUNT_DIGITS:
            return int(whole)
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
    # Checked before int(): the database would refuse the number, and int() of 1E+999999999 would not finish.
    if (beyond := count_out_of_range(number, unit)) is not None:
        errors.append(RowError(row=row, column=column, message=f"{value!r} {beyond}"))
        return 0
    return int(number)


def parse_token_counts(
    values: list[str], cells: Iterable[tuple[str, int]], *, row: int, errors: list[RowError]
) -> list[int]:
    """``parse_token_count`` of several cells of a row, given as (column, index in ``values``), in order.

    Most cells of a usage export are plain whole numbers (``31422`` or ``31422.0``) short enough to fit the
    ledger: those are read here, without a call per cell; anything else goes to ``parse_token_count``, so values
    and errors are the same.
    """
    counts = []
    for column, index in cells:
        value = values[index]
        whole = value[:-2] if value[-2:] == ".0" else value
        if whole.isdigit() and whole.isascii() and len(whole) <= PLAIN_COUNT_DIGITS:
            counts.append(int(whole))
        else:
            counts.append(parse_token_count(value, row=row, column=column, errors=errors))
    return counts


# --- Helpers shared by the format modules: format versions, cells and rows, numbers and money, dates ---------

FORMAT_VERSION_SEPARATOR = " + "
LATEST_EPOCH = 4102444800  # 2100-01-01: a later Unix time is a mistake, not a date
TIMESTAMP_EXPECTED = "expected ISO-8601 such as 2026-03-01T00:00:00Z"
_TRAILING_UTC = re.compile(r"\s*UTC$", re.IGNORECASE)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_BLOCK_SCALES = {"": 1, "k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}


def note_format_version(stats: ParseStats, label: str) -> None:
    """Record the generation of the format that a file (or an API result) shows in ``stats.format_version``.

    One upload can hold several exports of one format but of different generations (a zip of monthly
    files): each label is listed once, in the order first seen, joined with `` + ``.
    """
    if not label or label == stats.format_version:
        return
    seen = stats.format_version.split(FORMAT_VERSION_SEPARATOR) if stats.format_version else []
    if label not in seen:
        stats.format_version = FORMAT_VERSION_SEPARATOR.join([*seen, label])


def cell(row: dict[str, str], column: str | None) -> str:
    """The trimmed cell, or "" when the column is absent (or None) or the value is null (``--``, ``NULL``)."""
    if column is None:
        return ""
    value = row.get(column)
    return "" if is_null(value) else (value or "").strip()


def tags_from(row: dict[str, str], columns: Iterable[str]) -> dict[str, str]:
    """The non-null cells of ``columns`` as tags keyed by column name, values as written (trimmed)."""
    return {column: value for column in columns if (value := cell(row, column))}


def counted_rows(reader: RowReader, stats: ParseStats) -> Iterator[tuple[int, dict[str, str]]]:
    """The reader's data rows, each counted in ``stats.rows_read``; stops once MAX_ERRORS errors are collected."""
    for row_number, row in reader:
        stats.rows_read += 1
        if len(reader.errors) >= MAX_ERRORS:
            return
        yield row_number, row


def counted_cell_rows(reader: RowReader, stats: ParseStats) -> Iterator[tuple[int, list[str]]]:
    """``counted_rows``, with each row as its list of cells (``RowReader.cell_rows``)."""
    errors = reader.errors
    for row_number, values in reader.cell_rows():
        stats.rows_read += 1
        if len(errors) >= MAX_ERRORS:
            return
        yield row_number, values


def first_header_line(text: IO[str]) -> tuple[str, list[str]]:
    """The first line of ``text`` and its column names as written; no names when the line cannot be read
    alone (a quoted line break inside a header name)."""
    first = text.readline()
    try:
        raw = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        raw = []
    return first, raw


def rows_after_header(
    header_line: str, raw: list[str], text: IO[str], errors: list[RowError]
) -> tuple[RowReader, dict[str, str]]:
    """A RowReader over ``header_line`` and the rest of ``text``, and the names ``raw`` as written keyed by
    the reader's normalized names (normalized names stand in when the two do not line up)."""
    reader = RowReader(cast(IO[str], itertools.chain([header_line], text)), errors)
    names = dict(zip(reader.header, raw, strict=True)) if len(raw) == len(reader.header) else {}
    return reader, {column: names.get(column, column) for column in reader.header}


def read_rows(text: IO[str], errors: list[RowError]) -> tuple[RowReader, dict[str, str]]:
    """A RowReader over ``text`` and the header names as written, keyed by their normalized name.

    The raw names give error messages the column as the user sees it (``lineItem/UsageAmount``) and
    keep the case of tag keys.
    """
    first, raw = first_header_line(text)
    return rows_after_header(first, raw, text, errors)


def parse_decimal(
    value: str | None, *, row: int, column: str, errors: list[RowError], expected: str, required: bool = True
) -> Decimal | None:
    """A finite Decimal (``5.64902E-05`` accepted; never a float), or None and a row error.

    A null cell is None, with an ``is empty`` error when ``required``.
    """
    if is_null(value):
        if required:
            errors.append(RowError(row=row, column=column, message=f"is empty; expected {expected}"))
        return None
    assert value is not None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a number; expected {expected}"))
        return None
    return number


def parse_money(
    value: str | None, *, row: int, column: str, errors: list[RowError], expected: str, required: bool = True
) -> Decimal | None:
    """``parse_decimal`` of an amount of money the ledger's cost columns can hold; None and a row error otherwise."""
    number = parse_decimal(value, row=row, column=column, errors=errors, expected=expected, required=required)
    if number is not None and (beyond := cost_out_of_range(number)) is not None:
        errors.append(RowError(row=row, column=column, message=f"{value!r} {beyond}"))
        return None
    return number


def round_half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def tokens_from_blocks(
    quantity: Decimal, block: int, *, shown: str, row: int, column: str, errors: list[RowError]
) -> tuple[int, bool] | None:
    """Whole tokens for ``quantity`` blocks of ``block`` tokens, rounded half up, and whether it was rounded; None
    and a row error (``shown`` is the value as the message gives it) when the ledger cannot hold them."""
    # The quantity alone first: a product such as 1E+999999999 x 1000 would overflow Decimal itself.
    beyond = count_out_of_range(quantity)
    if beyond is None:
        exact = quantity * block
        whole = round_half_up(exact)
        beyond = count_out_of_range(whole)
        if beyond is None:
            return whole, whole != exact
    errors.append(RowError(row=row, column=column, message=f"{shown} {beyond}"))
    return None


def block_size_from(count: str | None, scale: str | None) -> int | None:
    """Tokens per unit from a unit's number and scale word (``1000`` and "", ``1`` and ``K``, None and
    ``million``); None when the block is not a positive whole number."""
    number = Decimal(count.replace(",", "")) if count else Decimal(1)
    block = number * _BLOCK_SCALES[(scale or "").lower()]
    if block <= 0 or block != block.to_integral_value():
        return None
    return int(block)


def parse_currency(
    value: str | None,
    *,
    row: int,
    column: str,
    errors: list[RowError],
    expected: str = "an ISO 4217 currency code such as USD",
) -> str | None:
    """A three-letter currency code, upper-cased; None and a row error for anything else."""
    code = (value or "").strip().upper()
    if len(code) == 3 and code.isascii() and code.isalpha():
        return code
    message = "is empty" if not code else f"{value!r} is not a currency code"
    errors.append(RowError(row=row, column=column, message=f"{message}; expected {expected}"))
    return None


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a time without an offset is taken as UTC (reference section 0.2, rule 5)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_timestamp(value: str, *, row: int, column: str, errors: list[RowError], what: str) -> datetime | None:
    """A UTC instant from ISO-8601 (``Z``, an offset, no offset = UTC, a trailing `` UTC``, or a bare date)."""
    if not value.strip():
        errors.append(RowError(row=row, column=column, message=f"is empty; expected {what} as ISO-8601"))
        return None
    try:
        moment = as_utc(datetime.fromisoformat(_TRAILING_UTC.sub("", value.strip())))
    except ValueError:
        errors.append(
            RowError(row=row, column=column, message=f"{value!r} is not a valid date and time; {TIMESTAMP_EXPECTED}")
        )
        return None
    if not 2000 <= moment.year < 2100:
        errors.append(
            RowError(row=row, column=column, message=f"{value!r} is not a plausible date; expected a year 2000-2099")
        )
        return None
    return moment


def parse_period(
    start: str,
    end: str,
    *,
    row: int,
    columns: tuple[str, str],
    errors: list[RowError],
    what: tuple[str, str] = ("the usage start", "the usage end"),
    inclusive_end_date: bool = False,
) -> tuple[datetime, datetime] | None:
    """The UTC period of a row from its start and end cells (``parse_timestamp``), end not before start.

    With ``inclusive_end_date`` a date-only end names the period's last day, so the period ends at the
    next midnight. ``columns`` and ``what`` name the two cells in errors.
    """
    start_column, end_column = columns
    began = parse_timestamp(start, row=row, column=start_column, errors=errors, what=what[0])
    ended = parse_timestamp(end, row=row, column=end_column, errors=errors, what=what[1])
    if began is None or ended is None:
        return None
    if inclusive_end_date and _DATE_ONLY.fullmatch(end.strip()):
        ended += timedelta(days=1)
    if ended < began:
        errors.append(
            RowError(
                row=row,
                column=end_column,
                message=f"{ended.isoformat()} is before the usage start {began.isoformat()}; expected end >= start",
            )
        )
        return None
    return began, ended


def parse_epoch(value: str, *, row: int, column: str, errors: list[RowError]) -> datetime | None:
    """A UTC instant from Unix seconds (``1730419200`` or ``1730419200.0``)."""
    try:
        seconds = float(value)
    except ValueError:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a Unix time in seconds"))
        return None
    if not 0 <= seconds < LATEST_EPOCH:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a plausible date (Unix seconds)"))
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)
