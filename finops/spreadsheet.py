"""Cells that a spreadsheet opens safely: the one rule every CSV and XLSX export applies (API renderers,
budget export), and its inverse for files read back."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these would be run as a formula by Excel, LibreOffice or Google Sheets."""


def formula_escape(value: str) -> str:
    """The text with a leading single quote when a spreadsheet would run it as a formula."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_STARTS) else value


def formula_unescape(value: str) -> str:
    """The cell as an export read it: the one quote ``formula_escape`` added taken off again."""
    return value[1:] if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS) else value
