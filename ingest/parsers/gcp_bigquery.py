"""Google Cloud Billing export to BigQuery, saved as CSV (a query result): Vertex AI and Gemini API rows.

BigQuery cannot write nested fields to CSV, so customer files name them in one of three ways
(reference/export-formats.md section 9): dotted (``service.description``), underscored
(``service_description``), or a JSON column (``service`` = ``{"id":…,"description":…}``). All three
are read. ``credits`` is a JSON array (or a number: the sum) added to ``cost``; ``labels`` a JSON
array of ``{key,value}`` (or an object). Rows with ``cost_type`` tax, adjustment or rounding error
stay out and are counted. The SKU logic is shared with the console CSV in ``gcp``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from ingest.parsers.aws import cell, check_period, parse_currency, parse_decimal, parse_timestamp, read_rows
from ingest.parsers.base import MAX_ERRORS, CanonicalRecord, IngestError, ParseStats, RowError
from ingest.parsers.gcp import SKIP_NOT_AI, SKIPPED_COST_TYPES, Measure, describe_sku, measure, provider_for

NAME = "gcp_bigquery"
LABEL = "Google Cloud billing export (BigQuery, CSV)"
# Nested columns have three spellings, so the signature holds the top-level ones every variant has;
# parse() then insists on a service and a SKU column.
SIGNATURE = frozenset({"usage_start_time", "usage_end_time", "cost", "currency"})

Field = tuple[str, str | None]  # (column, key inside a JSON column or None)


def _field(header: set[str], group: str, key: str) -> Field | None:
    for column in (f"{group}.{key}", f"{group}_{key}"):
        if column in header:
            return column, None
    if group in header:
        return group, key
    return None


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
        return parse_decimal(value, row=row, column=column, errors=errors, expected="credits") or Decimal(0)
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
        amount = parse_decimal(
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
    for row_number, row in reader:
        stats.rows_read += 1
        if len(errors) >= MAX_ERRORS:
            break
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
        start = parse_timestamp(
            cell(row, "usage_start_time"),
            row=row_number,
            column=name("usage_start_time"),
            errors=errors,
            what="the usage start",
        )
        end = parse_timestamp(
            cell(row, "usage_end_time"),
            row=row_number,
            column=name("usage_end_time"),
            errors=errors,
            what="the usage end",
        )
        if start is not None and end is not None:
            check_period(start, end, row=row_number, column=name("usage_end_time"), errors=errors)
        currency = parse_currency(cell(row, "currency"), row=row_number, column=name("currency"), errors=errors)
        cost_text = cell(row, "cost")
        cost: Decimal | None = None
        if not cost_text:
            errors.append(
                RowError(row=row_number, column=name("cost"), message="is empty; expected an amount of money")
            )
        else:
            cost = parse_decimal(
                cost_text, row=row_number, column=name("cost"), errors=errors, expected="an amount of money"
            )
        credits = Decimal(0)
        if "credits" in header:
            credits = _credits(cell(row, "credits"), row=row_number, column=name("credits"), errors=errors)
        tags = _labels(cell(row, "labels"), row=row_number, column=name("labels"), errors=errors)
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
        sku = describe_sku(sku_text, provider=provider, units=(usage.unit, pricing.unit))
        token_type, quantity, unit, extra = measure(
            sku, usage, pricing=pricing, charge=True, row=row_number, errors=errors
        )
        if len(errors) > before or start is None or end is None or currency is None or cost is None:
            continue
        tags.update(sku.tags)
        tags.update(extra)
        if credits:
            tags["credits"] = str(credits)
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider=provider,
            model_raw=sku.model,
            token_type=token_type,
            quantity=quantity,
            source_row=row_number,
            unit=unit,
            cost=cost + credits,
            currency=currency,
            cost_basis="billed",
            project=cells.get(fields["project"]),
            region=cells.get(fields["region"]) or cells.get(fields["location"]),
            service_tier=sku.service_tier,
            tags={key: value for key, value in tags.items() if value},
        )
    if errors:
        raise IngestError(errors)
