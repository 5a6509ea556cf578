"""Google Cloud Billing export to BigQuery, saved as CSV (a query result): Vertex AI and Gemini API rows.

BigQuery cannot write nested fields to CSV, so customer files name them in one of three ways
(reference/export-formats.md section 9): dotted (``service.description``), underscored
(``service_description``), or a JSON column (``service`` = ``{"id":…,"description":…}``). All three
are read, and ``stats.format_version`` says which one the file uses. ``credits`` is a JSON array (or a
number: the sum) added to ``cost``; ``labels`` a JSON array of ``{key,value}`` (or an object). Rows
with ``cost_type`` tax, adjustment or rounding error stay out and are counted. The SKU logic and the
row-to-record code are shared with the console CSV in ``gcp``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    cell,
    counted_rows,
    note_format_version,
    parse_currency,
    parse_money,
    parse_period,
    read_rows,
)
from ingest.parsers.gcp import SKIP_NOT_AI, SKIPPED_COST_TYPES, Measure, provider_for, sku_record

NAME = "gcp_bigquery"
LABEL = "Google Cloud billing export (BigQuery, CSV)"
# Nested columns have three spellings, so the signature holds the top-level ones every variant has;
# parse() then insists on a service and a SKU column.
SIGNATURE = frozenset({"usage_start_time", "usage_end_time", "cost", "currency"})

Field = tuple[str, str | None]  # (column, key inside a JSON column or None)
SPELLINGS = {
    "dotted": "dotted columns (service.description)",
    "underscored": "underscored columns (service_description)",
    "json": "JSON columns (service)",
}


def _field(header: set[str], group: str, key: str) -> Field | None:
    for column in (f"{group}.{key}", f"{group}_{key}"):
        if column in header:
            return column, None
    if group in header:
        return group, key
    return None


def _spelling(field: Field) -> str:
    column, key = field
    return "json" if key is not None else "dotted" if "." in column else "underscored"


def format_version(fields: dict[str, Field | None]) -> str:
    """How the file names the nested fields: dotted, underscored, JSON columns, or a mix of them."""
    spellings = sorted({_spelling(field) for field in fields.values() if field is not None})
    if len(spellings) == 1:
        return SPELLINGS[spellings[0]]
    return f"mixed column naming ({', '.join(spellings)})"


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _Cells:
    """One row's cells by field, reading JSON columns once and reporting bad JSON once per column."""

    def __init__(self, row: dict[str, str], row_number: int, errors: list[RowError], names: dict[str, str]) -> None:
        self.row, self.row_number, self.errors, self.names = row, row_number, errors, names
        self._objects: dict[str, dict[str, object]] = {}

    def get(self, field: Field | None) -> str:
        if field is None:
            return ""
        column, key = field
        if key is None:
            return cell(self.row, column)
        if column not in self._objects:
            self._objects[column] = self._object(column, key)
        return _scalar(self._objects[column].get(key)).strip()

    def _object(self, column: str, key: str) -> dict[str, object]:
        text = cell(self.row, column)
        if not text:
            return {}
        if not text.startswith("{"):
            # A plain value in a ``service``/``sku`` column is its description.
            return {key: text} if key == "description" else {}
        try:
            parsed = json.loads(text, parse_float=Decimal)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            self.errors.append(
                RowError(
                    row=self.row_number,
                    column=self.names.get(column, column),
                    message=f'{text[:80]!r} is not a JSON object; expected e.g. {{"{key}": …}}',
                )
            )
            return {}
        return parsed

    def name(self, field: Field | None, fallback: str) -> str:
        if field is None:
            return fallback
        column, key = field
        return f"{self.names.get(column, column)}.{key}" if key else self.names.get(column, column)


def _credits(value: str, *, row: int, column: str, errors: list[RowError]) -> Decimal:
    """The sum of ``credits[].amount`` (a JSON array), or the cell itself when it is a number."""
    if not value or value == "[]":
        return Decimal(0)
    if not value.startswith("["):
        return parse_money(value, row=row, column=column, errors=errors, expected="credits") or Decimal(0)
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
        errors.append(
            RowError(
                row=row,
                column=column,
                message=f'{value[:80]!r} is not a JSON array of credits; expected [{{"amount": …}}]',
            )
        )
        return Decimal(0)
    total = Decimal(0)
    for item in parsed:
        amount = parse_money(
            _scalar(item.get("amount")) or "0", row=row, column=column, errors=errors, expected="a credit amount"
        )
        total += amount or 0
    return total


def _labels(value: str, *, row: int, column: str, errors: list[RowError]) -> dict[str, str]:
    """``[{"key":"team","value":"search"}]`` or ``{"team":"search"}`` as a dict."""
    if not value or value in ("[]", "{}"):
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return {str(key): _scalar(val) for key, val in parsed.items() if _scalar(val)}
    if isinstance(parsed, list) and all(isinstance(item, dict) and "key" in item for item in parsed):
        return {str(item["key"]): _scalar(item.get("value")) for item in parsed if _scalar(item.get("value"))}
    errors.append(
        RowError(
            row=row,
            column=column,
            message=f"{value[:80]!r} is not a list of labels; "
            'expected JSON such as [{"key":"team","value":"search"}]',
        )
    )
    return {}


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per Vertex AI / Gemini API row; skip (and count) the rest; raise IngestError on bad rows."""
    errors: list[RowError] = []
    reader, names = read_rows(text, errors)
    header = set(reader.header)

    def name(column: str) -> str:
        return names.get(column, column)

    fields = {
        name: _field(header, group, key)
        for name, (group, key) in {
            "service": ("service", "description"),
            "service_id": ("service", "id"),
            "sku": ("sku", "description"),
            "project": ("project", "id"),
            "region": ("location", "region"),
            "location": ("location", "location"),
            "amount": ("usage", "amount"),
            "unit": ("usage", "unit"),
            "pricing_amount": ("usage", "amount_in_pricing_units"),
            "pricing_unit": ("usage", "pricing_unit"),
        }.items()
    }
    for required, spellings in (
        ("service", "service.description, service_description or service"),
        ("sku", "sku.description, sku_description or sku"),
    ):
        if fields[required] is None:
            raise IngestError(
                [
                    RowError(
                        row=1,
                        message=f"not a {LABEL}: the header has no {spellings} column; "
                        "expected the billing export's service and SKU description columns",
                    )
                ]
            )
    note_format_version(stats, format_version(fields))
    for row_number, row in counted_rows(reader, stats):
        cost_type = cell(row, "cost_type").lower()
        if cost_type in SKIPPED_COST_TYPES:
            stats.skip(SKIPPED_COST_TYPES[cost_type])
            continue
        cells = _Cells(row, row_number, errors, names)
        before = len(errors)
        provider = provider_for(cells.get(fields["service"]), cells.get(fields["service_id"]))
        if provider is None:
            # Bad JSON in a service cell is a bad row, not another service.
            if len(errors) == before:
                stats.skip(SKIP_NOT_AI)
            continue
        period = parse_period(
            cell(row, "usage_start_time"),
            cell(row, "usage_end_time"),
            row=row_number,
            columns=(name("usage_start_time"), name("usage_end_time")),
            errors=errors,
        )
        currency = parse_currency(cell(row, "currency"), row=row_number, column=name("currency"), errors=errors)
        cost = parse_money(
            cell(row, "cost"), row=row_number, column=name("cost"), errors=errors, expected="an amount of money"
        )
        credits = Decimal(0)
        if "credits" in header:
            credits = _credits(cell(row, "credits"), row=row_number, column=name("credits"), errors=errors)
        labels = _labels(cell(row, "labels"), row=row_number, column=name("labels"), errors=errors)
        sku_text = cells.get(fields["sku"])
        usage = Measure(
            cells.get(fields["amount"]),
            cells.name(fields["amount"], "usage.amount"),
            cells.get(fields["unit"]),
            cells.name(fields["unit"], "usage.unit"),
        )
        pricing = Measure(
            cells.get(fields["pricing_amount"]),
            cells.name(fields["pricing_amount"], "usage.amount_in_pricing_units"),
            cells.get(fields["pricing_unit"]),
            cells.name(fields["pricing_unit"], "usage.pricing_unit"),
        )
        if len(errors) > before:
            # The row is already bad (possibly an unreadable usage cell): no follow-on unit errors.
            continue
        record = sku_record(
            provider=provider,
            sku_description=sku_text,
            usage=usage,
            pricing=pricing,
            charge=True,
            period=period,
            cost=None if cost is None else cost + credits,
            currency=currency,
            project=cells.get(fields["project"]),
            region=cells.get(fields["region"]) or cells.get(fields["location"]),
            labels=labels,
            notes={"credits": str(credits)} if credits else {},
            row=row_number,
            errors=errors,
        )
        if record is not None:
            yield record
    if errors:
        raise IngestError(errors)
