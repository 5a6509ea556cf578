"""CSV and Excel exports of any API answer: ``?format=csv`` or ``?format=xlsx`` on a list or summary endpoint.

The renderers take what the JSON answer would hold and flatten it into rows: a paginated ``results`` list, a
list, or a dict holding one list of objects (its other plain values repeated on every row, e.g. the
organization). Nested objects become dotted columns (``tokens.input``), lists of plain values are joined with
``; ``, anything deeper is written as JSON. The file comes as an attachment named after the path.

Spreadsheet safety: a text cell a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) gets a leading single quote; numbers, including negative decimal strings such as
``-12.50``, stay numbers (numeric cells in Excel).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from finops.spreadsheet import formula_escape

PAGINATION_KEYS = frozenset({"count", "next", "previous"})
# A plain decimal number: no exponent, no leading zeros (an account id "000123" stays text), at most 15
# significant digits (what a spreadsheet keeps exactly).
_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d{1,15})?")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Cell = str | int | float | Decimal | bool | None


def export_cell(value: Any) -> Cell:
    """One cell: numbers (and decimal strings) as numbers, text escaped, nothing as None."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if _NUMBER.fullmatch(text) and len(text.replace("-", "").replace(".", "")) <= 15:
        return Decimal(text)
    return formula_escape(text)


def _flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        column = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row.update(_flatten(value, f"{column}."))
        elif isinstance(value, list | tuple):
            if all(value_item is None or isinstance(value_item, str | int | float | Decimal) for value_item in value):
                row[column] = "; ".join("" if value_item is None else str(value_item) for value_item in value)
            else:
                row[column] = json.dumps(value, cls=JSONEncoder)
        else:
            row[column] = value
    return row


def export_rows(data: Any) -> list[dict[str, Any]]:
    """The rows an answer exports as (see the module docstring)."""
    if isinstance(data, list | tuple):
        items: list[Any] = list(data)
        shared: dict[str, Any] = {}
    elif isinstance(data, Mapping):
        lists = [
            key
            for key, value in data.items()
            if isinstance(value, list | tuple) and all(isinstance(entry, Mapping) for entry in value)
        ]
        key = "results" if "results" in lists else (lists[0] if lists else None)
        if key is None:
            return [_flatten(data)]
        items = list(data[key])
        shared = {
            name: value
            for name, value in data.items()
            if name != key and name not in PAGINATION_KEYS and not isinstance(value, Mapping | list | tuple)
        }
    else:
        return [{"value": data}] if data is not None else []
    return [{**shared, **(_flatten(item) if isinstance(item, Mapping) else {"value": item})} for item in items]


def export_table(data: Any) -> tuple[list[str], list[list[Cell]]]:
    """Header and escaped cells of an answer; the header is every column in order of first appearance."""
    rows = export_rows(data)
    header = list(dict.fromkeys(column for row in rows for column in row))
    return (
        [formula_escape(column) for column in header],
        [[export_cell(row.get(column)) for column in header] for row in rows],
    )


def export_filename(renderer_context: Mapping[str, Any] | None, extension: str) -> str:
    """``tokencast-<path after /api/v1/>-<date>.<ext>``, e.g. ``tokencast-budgets-12-status-2026-10-01.csv``."""
    request = (renderer_context or {}).get("request")
    path = request.path if request is not None else ""
    name = _FILENAME_UNSAFE.sub("-", path.removeprefix("/api/v1/").strip("/")).strip("-") or "export"
    return f"tokencast-{name}-{timezone.now().date().isoformat()}.{extension}"


class _ExportRenderer(BaseRenderer):
    extension = ""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            # Errors stay JSON (the exception handler already switches most of them; this catches the rest).
            response["Content-Type"] = JSONRenderer.media_type
            return JSONRenderer().render(data, JSONRenderer.media_type, renderer_context)
        if data is None or (response is not None and response.status_code == 204):
            return b""
        if response is not None:
            response["Content-Disposition"] = (
                f'attachment; filename="{export_filename(renderer_context, self.extension)}"'
            )
        header, rows = export_table(data)
        return self.encode(header, rows)

    def encode(self, header: list[str], rows: list[list[Cell]]) -> bytes:
        raise NotImplementedError


class CSVRenderer(_ExportRenderer):
    """``?format=csv``: UTF-8, comma separated, a header row."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    extension = "csv"

    def encode(self, header: list[str], rows: list[list[Cell]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([_csv_text(cell) for cell in row] for row in rows)
        return buffer.getvalue().encode("utf-8")


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, Decimal):
        return format(cell, "f")
    return str(cell)


def _xlsx_value(cell: Cell) -> str | int | float | bool | None:
    if isinstance(cell, Decimal):
        return float(cell)
    if isinstance(cell, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell)  # control characters an .xlsx cannot hold
    return cell


class XLSXRenderer(_ExportRenderer):
    """``?format=xlsx``: one worksheet, a header row, numbers as numeric cells."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"
    extension = "xlsx"

    def encode(self, header: list[str], rows: list[list[Cell]]) -> bytes:
        from openpyxl import Workbook  # lazy: only exports need it

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("export")
        sheet.append([_xlsx_value(cell) for cell in header])
        for row in rows:
            sheet.append([_xlsx_value(cell) for cell in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
