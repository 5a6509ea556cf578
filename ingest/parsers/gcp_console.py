"""Google Cloud console "cost table" CSV (Billing -> Reports/Cost table -> Download): Vertex AI and Gemini API.

Header as quoted in reference/export-formats.md section 9::

    Billing account name,Billing account ID,Project name,Project ID,Project hierarchy,Service description,
    Service ID,SKU description,SKU ID,Consumption model description,Credit type,Cost type,Usage start date,
    Usage end date,Usage amount,Usage unit,Unrounded Cost ($),Cost ($)

The currency is in the cost headers (``Cost ($)`` USD, ``Cost (€)`` EUR, ``Cost (CAD)`` CAD); the
unrounded cost is preferred. Credits are separate rows (``Credit type`` set): they are kept as
``other`` with their negative cost. Tax, adjustment and rounding-error rows stay out and are counted.
A date-only ``Usage end date`` is inclusive, so the period ends at the next midnight (UTC). The SKU
logic and the row-to-record code are shared with the BigQuery export in ``gcp``. ``stats.format_version``
says whether the file has the unrounded cost.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    cell,
    counted_rows,
    first_header_line,
    note_format_version,
    parse_money,
    parse_period,
    rows_after_header,
)
from ingest.parsers.gcp import SKIP_NOT_AI, SKIPPED_COST_TYPES, Measure, currency_from_symbol, provider_for, sku_record

NAME = "gcp_console"
LABEL = "Google Cloud console cost table CSV"
SIGNATURE = frozenset({"service description", "sku description", "usage amount", "usage unit"})

UNROUNDED = "with unrounded cost"
ROUNDED_ONLY = "rounded cost only"

_COST_HEADER = re.compile(r"\s*(unrounded\s+)?cost\s*\((.+)\)\s*", re.IGNORECASE)
_GROUPED_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _read_rows(text: IO[str], errors: list[RowError]) -> tuple[RowReader, dict[str, str], str]:
    """Rows keyed by normalized header, with ``Cost (…)`` renamed ``cost`` and ``unrounded cost``.

    ``normalize_header_name`` would reduce ``Cost ($)`` to ``$`` (and the unrounded column to the same
    name), so the header line is rewritten before the RowReader sees it. Returns the reader, the
    header names as written, and the currency the cost headers state.
    """
    first, raw = first_header_line(text)
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
    reader, names = rows_after_header(header_line.getvalue(), raw, text, errors)
    return reader, names, next(iter(currencies.values()))


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

    note_format_version(stats, UNROUNDED if "unrounded cost" in header else ROUNDED_ONLY)
    for row_number, row in counted_rows(reader, stats):
        cost_type = cell(row, "cost type").lower()
        if cost_type in SKIPPED_COST_TYPES:
            stats.skip(SKIPPED_COST_TYPES[cost_type])
            continue
        provider = provider_for(cell(row, "service description"), cell(row, "service id"))
        if provider is None:
            stats.skip(SKIP_NOT_AI)
            continue
        period = parse_period(
            cell(row, "usage start date"),
            cell(row, "usage end date"),
            row=row_number,
            columns=(name("usage start date"), name("usage end date")),
            errors=errors,
            what=("the usage start date", "the usage end date"),
            inclusive_end_date=True,
        )
        cost_column = "unrounded cost" if cell(row, "unrounded cost") or "cost" not in header else "cost"
        cost = parse_money(
            _number_text(cell(row, cost_column)),
            row=row_number,
            column=name(cost_column),
            errors=errors,
            expected="an amount of money",
        )
        credit_type = cell(row, "credit type")
        record = sku_record(
            provider=provider,
            sku_description=cell(row, "sku description"),
            usage=Measure(
                _number_text(cell(row, "usage amount")),
                name("usage amount"),
                cell(row, "usage unit"),
                name("usage unit"),
            ),
            pricing=None,
            charge=not credit_type,
            period=period,
            cost=cost,
            currency=currency,
            project=cell(row, "project id"),
            region="",
            labels={},
            notes={"credit_type": credit_type} if credit_type else {},
            row=row_number,
            errors=errors,
        )
        if record is not None:
            yield record
    if errors:
        raise IngestError(errors)
