"""What the two AWS Cost and Usage Report formats share: Bedrock detection, usage types, rows to records.

The formats themselves live in ``aws_cur2`` (CUR 2.0, snake_case columns) and ``aws_cur_legacy``
(``lineItem/…`` columns); they differ only in column names (reference/export-formats.md section 8).

Bedrock rows are found by product code, by the ``(Amazon Bedrock Edition)`` product name of
marketplace models, or by a token usage type. The usage type carries the token type, the billing
model name (``USE1-Claude4.6Sonnet-input-tokens`` -> ``Claude4.6Sonnet``), the service tier and
cross-region routing. ``line_item_usage_amount`` is in the pricing unit (``1K tokens``, ``1M tokens``,
``Units``), so tokens = amount x block size, rounded half-up. Anything else Bedrock bills
(provisioned throughput, customization, images, guardrails, credits, refunds, discounts) becomes one
``other`` record with quantity 0, its cost, and the raw usage in tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    block_size_from,
    cell,
    counted_rows,
    note_format_version,
    parse_currency,
    parse_decimal,
    parse_money,
    parse_period,
    read_rows,
    tokens_from_blocks,
)

# --- Bedrock usage types ---------------------------------------------------------------------

PROVIDER = "aws_bedrock"
BEDROCK_PRODUCT_CODES = frozenset({"amazonbedrock", "amazonbedrockservice", "amazonbedrockfoundationmodels"})
MARKETPLACE_EDITION = "(Amazon Bedrock Edition)"
TOKEN_LINE_ITEM_TYPES = frozenset({"usage", "discountedusage", "savingsplancoveredusage"})
SKIP_TAX = "tax"
SKIP_NOT_AI = "not an AI service"

_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d{1,2}-(?=.)")
_MARKETPLACE = re.compile(r"^MP:", re.IGNORECASE)
# Where the token part of a usage type starts: ``-input-tokens``, ``-mantle-output-tokens-…``,
# ``-cache-read-input-token-count``, ``_CacheWrite1hInputTokenCount``.
_TOKEN_MARKER = re.compile(
    r"[-_](?:mantle[-_])?(?:cache[-_]?(?:read|write)[-_a-z0-9]*?[-_]?)?(?:input|output)[-_]?tokens?",
    re.IGNORECASE,
)
_TRAILING_MODIFIER = re.compile(
    r"[-_](?:latency-optimized|cross-region(?:-[a-z0-9]+)?|batch|flex|priority|standard|global)$", re.IGNORECASE
)
_TIER = re.compile(r"(?:^|[-_])(latency-optimized|flex|priority|batch|standard)(?=$|[-_])", re.IGNORECASE)
_CROSS_REGION = re.compile(r"(?:^|[-_])cross-region(?:-(global|us-gov|us|eu|apac|jp|au|ca))?(?=$|[-_])", re.IGNORECASE)
_GLOBAL = re.compile(r"(?:^|[-_])global(?=$|[-_])", re.IGNORECASE)
_CACHE_TTL = re.compile(r"cache[-_]?write[-_]?(\d+[hm])", re.IGNORECASE)
# Usage that is billed by Bedrock but is not inference tokens, even if a token word appears.
_NOT_INFERENCE = ("provisioned", "customization", "training", "storage", "modelunit")
_PRICING_UNIT = re.compile(r"(?:(\d[\d,]*(?:\.\d+)?)\s*)?([km])?\s*(?:tokens?|units?|count)?", re.IGNORECASE)


@dataclass(frozen=True)
class BedrockUsage:
    """What a Bedrock usage type says: token type, billing model name, tier, routing."""

    token_type: str
    model: str
    marketplace: bool
    service_tier: str = ""
    cross_region: str = ""
    cache_ttl: str = ""


def strip_region(usage_type: str) -> str:
    """``USE1-NovaLite-input-tokens`` -> ``NovaLite-input-tokens``."""
    return _REGION_PREFIX.sub("", usage_type.strip(), count=1)


def _squashed(text: str) -> str:
    return re.sub(r"[-_\s]", "", text.lower())


def is_token_usage_type(usage_type: str) -> bool:
    squashed = _squashed(usage_type)
    return "inputtoken" in squashed or "outputtoken" in squashed


def token_type_of(usage_type: str) -> str:
    """Cache read and cache write are tested before input (their usage types also say input)."""
    squashed = _squashed(usage_type)
    if any(marker in squashed for marker in _NOT_INFERENCE):
        return "other"
    if "cacheread" in squashed:
        return "cached_input"
    if "cachewrite" in squashed:
        return "cache_write"
    if "inputtoken" in squashed:
        return "input"
    if "outputtoken" in squashed:
        return "output"
    return "other"


def classify_usage_type(usage_type: str) -> BedrockUsage:
    """Token type, model billing name, tier and cross-region routing of a Bedrock usage type.

    Marketplace usage types (``USE1-MP:USE1_InputTokenCount-Units``) carry no model: ``model`` is ""
    and the caller takes it from the product name.
    """
    rest = strip_region(usage_type)
    marketplace = bool(_MARKETPLACE.match(rest))
    token_type = token_type_of(rest)
    model = ""
    if not marketplace:
        marker = _TOKEN_MARKER.search(rest) if token_type != "other" else None
        model = rest[: marker.start()] if marker else rest
        if token_type != "other":
            while (modifier := _TRAILING_MODIFIER.search(model)) is not None:
                model = model[: modifier.start()]
    # Tier words only mean a service tier on inference usage (``-Standard`` image quality is not one).
    tier = _TIER.search(rest) if token_type != "other" else None
    cross = _CROSS_REGION.search(rest)
    cross_region = (cross.group(1) or "true").lower() if cross else ("global" if _GLOBAL.search(rest) else "")
    ttl = _CACHE_TTL.search(rest) if token_type == "cache_write" else None
    return BedrockUsage(
        token_type=token_type,
        model=model,
        marketplace=marketplace,
        service_tier=tier.group(1).lower() if tier else "",
        cross_region=cross_region,
        cache_ttl=ttl.group(1).lower() if ttl else "",
    )


def pricing_block(unit: str) -> int | None:
    """Tokens per unit of ``pricing_unit``: ``1K tokens`` 1000, ``1M tokens`` 1e6, ``tokens``/``Units``/"" 1."""
    match = _PRICING_UNIT.fullmatch(unit.strip())
    return None if match is None else block_size_from(*match.groups())


def marketplace_model(product_name: str) -> str:
    """``Claude Sonnet 4.5 (Amazon Bedrock Edition)`` -> ``Claude Sonnet 4.5``."""
    name = product_name.strip()
    if name.lower().endswith(MARKETPLACE_EDITION.lower()):
        name = name[: -len(MARKETPLACE_EDITION)].strip()
    return name


def is_bedrock(*, product_code: str, service_code: str, product_name: str, usage_type: str) -> bool:
    return (
        product_code.lower() in BEDROCK_PRODUCT_CODES
        or service_code.lower() in BEDROCK_PRODUCT_CODES
        or MARKETPLACE_EDITION.lower() in product_name.lower()
        or is_token_usage_type(usage_type)
    )


# --- Rows to records -------------------------------------------------------------------------


@dataclass(frozen=True)
class CurColumns:
    """The normalized column names of one CUR format."""

    start: str
    end: str
    line_item_type: str
    product_code: str
    service_code: str
    product_name: str
    usage_type: str
    usage_amount: str
    pricing_unit: str
    unblended_cost: str
    net_unblended_cost: str
    currency: str
    account: str
    resource_id: str
    region: str
    version: str  # the format generation, for ParseStats.format_version
    iam_principal: str | None = None
    product_map: str | None = None  # CUR 2.0 ``product`` map: fallback for product name and region
    tag_map: str | None = None  # CUR 2.0 ``resource_tags`` map column
    tag_prefix: str = ""  # ``resourcetags/`` (legacy) or ``resource_tags_`` (flattened CUR 2.0)


def parse_map(value: str) -> dict[str, str] | None:
    """A CUR map cell: JSON (``{"user_team":"search"}``) or Athena text (``{user_team=search, env=prod}``)."""
    text = value.strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        if not (text.startswith("{") and text.endswith("}")):
            return None
        pairs = [part.split("=", 1) for part in text[1:-1].split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            return None
        return {key.strip(): val.strip() for key, val in pairs}
    if not isinstance(parsed, dict):
        return None
    return {str(key): "" if val is None else str(val) for key, val in parsed.items()}


def _tags(
    row: dict[str, str], columns: CurColumns, names: dict[str, str], *, row_number: int, errors: list[RowError]
) -> dict[str, str]:
    tags: dict[str, str] = {}
    raw_map = cell(row, columns.tag_map)
    if raw_map:
        parsed = parse_map(raw_map)
        if parsed is None:
            assert columns.tag_map is not None
            errors.append(
                RowError(
                    row=row_number,
                    column=names.get(columns.tag_map, columns.tag_map),
                    message=f'{raw_map[:80]!r} is not a map of tags; expected JSON such as {{"user_team":"search"}}',
                )
            )
        else:
            tags.update({key: val for key, val in parsed.items() if val})
    if columns.tag_prefix:
        for column, raw_name in names.items():
            if column.startswith(columns.tag_prefix) and (value := cell(row, column)):
                tags[raw_name[len(columns.tag_prefix) :]] = value
    return tags


def parse_cur(text: IO[str], stats: ParseStats, columns: CurColumns) -> Iterator[CanonicalRecord]:
    """Yield one record per Bedrock row; skip (and count) tax and other services; raise IngestError on bad rows."""
    errors: list[RowError] = []
    reader, names = read_rows(text, errors)
    header = set(reader.header)

    def name(column: str) -> str:
        return names.get(column, column)

    version = columns.version
    if columns.tag_map and columns.tag_map not in header and any(c.startswith(columns.tag_prefix) for c in header):
        version = "snake_case CUR with flattened tag columns (Athena/Parquet)"
    note_format_version(stats, version)
    net_column = columns.net_unblended_cost if columns.net_unblended_cost in header else None
    for row_number, row in counted_rows(reader, stats):
        line_item_type = cell(row, columns.line_item_type)
        if line_item_type.lower() == "tax":
            stats.skip(SKIP_TAX)
            continue
        product_name = cell(row, columns.product_name)
        region = cell(row, columns.region)
        if columns.product_map and (not product_name or not region):
            product = parse_map(cell(row, columns.product_map)) or {}
            product_name = product_name or product.get("product_name", "").strip()
            region = region or product.get("region_code", "").strip()
        usage_type = cell(row, columns.usage_type)
        if not is_bedrock(
            product_code=cell(row, columns.product_code),
            service_code=cell(row, columns.service_code),
            product_name=product_name,
            usage_type=usage_type,
        ):
            stats.skip(SKIP_NOT_AI)
            continue

        before = len(errors)
        if not line_item_type:
            errors.append(
                RowError(
                    row=row_number,
                    column=name(columns.line_item_type),
                    message="is empty; expected a line item type such as Usage",
                )
            )
        period = parse_period(
            cell(row, columns.start),
            cell(row, columns.end),
            row=row_number,
            columns=(name(columns.start), name(columns.end)),
            errors=errors,
        )
        currency = parse_currency(
            cell(row, columns.currency), row=row_number, column=name(columns.currency), errors=errors
        )
        cost_column = net_column if net_column and cell(row, net_column) else columns.unblended_cost
        cost = parse_money(
            cell(row, cost_column),
            row=row_number,
            column=name(cost_column),
            errors=errors,
            expected="an amount of money",
        )
        amount_text = cell(row, columns.usage_amount)
        amount = parse_decimal(
            amount_text,
            row=row_number,
            column=name(columns.usage_amount),
            errors=errors,
            expected="a usage amount",
            required=False,
        ) or Decimal(0)
        unit = cell(row, columns.pricing_unit)
        tags = _tags(row, columns, names, row_number=row_number, errors=errors)
        usage = classify_usage_type(usage_type)
        if usage.marketplace or not usage.model:
            model = marketplace_model(product_name) or cell(row, columns.product_code) or strip_region(usage_type)
        else:
            model = usage.model
        token_type, quantity, record_unit = "other", 0, unit or "units"
        if line_item_type.lower() in TOKEN_LINE_ITEM_TYPES and usage.token_type != "other":
            block = pricing_block(unit)
            if block is None:
                errors.append(
                    RowError(
                        row=row_number,
                        column=name(columns.pricing_unit),
                        message=f"{unit!r} is not a token pricing unit; expected tokens, 1K tokens, 1M tokens or Units",
                    )
                )
            else:
                counted = tokens_from_blocks(
                    amount,
                    block,
                    shown=f"{amount_text!r} {unit}",
                    row=row_number,
                    column=name(columns.usage_amount),
                    errors=errors,
                )
                token_type, quantity, record_unit = usage.token_type, counted[0] if counted else 0, "tokens"
                if quantity < 0:
                    errors.append(
                        RowError(
                            row=row_number,
                            column=name(columns.usage_amount),
                            message=f"{amount_text!r} is negative; expected a token usage amount >= 0",
                        )
                    )
        else:
            tags.update({"usage_type": usage_type, "raw_unit": unit, "raw_quantity": amount_text})
            if line_item_type.lower() not in TOKEN_LINE_ITEM_TYPES:
                tags["line_item_type"] = line_item_type
        if len(errors) > before or period is None or currency is None or cost is None:
            continue
        start, end = period
        if usage.cross_region:
            tags["cross_region"] = usage.cross_region
        if usage.cache_ttl:
            tags["cache_ttl"] = usage.cache_ttl
        if resource_id := cell(row, columns.resource_id):
            tags["resource_id"] = resource_id
        if principal := cell(row, columns.iam_principal):
            tags["iam_principal"] = principal
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider=PROVIDER,
            model_raw=model,
            token_type=token_type,
            quantity=quantity,
            source_row=row_number,
            unit=record_unit[:32],
            cost=cost,
            currency=currency,
            cost_basis="billed",
            account=cell(row, columns.account),
            region=region,
            service_tier=usage.service_tier,
            tags={key: value for key, value in tags.items() if value},
        )
    if errors:
        raise IngestError(errors)
