"""Export parsers: detect a file's format from its header and stream canonical records.

Pure Python (no Django). Each CSV format module exposes NAME, LABEL, SIGNATURE (the normalized
header columns that must all be present) and ``parse(text, stats) -> Iterator[CanonicalRecord]``.
A JSON format module (API responses saved to a file) sets ``KIND = "json"`` and exposes NAME,
LABEL, ``matches(document) -> bool`` and ``parse_document(document, stats)``; documents are loaded
with ``parse_float=Decimal`` so money never passes through a float.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import IO

from ingest.parsers import (
    anthropic_api,
    anthropic_cost,
    anthropic_tokens,
    aws_cur2,
    aws_cur_legacy,
    azure,
    focus,
    gcp_bigquery,
    gcp_console,
    openai,
    openai_api,
    openai_cost,
)
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    header_of,
    normalize_header_name,
    text_stream,
)
from ingest.parsers.containers import DEFAULT_MAX_EXPANDED_BYTES, ExportMember, export_members

# Detection order follows reference/export-formats.md section 1: the first format whose signature
# columns are all present in the header wins.
FORMATS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        focus,
        aws_cur2,
        aws_cur_legacy,
        azure,
        gcp_bigquery,
        gcp_console,
        openai,
        openai_cost,
        anthropic_tokens,
        anthropic_cost,
        openai_api,
        anthropic_api,
    )
}

__all__ = ["FORMATS", "CanonicalRecord", "IngestError", "ParseStats", "RowError", "detect_format", "parse_export"]


def _unknown_header_error(header: list[str]) -> IngestError:
    columns = {normalize_header_name(name) for name in header}
    csv_formats = [module for module in FORMATS.values() if not _is_json(module)]
    # Closest: most signature columns present, then fewest missing.
    ranked = sorted(csv_formats, key=lambda module: (-len(module.SIGNATURE & columns), len(module.SIGNATURE - columns)))
    closest = "; ".join(
        f"{module.LABEL} ({module.NAME}) misses {', '.join(sorted(module.SIGNATURE - columns))}"
        for module in ranked[:2]
    )
    message = f"the header matches no known export format. Closest: {closest}"
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        message = (
            "the header has a single column; the file seems to use another delimiter than a comma "
            f"({header[0][:80]!r}). Expected a comma-separated export. " + message
        )
    return IngestError([RowError(row=1, message=message)])


JSON_MAX_BYTES = 256 * 1024 * 1024


def _is_json(module: ModuleType) -> bool:
    return getattr(module, "KIND", "csv") == "json"


def _looks_like_json(text: IO[str]) -> bool:
    """Peek at the first non-blank character without consuming the stream's header."""
    buffer = getattr(text, "buffer", None)
    if buffer is None or not hasattr(buffer, "peek"):
        return False
    head = buffer.peek(1024)[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def _load_json(text: IO[str]) -> object:
    content = text.read(JSON_MAX_BYTES + 1)
    if len(content) > JSON_MAX_BYTES:
        raise IngestError([RowError(row=None, message=f"the JSON document is over {JSON_MAX_BYTES:,} characters")])
    try:
        return json.loads(content, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise IngestError(
            [
                RowError(
                    row=error.lineno,
                    message=f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})",
                )
            ]
        ) from error


def _module_for_document(document: object, format_name: str | None) -> ModuleType:
    candidates = [FORMATS[format_name]] if format_name in FORMATS else list(FORMATS.values())
    for module in candidates:
        if _is_json(module) and module.matches(document):
            return module
    json_labels = ", ".join(module.LABEL for module in FORMATS.values() if _is_json(module)) or "none yet"
    raise IngestError(
        [
            RowError(
                row=None, message=f"the JSON document is not a known API response; known JSON formats: {json_labels}"
            )
        ]
    )


def _module_for_text(text: IO[str], format_name: str | None) -> ModuleType:
    if _looks_like_json(text):
        return _module_for_document(_load_json(text), format_name)
    return _module_for_header(header_of(text), format_name)


def _module_for_header(header: list[str], format_name: str | None) -> ModuleType:
    columns = {normalize_header_name(name) for name in header}
    if format_name is not None:
        if format_name not in FORMATS:
            raise IngestError(
                [RowError(row=None, message=f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}")]
            )
        module = FORMATS[format_name]
        if _is_json(module):
            raise IngestError([RowError(row=1, message=f"not a {module.LABEL}: the file is CSV, not JSON")])
        missing = module.SIGNATURE - columns
        if missing:
            raise IngestError(
                [RowError(row=1, message=f"not a {module.LABEL}: the header lacks {', '.join(sorted(missing))}")]
            )
        return module
    for module in FORMATS.values():
        if not _is_json(module) and columns >= module.SIGNATURE:
            return module
    raise _unknown_header_error(header)


def _in_member(member: ExportMember, many: bool, error: IngestError) -> IngestError:
    """Name the archive member in each message when an upload holds several exports."""
    if not many:
        return error
    return IngestError(
        [RowError(row=e.row, column=e.column, message=f"in {member.name}: {e.message}") for e in error.errors]
    )


def detect_format(
    path: Path, format_name: str | None = None, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> ModuleType:
    """The format module for the upload: ``format_name`` if given, else detected from the header.

    A zip may hold several exports; they must all be of one format.
    """
    members = export_members(path, max_expanded_bytes=max_expanded_bytes)
    found: dict[str, ModuleType] = {}
    for member in members:
        try:
            with text_stream(member.open()) as text:
                found[member.name] = _module_for_text(text, format_name)
        except IngestError as error:
            raise _in_member(member, len(members) > 1, error) from error
    names = {module.NAME for module in found.values()}
    if len(names) > 1:
        listing = ", ".join(f"{member} is {module.NAME}" for member, module in found.items())
        raise IngestError(
            [RowError(row=None, message=f"the archive mixes export formats ({listing}); upload them separately")]
        )
    return next(iter(found.values()))


def parse_export(
    path: Path, module: ModuleType, stats: ParseStats, *, max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
) -> Iterator[CanonicalRecord]:
    """Stream the upload's canonical records; IngestError (row-numbered) when any row is bad."""
    members = export_members(path, max_expanded_bytes=max_expanded_bytes)
    for member in members:
        try:
            with text_stream(member.open()) as text:
                if _is_json(module):
                    yield from module.parse_document(_load_json(text), stats)
                else:
                    yield from module.parse(text, stats)
        except IngestError as error:
            raise _in_member(member, len(members) > 1, error) from error
