"""Export parsers: detect a file's format from its header and stream canonical records.

Pure Python (no Django). Each format module exposes NAME, LABEL, SIGNATURE (the normalized
header columns that must all be present) and ``parse(text) -> Iterator[CanonicalRecord]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from ingest.parsers import anthropic_cost, anthropic_tokens, openai, openai_cost
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    normalize_header_name,
    open_export_text,
    read_header,
)

# Detection order follows reference/export-formats.md section 1: the first format whose signature
# columns are all present in the header wins.
FORMATS: dict[str, ModuleType] = {
    module.NAME: module for module in (openai, openai_cost, anthropic_tokens, anthropic_cost)
}

__all__ = ["FORMATS", "CanonicalRecord", "IngestError", "ParseStats", "RowError", "detect_format", "parse_export"]


def _unknown_header_error(header: list[str]) -> IngestError:
    columns = {normalize_header_name(name) for name in header}
    ranked = sorted(FORMATS.values(), key=lambda module: len(module.SIGNATURE - columns))
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


def detect_format(path: Path, format_name: str | None = None) -> ModuleType:
    """The format module for the file: ``format_name`` if given, else detected from the header."""
    if format_name is not None:
        if format_name not in FORMATS:
            raise IngestError(
                [RowError(row=None, message=f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}")]
            )
        header = read_header(path)
        module = FORMATS[format_name]
        missing = module.SIGNATURE - {normalize_header_name(name) for name in header}
        if missing:
            raise IngestError(
                [RowError(row=1, message=f"not a {module.LABEL}: the header lacks {', '.join(sorted(missing))}")]
            )
        return module
    header = read_header(path)
    columns = {normalize_header_name(name) for name in header}
    for module in FORMATS.values():
        if columns >= module.SIGNATURE:
            return module
    raise _unknown_header_error(header)


def parse_export(path: Path, module: ModuleType, stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Stream the file's canonical records; IngestError (row-numbered) when any row is bad."""
    with open_export_text(path) as text:
        yield from module.parse(text, stats)
