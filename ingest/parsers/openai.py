"""OpenAI dashboard usage export (``completions_usage_*.csv``), both schema generations.

Token arithmetic follows the OpenAI usage schema (reference/export-formats.md section 2):
``input_tokens`` includes cached and cache-write tokens; ``input_uncached_tokens`` excludes
cache writes; modality columns are sub-breakdowns and are never added to totals, except in
the older schema (no ``input_text_tokens`` column) where ``input_tokens`` was text only and
``input_audio_tokens`` came on top. ``stats.format_version`` names the schema generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    counted_rows,
    is_null,
    note_format_version,
    parse_epoch,
    parse_token_count,
)

NAME = "openai_usage"
LABEL = "OpenAI dashboard usage export"
SIGNATURE = frozenset(
    {"start_time", "end_time", "start_time_iso", "num_model_requests", "input_tokens", "output_tokens"}
)

SCHEMA_2026 = "2026 schema (input_text_tokens, input_cache_write_tokens)"
SCHEMA_2025 = "2025 schema (input_text_tokens)"
SCHEMA_OLDER = "pre-mid-2025 schema (no input_text_tokens)"


def format_version(columns: set[str]) -> str:
    """The schema generation of a header: the older one counted text only in ``input_tokens``; 2026
    exports add ``input_cache_write_tokens`` (reference/export-formats.md section 2)."""
    if "input_text_tokens" not in columns:
        return SCHEMA_OLDER
    return SCHEMA_2026 if "input_cache_write_tokens" in columns else SCHEMA_2025


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per row and token type with a non-zero count; raise IngestError on any bad row."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    columns = set(reader.header)
    new_schema = "input_text_tokens" in columns
    note_format_version(stats, format_version(columns))
    for row_number, row in counted_rows(reader, stats):
        if is_null(row.get("model")) and is_null(row.get("input_tokens")) and is_null(row.get("output_tokens")):
            stats.skip("empty time bucket (no usage that day)")
            continue
        before = len(errors)
        start = parse_epoch(row["start_time"], row=row_number, column="start_time", errors=errors)
        end = parse_epoch(row["end_time"], row=row_number, column="end_time", errors=errors)

        def count(column: str, row_number: int = row_number, row: dict[str, str] = row) -> int:
            return parse_token_count(row.get(column), row=row_number, column=column, errors=errors)

        input_all = count("input_tokens")
        cached = count("input_cached_tokens")
        cache_write = count("input_cache_write_tokens")
        output = count("output_tokens")
        requests = count("num_model_requests")
        if new_schema:
            if not is_null(row.get("input_uncached_tokens")):
                uncached = count("input_uncached_tokens")
            else:
                uncached = input_all - cached - cache_write
        else:
            # Older schema: input_tokens and output_tokens were text only; audio came on top.
            uncached = input_all - cached - cache_write + count("input_audio_tokens")
            output += count("output_audio_tokens")
        if uncached < 0:
            errors.append(
                RowError(
                    row=row_number,
                    column="input_tokens",
                    message=f"input_tokens ({input_all}) is smaller than cached ({cached}) plus cache-write "
                    f"({cache_write}) tokens; expected input_tokens to include both",
                )
            )
        if is_null(row.get("model")):
            errors.append(RowError(row=row_number, column="model", message="is empty; expected a model id"))
        if len(errors) > before or start is None or end is None:
            continue
        batch = (row.get("batch") or "").strip().lower() == "true"
        tier = (row.get("service_tier") or "").strip() or "default"
        user_id = (row.get("user_id") or "").strip()
        first = True
        for token_type, quantity in (
            ("input", uncached),
            ("output", output),
            ("cached_input", cached),
            ("cache_write", cache_write),
        ):
            if quantity:
                # Requests are counted once per source row, on its first token line.
                yield CanonicalRecord(
                    period_start=start,
                    period_end=end,
                    provider="openai",
                    model_raw=row["model"].strip(),
                    token_type=token_type,
                    quantity=quantity,
                    source_row=row_number,
                    requests=requests if first else None,
                    project=(row.get("project_id") or "").strip(),
                    api_key=(row.get("api_key_id") or "").strip(),
                    service_tier="batch" if batch else tier,
                    tags={"user_id": user_id} if user_id else {},
                )
                first = False
    if errors:
        raise IngestError(errors)
