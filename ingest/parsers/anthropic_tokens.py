"""Anthropic Console token export (``claude_api_tokens_*.csv``), every header generation seen.

One wide row per day (or hour) x model x key x workspace x usage type, unpivoted to one record per
token type (reference/export-formats.md section 5). Generations: the current header; the 2025-06
header without ``context_window``, ``inference_geo`` and ``speed``; and the older one with a single
``usage_input_tokens_cache_write`` column. Columns are read by name, and every
``usage_input_tokens_cache_write*`` column counts as cache write, and ``stats.format_version`` names the
generation. The file has no cost.
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
    parse_token_count,
    tags_from,
)

NAME = "anthropic_tokens"
LABEL = "Anthropic Console token export"
SIGNATURE = frozenset({"usage_date_utc", "model_version", "usage_input_tokens_no_cache", "usage_output_tokens"})

CACHE_WRITE_PREFIX = "usage_input_tokens_cache_write"
ROW_TAG_COLUMNS = ("context_window", "speed")
CURRENT = "current layout (context_window, inference_geo, speed)"
MID_2025 = "2025-06 layout (5-minute and 1-hour cache writes)"
OLDER = "older layout (one cache-write column)"


def format_version(header: list[str]) -> str:
    """Which header generation the file has (see the module docstring)."""
    if "context_window" in header or "inference_geo" in header:
        return CURRENT
    return OLDER if CACHE_WRITE_PREFIX in header else MID_2025


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per row and non-zero count (web searches as ``other`` requests); raise on any bad row."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    cache_write_columns = [column for column in reader.header if column.startswith(CACHE_WRITE_PREFIX)]
    note_format_version(stats, format_version(reader.header))
    for row_number, row in counted_rows(reader, stats):
        before = len(errors)
        period = parse_usage_period(row.get("usage_date_utc"), row=row_number, column="usage_date_utc", errors=errors)

        def count(column: str, row_number: int = row_number, row: dict[str, str] = row) -> int:
            return parse_token_count(row.get(column), row=row_number, column=column, errors=errors)

        uncached = count("usage_input_tokens_no_cache")
        cache_writes = {column: count(column) for column in cache_write_columns}
        cached = count("usage_input_tokens_cache_read")
        output = count("usage_output_tokens")
        web_searches = count("web_search_count")
        model = cell(row, "model_version")
        if not model:
            errors.append(RowError(row=row_number, column="model_version", message="is empty; expected a model id"))
        if len(errors) > before or period is None:
            continue

        # The TTL split matters for pricing (5m and 1h writes cost differently), so it rides along as tags.
        ttl_tags = {
            f"cache_write_{column.removeprefix(CACHE_WRITE_PREFIX).lstrip('_')}": str(quantity)
            for column, quantity in cache_writes.items()
            if quantity and column != CACHE_WRITE_PREFIX
        }
        row_tags = tags_from(row, ROW_TAG_COLUMNS)
        lines: tuple[tuple[str, int, str, dict[str, str]], ...] = (
            ("input", uncached, "tokens", {}),
            ("output", output, "tokens", {}),
            ("cached_input", cached, "tokens", {}),
            ("cache_write", sum(cache_writes.values()), "tokens", ttl_tags),
            ("other", web_searches, "requests", {"kind": "web_search"}),
        )
        if not any(quantity for _, quantity, _, _ in lines):
            stats.skip("no usage on the row (every count is zero)")
            continue
        start, end = period
        for token_type, quantity, unit, extra_tags in lines:
            if quantity:
                yield CanonicalRecord(
                    period_start=start,
                    period_end=end,
                    provider=PROVIDER,
                    model_raw=model,
                    token_type=token_type,
                    quantity=quantity,
                    source_row=row_number,
                    unit=unit,
                    workspace=cell(row, "workspace"),
                    api_key=cell(row, "api_key"),
                    region=region_from_geo(cell(row, "inference_geo")),
                    service_tier=cell(row, "usage_type"),
                    tags={**row_tags, **extra_tags},
                )
    if errors:
        raise IngestError(errors)
