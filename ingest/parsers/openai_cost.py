"""OpenAI dashboard cost export (``cost_*.csv``): billed amounts per daily bucket.

One row per bucket x grouping keys (reference/export-formats.md section 3). Amounts are Decimal
as written (36 decimals); the currency comes lower-case and is upper-cased. Time-only rows are
empty buckets and are skipped. ``line_item`` appears only when the export is grouped by line item
(``evals | gpt-4o-mini-2024-07-18, input``); without it a row is one ``other`` amount with no
model. ``user_email`` is not copied to the ledger. ``stats.format_version`` says whether the file has the
``api_source`` column of 2026-09 exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, NamedTuple

from ingest.parsers.base import (
    MAX_LEDGER_COUNT,
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    cell,
    count_out_of_range,
    counted_rows,
    is_null,
    note_format_version,
    parse_epoch,
    parse_money,
    tags_from,
)

NAME = "openai_cost"
LABEL = "OpenAI dashboard cost export"
SIGNATURE = frozenset({"start_time", "end_time", "amount_value", "amount_currency", "line_item"})

TIME_COLUMNS = frozenset({"start_time", "end_time", "start_time_iso", "end_time_iso"})
TOKENS_PER_UNIT = {"tokens": 1, "1000_tokens": 1000}
TAG_COLUMNS = ("user_id", "project_name", "organization_name", "api_source")
STANDARD = "standard layout"
WITH_API_SOURCE = "2026-09 layout (with api_source)"


class LineItem(NamedTuple):
    product: str
    model_raw: str
    token_type: str


def split_line_item(line_item: str) -> LineItem:
    """Product prefix (before `` | ``), model (before the last ``, ``) and canonical token type.

    ``cached`` is tested before ``input`` because ``cached input`` contains both; a line item with no
    comma (``assistants api | file search``) is ``other`` and keeps its text as the model name.
    """
    product, separator, rest = line_item.strip().partition(" | ")
    if not separator:
        product, rest = "", product
    model, comma, kind = rest.rpartition(", ")
    if not comma:
        return LineItem(product.strip(), rest.strip(), "other")
    kind = kind.strip().lower()
    if "cached" in kind:
        token_type = "cached_input"
    elif "cache write" in kind or "cache_write" in kind:
        token_type = "cache_write"
    elif "input" in kind:
        token_type = "input"
    elif "output" in kind:
        token_type = "output"
    else:
        token_type = "other"
    return LineItem(product.strip(), model.strip(), token_type)


def _parse_quantity(row: dict[str, str], *, row_number: int, errors: list[RowError]) -> tuple[int, str]:
    """Tokens and ``tokens`` when the quantity is counted in tokens, else 0 and ``usd``."""
    value, unit = cell(row, "quantity"), cell(row, "quantity_unit").lower()
    if not value or unit not in TOKENS_PER_UNIT:
        return 0, "usd"
    try:
        quantity = Decimal(value)
    except InvalidOperation:
        errors.append(
            RowError(row=row_number, column="quantity", message=f"{value!r} is not a number; expected a quantity")
        )
        return 0, "usd"
    # A quantity already beyond the ledger is not multiplied: 1E+999999999 x 1000 would overflow Decimal.
    in_reach = quantity.is_nan() or abs(quantity) <= MAX_LEDGER_COUNT
    tokens = quantity * TOKENS_PER_UNIT[unit] if in_reach else quantity
    if not tokens.is_finite() or tokens < 0 or tokens != tokens.to_integral_value():
        errors.append(
            RowError(
                row=row_number,
                column="quantity",
                message=f"{value!r} {unit} is not a whole non-negative token count",
            )
        )
        return 0, "usd"
    if (beyond := count_out_of_range(tokens)) is not None:
        errors.append(RowError(row=row_number, column="quantity", message=f"{value!r} {unit} {beyond}"))
        return 0, "usd"
    return int(tokens), "tokens"


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one billed record per non-empty row; raise IngestError on any bad row."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    note_format_version(stats, WITH_API_SOURCE if "api_source" in reader.header else STANDARD)
    for row_number, row in counted_rows(reader, stats):
        if all(is_null(value) for column, value in row.items() if column not in TIME_COLUMNS):
            stats.skip("empty time bucket (no cost that day)")
            continue
        before = len(errors)
        start = parse_epoch(row["start_time"], row=row_number, column="start_time", errors=errors)
        end = parse_epoch(row["end_time"], row=row_number, column="end_time", errors=errors)
        amount = parse_money(
            row.get("amount_value"), row=row_number, column="amount_value", errors=errors, expected="an amount"
        )
        currency = cell(row, "amount_currency").upper()
        if not currency:
            errors.append(
                RowError(
                    row=row_number, column="amount_currency", message="is empty; expected a currency code such as usd"
                )
            )
        elif not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            errors.append(
                RowError(
                    row=row_number,
                    column="amount_currency",
                    message=f"{row.get('amount_currency', '')!r} is not a currency code; expected three letters "
                    "such as usd",
                )
            )
        quantity, unit = _parse_quantity(row, row_number=row_number, errors=errors)
        if len(errors) > before or start is None or end is None or amount is None:
            continue
        line_item = cell(row, "line_item")
        item = split_line_item(line_item) if line_item else LineItem("", "", "other")
        tags = tags_from(row, TAG_COLUMNS)
        if line_item:
            tags["line_item"] = line_item
        if item.product:
            tags["product"] = item.product
        if unit == "usd" and cell(row, "quantity"):
            tags["quantity"] = cell(row, "quantity")
            tags["quantity_unit"] = cell(row, "quantity_unit")
        if unit == "tokens":
            # The usage export carries the same tokens: the cost file's rows hold money only, and
            # the billed token count is kept as an attribute until cost and usage are joined.
            tags["billed_tokens"] = str(quantity)
            quantity, unit = 0, "usd"
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider="openai",
            model_raw=item.model_raw,
            token_type=item.token_type,
            quantity=quantity,
            source_row=row_number,
            unit=unit,
            cost=amount,
            currency=currency,
            cost_basis="billed",
            project=cell(row, "project_id"),
            api_key=cell(row, "api_key_id"),
            account=cell(row, "organization_id"),
            tags=tags,
        )
    if errors:
        raise IngestError(errors)
