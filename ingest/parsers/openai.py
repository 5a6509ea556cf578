"""OpenAI dashboard usage export (``completions_usage_*.csv``), both schema generations.

Token arithmetic follows the OpenAI usage schema (reference/export-formats.md section 2):
``input_tokens`` includes cached and cache-write tokens; ``input_uncached_tokens`` excludes
cache writes; modality columns are sub-breakdowns and are never added to totals, except in
the older schema (no ``input_text_tokens`` column) where ``input_tokens`` was text only and
``input_audio_tokens`` came on top. ``stats.format_version`` names the schema generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    counted_cell_rows,
    is_null,
    note_format_version,
    parse_epoch,
    parse_token_counts,
)

NAME = "openai_usage"
LABEL = "OpenAI dashboard usage export"
SIGNATURE = frozenset(
    {"start_time", "end_time", "start_time_iso", "num_model_requests", "input_tokens", "output_tokens"}
)

EMPTY_BUCKET = "empty time bucket (no usage that day)"

SCHEMA_2026 = "2026 schema (input_text_tokens, input_cache_write_tokens)"
SCHEMA_2025 = "2025 schema (input_text_tokens)"
SCHEMA_OLDER = "pre-mid-2025 schema (no input_text_tokens)"


def format_version(columns: set[str]) -> str:
    """The schema generation of a header: the older one counted text only in ``input_tokens``; 2026
    exports add ``input_cache_write_tokens`` (reference/export-formats.md section 2)."""
    if "input_text_tokens" not in columns:
        return SCHEMA_OLDER
    return SCHEMA_2026 if "input_cache_write_tokens" in columns else SCHEMA_2025


def service_tier_of(batch: str, tier: str) -> str:
    """The service tier of a row from its ``batch`` and ``service_tier`` cells: Batch API rows are ``batch``."""
    return "batch" if batch.strip().lower() == "true" else (tier.strip() or "default")


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per row and token type with a non-zero count; raise IngestError on any bad row."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    columns = set(reader.header)
    new_schema = "input_text_tokens" in columns
    note_format_version(stats, format_version(columns))
    # Cells are read by position. Every row gets one blank cell appended, which stands for each column
    # the file lacks: a missing column reads as empty, as a null cell does.
    positions = reader.positions()
    blank = len(reader.header)

    def at(column: str) -> int:
        return positions.get(column, blank)

    model_at, input_at, output_at, uncached_at = (
        at("model"),
        at("input_tokens"),
        at("output_tokens"),
        at("input_uncached_tokens"),
    )
    batch_at, tier_at, user_at, project_at, key_at = (
        at("batch"),
        at("service_tier"),
        at("user_id"),
        at("project_id"),
        at("api_key_id"),
    )
    # The two time columns are required (detection checks the header, but --format skips detection): a
    # file without one fails at its first row with usage.
    missing_time = next((column for column in ("start_time", "end_time") if column not in positions), None)
    start_at, end_at = positions.get("start_time", blank), positions.get("end_time", blank)
    # The token counts of a row, in the order they are checked (and their errors listed).
    counted = tuple(
        (column, at(column))
        for column in (
            "input_tokens",
            "input_cached_tokens",
            "input_cache_write_tokens",
            "output_tokens",
            "num_model_requests",
        )
    )
    counted_with_uncached = (*counted, ("input_uncached_tokens", uncached_at))
    counted_with_audio = (
        *counted,
        ("input_audio_tokens", at("input_audio_tokens")),
        ("output_audio_tokens", at("output_audio_tokens")),
    )
    # An export has a few hundred distinct days: each distinct time cell is parsed once.
    moments: dict[str, datetime] = {}

    def moment_of(value: str, column: str, row_number: int) -> datetime | None:
        moment = parse_epoch(value, row=row_number, column=column, errors=errors)
        if moment is not None:
            moments[value] = moment
        return moment

    for row_number, values in counted_cell_rows(reader, stats):
        values.append("")  # the blank cell of every missing column (see above)
        model = values[model_at]
        no_model = is_null(model)
        if no_model and is_null(values[input_at]) and is_null(values[output_at]):
            stats.skip(EMPTY_BUCKET)
            continue
        if missing_time:
            raise IngestError(
                [
                    RowError(
                        row=1,
                        column=missing_time,
                        message="column is missing; expected an OpenAI usage export with start_time and end_time",
                    )
                ]
            )
        before = len(errors)
        start = moments.get(values[start_at])
        if start is None:
            start = moment_of(values[start_at], "start_time", row_number)
        end = moments.get(values[end_at])
        if end is None:
            end = moment_of(values[end_at], "end_time", row_number)
        if not new_schema:
            counts = parse_token_counts(values, counted_with_audio, row=row_number, errors=errors)
        elif is_null(values[uncached_at]):
            counts = parse_token_counts(values, counted, row=row_number, errors=errors)
        else:
            counts = parse_token_counts(values, counted_with_uncached, row=row_number, errors=errors)
        input_all, cached, cache_write, output, requests = counts[:5]
        if not new_schema:
            # Older schema: input_tokens and output_tokens were text only; audio came on top.
            uncached = input_all - cached - cache_write + counts[5]
            output += counts[6]
        elif len(counts) > 5:
            uncached = counts[5]
        else:
            uncached = input_all - cached - cache_write
        if uncached < 0:
            errors.append(
                RowError(
                    row=row_number,
                    column="input_tokens",
                    message=f"input_tokens ({input_all}) is smaller than cached ({cached}) plus cache-write "
                    f"({cache_write}) tokens; expected input_tokens to include both",
                )
            )
        if no_model:
            errors.append(RowError(row=row_number, column="model", message="is empty; expected a model id"))
        if len(errors) > before or start is None or end is None:
            continue
        model_raw = model.strip()
        service_tier = service_tier_of(values[batch_at], values[tier_at])
        project = values[project_at].strip()
        api_key = values[key_at].strip()
        user_id = values[user_at].strip()
        row_requests: int | None = requests  # counted once per source row, on its first token line
        for token_type, quantity in (
            ("input", uncached),
            ("output", output),
            ("cached_input", cached),
            ("cache_write", cache_write),
        ):
            if quantity:
                yield CanonicalRecord(
                    period_start=start,
                    period_end=end,
                    provider="openai",
                    model_raw=model_raw,
                    token_type=token_type,
                    quantity=quantity,
                    source_row=row_number,
                    requests=row_requests,
                    project=project,
                    api_key=api_key,
                    service_tier=service_tier,
                    tags={"user_id": user_id} if user_id else {},
                )
                row_requests = None
    if errors:
        raise IngestError(errors)
