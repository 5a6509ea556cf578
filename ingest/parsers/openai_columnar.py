"""The OpenAI dashboard usage export read column by column (Apache Arrow), for the ingest's fast path.

A usage export is the largest file a finance team uploads (a row per day, project, key, user and model:
millions of rows a year), and reading it row by row in Python costs about ten times a plain PostgreSQL
``COPY`` of the same file. This reader gives the same ledger lines as ``ingest.parsers.openai.parse``
(one line per source row, the token types side by side) in batches of columns, computed by Arrow.

It takes only files it can read exactly as the row parser does, and gives up otherwise by raising
``NotColumnar`` before or during the read; the caller then reads the file with the row parser, which also
words every error. So any value outside the plain forms (a token count that is not a whole number written
as ``123`` or ``123.0``, a negative or null marker other than an empty cell, an unknown epoch, a row with
too few or too many fields, a line break inside a value, a blank line, the schema before mid-2025) sends
the whole file down the row path; what the fast path writes is checked against the row path in tests.
Values with few distinct entries (times, models, projects, keys) are decoded once per distinct value
with the row parser's own functions.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from ingest.parsers import openai
from ingest.parsers.base import (
    NULL_VALUES,
    ParseStats,
    RowError,
    is_null,
    normalize_header_name,
    note_format_version,
    parse_epoch,
)
from ingest.parsers.containers import DEFAULT_MAX_EXPANDED_BYTES, export_members

BLOCK_BYTES = 2 * 1024 * 1024
# The token types of a usage row, in the order the row parser yields them (and the ledger's slot order).
TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
_WHOLE_OR_EMPTY = r"^([0-9]+(\.0)?)?$"
# The cells ``is_null`` reads as null (NULL_VALUES), with any ASCII spacing around them.
_NULL_CELL = r"^\s*(" + "|".join(re.escape(value) for value in sorted(NULL_VALUES) if value) + r")?\s*$"


class NotColumnar(Exception):
    """The file needs the row parser (a value, shape or schema the fast path does not take)."""


@dataclass
class Strings:
    """A text column as codes into its distinct values (already trimmed as the row parser trims)."""

    codes: np.ndarray  # int64, one per row
    values: list[str]


@dataclass
class UsageLineBatch:
    """Ledger lines of consecutive rows of a usage export, column by column (arrays of equal length)."""

    source_row: np.ndarray  # int64: the row number in the file (header = 1)
    start: Strings  # the start_time cell; ``moments`` has its instant
    end: Strings
    moments: dict[str, datetime]
    model_raw: Strings
    service_tier: Strings
    project: Strings
    api_key: Strings
    user_id: Strings
    requests: np.ndarray  # int64
    quantities: dict[str, np.ndarray]  # token type -> int64 quantity; 0 means no record of that type

    def __len__(self) -> int:
        return len(self.source_row)


def _strings(column: pa.ChunkedArray, transform: Callable[[str], str] = str.strip) -> Strings:
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = [transform(value) for value in encoded.dictionary.to_pylist()]
    return Strings(codes=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), values=values)


def _counts(column: pa.ChunkedArray) -> np.ndarray:
    """Whole token counts (``123`` or ``123.0``; empty is 0) as int64; NotColumnar for any other form."""
    if not pc.all(pc.match_substring_regex(column, _WHOLE_OR_EMPTY)).as_py():
        raise NotColumnar("a token count in a form the row parser reads")
    digits = pc.replace_substring(column, ".0", "")  # only ever a suffix here (checked just above)
    digits = pc.if_else(pc.equal(digits, ""), "0", digits)
    try:
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid as error:
        raise NotColumnar(f"a token count beyond 64 bits ({error})") from error


def _is_null(column: pa.ChunkedArray) -> np.ndarray:
    """Cells the row parser reads as null (``is_null``): empty, ``null``, ``NULL`` or ``--``, with any ASCII
    spacing. Other white space (a no-break space) is not matched here: such a model cell makes the whole
    file go to the row parser (see ``_line_batch``), and such a token cell fails ``_counts``."""
    return np.asarray(pc.match_substring_regex(column, _NULL_CELL))


def _header(raw: IO[bytes]) -> list[str]:
    first = raw.readline().decode("utf-8-sig")
    if not first.endswith("\n"):
        raise NotColumnar("a header without data rows")
    return [normalize_header_name(name) for name in next(csv.reader([first]))]


def read_batches(raw: IO[bytes], stats: ParseStats) -> Iterator[UsageLineBatch]:
    """The usage lines of one export's bytes, in batches; NotColumnar when the row parser must read it."""
    header = _header(raw)
    columns = set(header)
    if "input_text_tokens" not in columns or not {"start_time", "end_time", "model"} <= columns:
        raise NotColumnar("not the 2025 or 2026 schema")
    if len(columns) != len(header):
        raise NotColumnar("a repeated column name")
    note_format_version(stats, openai.format_version(columns))
    names = [f"c{index}" for index in range(len(header))]
    at = {name: f"c{index}" for index, name in enumerate(header)}
    # One thread, reading one block at a time: with threads Arrow reads ahead as far as it can, and memory
    # grows with the file.
    options = arrow_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=False)
    parse_options = arrow_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
    convert = arrow_csv.ConvertOptions(
        column_types={name: pa.string() for name in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    try:
        reader = arrow_csv.open_csv(raw, read_options=options, parse_options=parse_options, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise NotColumnar(str(error)) from error
    next_row = 2
    moments: dict[str, datetime] = {}
    while True:
        try:
            record_batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise NotColumnar(str(error)) from error
        table = pa.Table.from_batches([record_batch])
        rows = table.num_rows
        source_row = np.arange(next_row, next_row + rows, dtype=np.int64)
        next_row += rows
        stats.rows_read += rows
        lines = _line_batch(table, at, source_row, moments, stats)
        if lines is not None:
            yield lines


def _column(table: pa.Table, at: dict[str, str], name: str) -> pa.ChunkedArray:
    if name in at:
        return table.column(at[name])
    return pa.chunked_array([pa.array([""] * table.num_rows, pa.string())])


def _line_batch(
    table: pa.Table, at: dict[str, str], source_row: np.ndarray, moments: dict[str, datetime], stats: ParseStats
) -> UsageLineBatch | None:
    """The usage lines of one block of rows; None when every row is an empty time bucket."""

    def column(name: str) -> pa.ChunkedArray:
        return _column(table, at, name)

    empty = _is_null(column("model")) & _is_null(column("input_tokens")) & _is_null(column("output_tokens"))
    if empty.any():
        stats.skip(openai.EMPTY_BUCKET, int(empty.sum()))
        keep = pa.array(~empty)
        table = table.filter(keep)
        source_row = source_row[~empty]
        if table.num_rows == 0:
            return None
    input_all = _counts(column("input_tokens"))
    cached = _counts(column("input_cached_tokens"))
    cache_write = _counts(column("input_cache_write_tokens"))
    output = _counts(column("output_tokens"))
    requests = _counts(column("num_model_requests"))
    derived = input_all - cached - cache_write
    if "input_uncached_tokens" in at:
        stated = column("input_uncached_tokens")
        uncached = np.where(_is_null(stated), derived, _counts(stated))
    else:
        uncached = derived
    if (uncached < 0).any():
        raise NotColumnar("input tokens smaller than cached plus cache-write tokens")
    start, end = _strings(column("start_time"), str), _strings(column("end_time"), str)
    for value in (*start.values, *end.values):
        if value not in moments:
            errors: list[RowError] = []
            moment = parse_epoch(value, row=0, column="start_time", errors=errors)
            if moment is None:
                raise NotColumnar("a time the row parser reports")
            moments[value] = moment
    batch_flags, tiers = _strings(column("batch"), str), _strings(column("service_tier"), str)
    pairs = batch_flags.codes * len(tiers.values) + tiers.codes
    distinct, inverse = np.unique(pairs, return_inverse=True)
    service_tier = Strings(
        codes=inverse.astype(np.int64),
        values=[
            openai.service_tier_of(
                batch_flags.values[pair // len(tiers.values)], tiers.values[pair % len(tiers.values)]
            )
            for pair in distinct.tolist()
        ],
    )
    model_raw = _strings(column("model"))
    if any(is_null(value) for value in model_raw.values):  # the row parser reports a row without a model
        raise NotColumnar("a row without a model")
    return UsageLineBatch(
        source_row=source_row,
        start=start,
        end=end,
        moments=moments,
        model_raw=model_raw,
        service_tier=service_tier,
        project=_strings(column("project_id")),
        api_key=_strings(column("api_key_id")),
        user_id=_strings(column("user_id")),
        requests=requests,
        quantities=dict(zip(TOKEN_TYPES, (uncached, output, cached, cache_write), strict=True)),
    )


def usage_export_batches(
    path: Path, stats: ParseStats, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> Iterator[UsageLineBatch]:
    """The usage lines of every export in an upload (a CSV, gzip or zip), batch by batch."""
    for member in export_members(path, max_expanded_bytes=max_expanded_bytes):
        with member.open() as raw:
            yield from read_batches(raw, stats)
