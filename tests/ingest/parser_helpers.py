"""Helpers shared by the parser tests: parse a fixture or a text, total it, edit a fixture's cells."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from ingest.parsers.base import CanonicalRecord, ParseStats, normalize_header_name, open_export_text, read_header


def parse_file(module: ModuleType, path: Path) -> tuple[list[CanonicalRecord], ParseStats]:
    stats = ParseStats()
    with open_export_text(path) as text:
        records = list(module.parse(text, stats))
    return records, stats


def parse_text(module: ModuleType, text: str) -> tuple[list[CanonicalRecord], ParseStats]:
    stats = ParseStats()
    records = list(module.parse(io.StringIO(text, newline=""), stats))
    return records, stats


def totals(records: list[CanonicalRecord]) -> dict[str, tuple[int, Decimal]]:
    """(tokens, cost) per token type."""
    result: dict[str, tuple[int, Decimal]] = {}
    for record in records:
        tokens, cost = result.get(record.token_type, (0, Decimal(0)))
        result[record.token_type] = (tokens + record.quantity, cost + (record.cost or 0))
    return result


def by_row(records: list[CanonicalRecord]) -> dict[int, CanonicalRecord]:
    return {record.source_row: record for record in records}


def edited(path: Path, changes: dict[tuple[int, str], str]) -> str:
    """The file's text with cells changed, keyed by (line number, header name as written)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    header = rows[0]
    for (line, column), value in changes.items():
        rows[line - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def header_columns(path: Path) -> set[str]:
    return {normalize_header_name(name) for name in read_header(path)}
