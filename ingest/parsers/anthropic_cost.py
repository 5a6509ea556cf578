"""Anthropic Console cost export (``claude_api_cost_*_to_*.csv``), every header variant seen.

One row per day x model x workspace x key x token type, in dollars rounded to cents
(reference/export-formats.md section 6). Variants: 2024 (7 columns); current (11 columns, the real
sample); with ``list_price_usd``; 2026-08 with ``api_key_id,api_key_status`` appended. The file carries
money, not tokens (tokens come from the token export), so every record has quantity 0 in unit
``usd``. Rows with the same key are kept apart: the ledger sums them. ``stats.format_version`` names the
variant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ingest.parsers.anthropic import PROVIDER, parse_usage_period, region_from_geo
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    cell,
    counted_rows,
    note_format_version,
    parse_decimal,
    parse_money,
    tags_from,
)

NAME = "anthropic_cost"
LABEL = "Anthropic Console cost export"
SIGNATURE = frozenset({"usage_date_utc", "model", "token_type", "cost_usd"})

# Export token type -> (canonical token type, cache TTL). ``input_cache_write`` (no TTL) is
# accepted for files from before the 1-hour cache existed.
TOKEN_TYPES = {
    "input_no_cache": ("input", ""),
    "input_cache_read": ("cached_input", ""),
    "input_cache_write_5m": ("cache_write", "5m"),
    "input_cache_write_1h": ("cache_write", "1h"),
    "input_cache_write": ("cache_write", ""),
    "output": ("output", ""),
}
TOKEN_COST_TYPES = frozenset({"token", "tokens"})
ROW_TAG_COLUMNS = ("context_window", "speed", "cost_type", "list_price_usd", "api_key_id", "api_key_status")
USD_EXPECTED = "an amount in USD"


def format_version(header: list[str]) -> str:
    """Which of the header variants the file has (see the module docstring)."""
    columns = set(header)
    if columns & {"api_key_id", "api_key_status"}:
        label = "2026-08 layout (api_key_id, api_key_status)"
        return f"{label}, with list_price_usd" if "list_price_usd" in columns else label
    if "list_price_usd" in columns:
        return "2025 layout (with list_price_usd)"
    if columns & {"cost_type", "context_window"}:
        return "2026 layout (cost_type, no list_price_usd)"
    return "2024 layout (7 columns)"


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one billed record per row (web-search ``--`` rows as ``other``); raise IngestError on any bad row."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    note_format_version(stats, format_version(reader.header))
    for row_number, row in counted_rows(reader, stats):
        before = len(errors)
        period = parse_usage_period(row.get("usage_date_utc"), row=row_number, column="usage_date_utc", errors=errors)
        cost = parse_money(row.get("cost_usd"), row=row_number, column="cost_usd", errors=errors, expected=USD_EXPECTED)
        parse_decimal(
            row.get("list_price_usd"),
            row=row_number,
            column="list_price_usd",
            errors=errors,
            expected=USD_EXPECTED,
            required=False,
        )
        raw_token_type = cell(row, "token_type")
        token_type, ttl = TOKEN_TYPES.get(raw_token_type, ("other", ""))
        if raw_token_type and raw_token_type not in TOKEN_TYPES:
            errors.append(
                RowError(
                    row=row_number,
                    column="token_type",
                    message=f"{raw_token_type!r} is not a known token type; expected one of "
                    f"{', '.join(TOKEN_TYPES)} (or -- on web-search rows)",
                )
            )
        model = cell(row, "model")
        if not model:
            if token_type == "other":
                # Non-token rows have ``--`` for the model; name them by what was bought.
                cost_type = cell(row, "cost_type")
                model = cost_type if cost_type and cost_type not in TOKEN_COST_TYPES else "web_search"
            else:
                errors.append(RowError(row=row_number, column="model", message="is empty; expected a model name"))
        if len(errors) > before or period is None or cost is None:
            continue
        start, end = period
        tags = tags_from(row, ROW_TAG_COLUMNS)
        if ttl:
            tags["cache_ttl"] = ttl
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider=PROVIDER,
            model_raw=model,
            token_type=token_type,
            quantity=0,
            source_row=row_number,
            unit="usd",
            cost=cost,
            currency="USD",
            cost_basis="billed",
            workspace=cell(row, "workspace"),
            api_key=cell(row, "api_key"),
            region=region_from_geo(cell(row, "inference_geo")),
            service_tier=cell(row, "usage_type"),
            tags=tags,
        )
    if errors:
        raise IngestError(errors)
