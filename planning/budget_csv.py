"""Budgets as CSV, in the shape finance keeps them: one row per budget and period, exported and imported whole.

The format is one header row and one row per budget::

    name,team,provider,model,period,starts_on,ends_on,amount,currency,owners,thresholds,overrun_alert_probability
    Platform,platform,,,month,2025-01-01,,1200.00,USD,alice; cfo@example.com,0.8; 1.0,0.5

- Columns are ``BUDGET_FIELDS``; only name, starts_on and amount are required. Header names are case-insensitive
  and may have spaces around them; an unknown or repeated column rejects the file.
- Cells mean what ``planning.services.budget_clean`` accepts: team by slug (or name), owners as e-mail addresses or
  members' usernames and thresholds as fractions, both separated by ``;``. A blank cell is a blank value (team:
  every team; currency, period, thresholds, probability: their defaults).
- Rows match existing budgets by name: a known name updates that budget, a new one creates a budget. Budgets not
  in the file are left alone, and a column the file does not have keeps an updated budget's current value.
- Rows are numbered as lines of the file, the header being row 1; a quoted cell spanning lines counts from the
  line it starts on. A row may have fewer cells than the header (the missing ones are blank), never more.
- Spreadsheet formulas: the export puts a single quote before any cell that a spreadsheet would run as a formula
  (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, after any single quotes already
  there), and the import takes exactly that one quote off again (from a cell that is one or more quotes followed
  by such a character), so an exported file imports to identical budgets. A cell starting with a quote that is
  not followed by a formula character is read as written.

The import is all or nothing: every row is validated first, and any problem rejects the whole file with one
row-numbered message per problem (``BudgetImportError``); otherwise all rows are saved in one transaction.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeAlias, cast

from django.db import transaction
from django.db.models import QuerySet

from finops.catalog import FileError, FileRejected, text_lines
from finops.models import Organization
from finops.spreadsheet import formula_escape, formula_unescape
from planning.models import Budget
from planning.services import BUDGET_FIELDS, BudgetInvalid, budget_clean, budget_save

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("name", "starts_on", "amount")
MAX_ROWS = 10_000
MAX_REPORTED_ERRORS = 50
LIST_SEPARATOR = "; "
_EXPECTED = ",".join(BUDGET_FIELDS)

BudgetCsvSource: TypeAlias = bytes | IO[bytes] | Iterable[str]
"""The file's bytes, a binary or text stream, or its lines as text."""


@dataclass(frozen=True)
class BudgetImportResult:
    """What an import did: budgets created and updated, out of the file's rows."""

    created: int
    updated: int
    rows: int

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated"


class BudgetImportError(ValueError):
    """The file was rejected whole and nothing was saved; ``errors`` lists every problem, row by row."""

    def __init__(self, errors: list[FileError]) -> None:
        self.errors = errors
        super().__init__("; ".join(self.messages()))

    def messages(self, limit: int = MAX_REPORTED_ERRORS) -> list[str]:
        """The first ``limit`` problems as "row N, column 'C': message", and how many more there are."""
        shown = [str(error) for error in self.errors[:limit]]
        if len(self.errors) > limit:
            shown.append(f"... and {len(self.errors) - limit} more problem(s)")
        return shown


@dataclass(frozen=True)
class _Row:
    number: int
    cells: dict[str, str]

    @property
    def name(self) -> str:
        return self.cells.get("name", "").strip()


def _budget_cells(budget: Budget) -> dict[str, str]:
    """A budget's cells, unescaped: what ``budget_clean`` turns back into the same budget."""
    owners = sorted(owner.user.get_username() if owner.user else owner.email for owner in budget.owners.all())
    return {
        "name": budget.name,
        "team": budget.team.slug if budget.team else "",
        "provider": budget.provider,
        "model": budget.model,
        "period": budget.period,
        "starts_on": budget.starts_on.isoformat(),
        "ends_on": budget.ends_on.isoformat() if budget.ends_on else "",
        "amount": str(budget.amount),
        "currency": budget.currency,
        "owners": LIST_SEPARATOR.join(owners),
        "thresholds": LIST_SEPARATOR.join(repr(float(value)) for value in budget.thresholds),
        "overrun_alert_probability": repr(float(budget.overrun_alert_probability)),
    }


def _budgets(organization: Organization) -> QuerySet[Budget]:
    return Budget.objects.filter(organization=organization).select_related("team").prefetch_related("owners__user")


def budgets_export(*, organization: Organization) -> str:
    """The organization's budgets as CSV (the format of the module docstring), by name; ``budgets_import`` of it
    gives identical budgets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BUDGET_FIELDS)
    for budget in sorted(_budgets(organization), key=lambda budget: budget.name):  # the same order on any database
        cells = _budget_cells(budget)
        writer.writerow([formula_escape(cells[column]) for column in BUDGET_FIELDS])
    return buffer.getvalue()


def _text_lines(source: BudgetCsvSource) -> Iterable[str]:
    """The source as lines of text; bytes (and binary streams) must be UTF-8, a byte-order mark allowed."""
    if isinstance(source, bytes | bytearray):
        return text_lines(bytes(source))
    read = getattr(source, "read", None)
    if callable(read) and isinstance(read(0), bytes):
        return text_lines(read())
    return cast(Iterable[str], source)  # a text stream, or the lines themselves


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from iterator


def _undecodable(source: object, error: UnicodeDecodeError) -> FileError:
    """A text stream that failed to decode: where the first bad byte is, when the stream's file can be re-read."""
    raw: Any = getattr(source, "buffer", None)
    if raw is not None and raw.seekable():
        raw.seek(0)
        try:
            text_lines(raw.read())
        except FileRejected as rejected:
            return rejected.errors[0]
    return FileError(None, f"the file is not UTF-8 text ({error.reason}); save it as UTF-8 CSV")


def _header(values: list[str]) -> list[str]:
    """The header's column names, normalized; BudgetImportError when it is missing or has unknown columns."""
    columns = [value.strip().lower() for value in values]
    if not set(columns) & set(BUDGET_FIELDS):
        raise BudgetImportError(
            [FileError(1, f"the first row is not a header (it names no known column); expected {_EXPECTED}")]
        )
    errors: list[FileError] = []
    unknown = [f"{column!r}" for column in columns if column not in BUDGET_FIELDS]
    if unknown:
        errors.append(FileError(1, f"unknown column(s) {', '.join(unknown)}; the columns are {_EXPECTED}"))
    repeated = sorted({column for column in columns if column and columns.count(column) > 1})
    if repeated:
        errors.append(FileError(1, f"repeated column(s) {', '.join(repeated)}; give each column once"))
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        errors.append(
            FileError(1, f"missing column(s) {', '.join(missing)}; {', '.join(REQUIRED_COLUMNS)} are required")
        )
    if errors:
        raise BudgetImportError(errors)
    return columns


def _read_rows(lines: Iterable[str]) -> list[_Row]:
    """The data rows, blank lines left out; BudgetImportError on a broken file, a bad header or row shape."""
    reader = csv.reader(_without_bom(lines), strict=True)
    errors: list[FileError] = []
    rows: list[_Row] = []
    header: list[str] | None = None
    blank_first_row = False
    last_line = 0
    while True:
        number = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(FileError(number, f"broken CSV ({error}); the file may be cut off inside a quoted value"))
            break
        last_line = reader.line_num
        blank = not any(value.strip() for value in values)
        if number == 1 and blank:
            blank_first_row = True
        if blank:
            continue
        if blank_first_row:
            raise BudgetImportError([FileError(1, f"row 1 is blank; the header must come first: {_EXPECTED}")])
        if header is None:
            header = _header(values)
            continue
        if len(values) > len(header):
            errors.append(FileError(number, f"has {len(values)} cells, more than the {len(header)} in the header"))
            continue
        if len(rows) == MAX_ROWS:
            raise BudgetImportError(
                [FileError(number, f"the file has more than {MAX_ROWS:,} budget rows; split it into smaller files")]
            )
        cells = dict.fromkeys(header, "")
        cells.update(zip(header, (formula_unescape(value) for value in values), strict=False))
        rows.append(_Row(number, cells))
    if header is None and not errors:
        errors.append(FileError(1, f"the file is empty; expected the header {_EXPECTED}"))
    if errors:
        raise BudgetImportError(errors)
    return rows


def _parse(source: BudgetCsvSource) -> list[_Row]:
    try:
        lines = _text_lines(source)
        return _read_rows(lines)
    except FileRejected as rejected:
        raise BudgetImportError(rejected.errors) from rejected
    except UnicodeDecodeError as error:
        raise BudgetImportError([_undecodable(source, error)]) from error


def _error_order(error: FileError) -> tuple[int, int]:
    column = BUDGET_FIELDS.index(error.column) if error.column in BUDGET_FIELDS else len(BUDGET_FIELDS)
    return (error.row or 0, column)


def budgets_import(*, organization: Organization, lines: BudgetCsvSource, filename: str) -> BudgetImportResult:
    """Create or update the organization's budgets from a CSV (the format of the module docstring), all or
    nothing: any problem raises ``BudgetImportError`` listing every one as "row N, column 'C': message" and
    saves nothing. At most ``MAX_ROWS`` rows."""
    rows = _parse(lines)
    existing = {budget.name: budget for budget in _budgets(organization).filter(name__in={row.name for row in rows})}
    errors: list[FileError] = []
    first_row_of: dict[str, int] = {}
    data_of: dict[int, dict[str, str]] = {}
    for row in rows:
        budget = existing.get(row.name)
        data = {**_budget_cells(budget), **row.cells} if budget is not None else row.cells
        data_of[row.number] = data
        try:
            budget_clean(organization=organization, data=data)
        except BudgetInvalid as invalid:
            errors.extend(FileError(row.number, message, field) for field, message in invalid.errors.items())
        if not row.name:
            continue
        if row.name in first_row_of:
            errors.append(
                FileError(
                    row.number,
                    f"budget {row.name!r} is already on row {first_row_of[row.name]}; give each budget one row",
                    "name",
                )
            )
        else:
            first_row_of[row.name] = row.number
    if errors:
        raise BudgetImportError(sorted(errors, key=_error_order))
    with transaction.atomic():
        for row in rows:
            try:
                budget_save(organization=organization, data=data_of[row.number], budget=existing.get(row.name))
            except BudgetInvalid as invalid:  # changed since validation (another import, the API): roll back
                raise BudgetImportError(
                    [FileError(row.number, message, field) for field, message in invalid.errors.items()]
                ) from invalid
    result = BudgetImportResult(
        created=sum(1 for row in rows if row.name not in existing),
        updated=sum(1 for row in rows if row.name in existing),
        rows=len(rows),
    )
    logger.info("budgets of %s imported from %s: %s", organization.slug, filename, result.summary())
    return result
