"""Google Cloud console "cost table" CSV (Billing -> Reports/Cost table -> Download): Vertex AI and Gemini API.

Header as quoted in reference/export-formats.md section 9::

    Billing account name,Billing account ID,Project name,Project ID,Project hierarchy,Service description,
    Service ID,SKU description,SKU ID,Consumption model description,Credit type,Cost type,Usage start date,
    Usage end date,Usage amount,Usage unit,Unrounded Cost ($),Cost ($)

The currency is in the cost headers (``Cost ($)`` USD, ``Cost (€)`` EUR, ``Cost (CAD)`` CAD); the
unrounded cost is preferred. Credits are separate rows (``Credit type`` set): they are kept as
``other`` with their negative cost. Tax, adjustment and rounding-error rows stay out and are counted.
A date-only ``Usage end date`` is inclusive, so the period ends at the next midnight (UTC). The SKU
logic is shared with the BigQuery export in ``gcp``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import IO, cast

from ingest.parsers.aws import cell, check_period, parse_decimal, parse_timestamp
from ingest.parsers.base import MAX_ERRORS, CanonicalRecord, IngestError, ParseStats, RowError, RowReader
from ingest.parsers.gcp import (
    SKIP_NOT_AI,
    SKIPPED_COST_TYPES,
    Measure,
    currency_from_symbol,
    describe_sku,
    measure,
    provider_for,
)

NAME = "gcp_console"
LABEL = "Google Cloud console cost table CSV"
SIGNATURE = frozenset({"service description", "sku description", "usage amount", "usage unit"})

_COST_HEADER = re.compile(r"\s*(unrounded\s+)?cost\s*\((.+)\)\s*", re.IGNORECASE)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_GROUPED_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _read_rows(text: IO[str], errors: list[RowError]) -> tuple[RowReader, dict[str, str], str]:
    """Rows keyed by normalized header, with ``Cost (…)`` renamed ``cost`` and ``unrounded cost``.

    ``normalize_header_name`` would reduce ``Cost ($)`` to ``$`` (and the unrounded column to the same
    name), so the header line is rewritten before the RowReader sees it. Returns the reader, the
    header names as written, and the currency the cost headers state.
    """
    first = text.readline()
    try:
        raw = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        raw = []
    renamed: list[str] = []
    currencies: dict[str, str] = {}
    for name in raw:
        match = _COST_HEADER.fullmatch(name)
        if match is None:
            renamed.append(name)
            continue
        currency = currency_from_symbol(match.group(2))
        if currency is None:
            raise IngestError(
                [
                    RowError(
                        row=1,
                        column=name,
                        message=f"cannot tell the currency from {name!r}; expected a symbol ($, €, £, ¥) "
                        "or an ISO code as in Cost (CAD)",
                    )
                ]
            )
        column = "unrounded cost" if match.group(1) else "cost"
        currencies[name] = currency
        renamed.append(column)
    if not currencies:
        raise IngestError(
            [
                RowError(
                    row=1,
                    message=f"not a {LABEL}: the header has no Cost (…) column; "
                    "expected e.g. Cost ($) with the currency in parentheses",
                )
            ]
        )
    if len(set(currencies.values())) > 1:
        raise IngestError(
            [
                RowError(
                    row=1,
                    message=f"the cost columns state different currencies ({', '.join(currencies)}); expected one",
                )
            ]
        )
    ending = first[len(first.rstrip("\r\n")) :] or "\n"
    header_line = io.StringIO()
    csv.writer(header_line, lineterminator=ending).writerow(renamed)
    reader = RowReader(cast(IO[str], itertools.chain([header_line.getvalue()], text)), errors)
    names = dict(zip(reader.header, raw, strict=True)) if len(raw) == len(reader.header) else {}
    return reader, {column: names.get(column, column) for column in reader.header}, next(iter(currencies.values()))


def _number_text(value: str) -> str:
    """``1,200,000`` -> ``1200000`` (console downloads may group digits); other text unchanged."""
    return value.replace(",", "") if _GROUPED_NUMBER.fullmatch(value) else value


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per Vertex AI / Gemini API row; skip (and count) the rest; raise IngestError on bad rows."""
    errors: list[RowError] = []
    reader, names, currency = _read_rows(text, errors)
    header = set(reader.header)

    def name(column: str) -> str:
        return names.get(column, column)

    for row_number, row in reader:
        stats.rows_read += 1
        if len(errors) >= MAX_ERRORS:
            break
        cost_type = cell(row, "cost type").lower()
        if cost_type in SKIPPED_COST_TYPES:
            stats.skip(SKIPPED_COST_TYPES[cost_type])
            continue
        provider = provider_for(cell(row, "service description"), cell(row, "service id"))
        if provider is None:
            stats.skip(SKIP_NOT_AI)
            continue
        before = len(errors)
        start = parse_timestamp(
            cell(row, "usage start date"),
            row=row_number,
            column=name("usage start date"),
            errors=errors,
            what="the usage start date",
        )
        end_text = cell(row, "usage end date")
        end = parse_timestamp(
            end_text, row=row_number, column=name("usage end date"), errors=errors, what="the usage end date"
        )
        if end is not None and _DATE_ONLY.fullmatch(end_text):
            end += timedelta(days=1)
        if start is not None and end is not None:
            check_period(start, end, row=row_number, column=name("usage end date"), errors=errors)
        cost_column = "unrounded cost" if cell(row, "unrounded cost") or "cost" not in header else "cost"
        cost_text = cell(row, cost_column)
        cost: Decimal | None = None
        if not cost_text:
            errors.append(
                RowError(row=row_number, column=name(cost_column), message="is empty; expected an amount of money")
            )
        else:
            cost = parse_decimal(
                _number_text(cost_text),
                row=row_number,
                column=name(cost_column),
                errors=errors,
                expected="an amount of money",
            )
        credit_type = cell(row, "credit type")
        usage = Measure(
            _number_text(cell(row, "usage amount")),
            name("usage amount"),
            cell(row, "usage unit"),
            name("usage unit"),
        )
        sku = describe_sku(cell(row, "sku description"), provider=provider, units=(usage.unit,))
        token_type, quantity, unit, extra = measure(
            sku, usage, pricing=None, charge=not credit_type, row=row_number, errors=errors
        )
        if len(errors) > before or start is None or end is None or cost is None:
            continue
        tags = {**sku.tags, **extra}
        if credit_type:
            tags["credit_type"] = credit_type
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider=provider,
            model_raw=sku.model,
            token_type=token_type,
            quantity=quantity,
            source_row=row_number,
            unit=unit,
            cost=cost,
            currency=currency,
            cost_basis="billed",
            project=cell(row, "project id"),
            service_tier=sku.service_tier,
            tags={key: value for key, value in tags.items() if value},
        )
    if errors:
        raise IngestError(errors)
