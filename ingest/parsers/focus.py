"""FOCUS cost-and-usage exports: 1.0, 1.1, 1.2 and the AI working drafts (reference/export-formats.md section 11).

Only generative-AI rows enter the ledger: ``ServiceCategory`` "AI and Machine Learning" and some
sign of LLM usage (``ServiceSubcategory`` "Generative AI", token keys in ``SkuPriceDetails``, a token
meter or unit, or Azure's ``x_SkuMeterCategory`` "Foundry Models" / "Cognitive Services" + OpenAI).
Every other row is skipped and counted, including AI-category infrastructure such as the Azure
Machine Learning VMs, disks and IPs of the FOCUS 1.0 sample: they are not token spend.

The token type comes from ``SkuPriceDetails`` (``TokenDirection``/``TokenCacheAction``, older
``TokenType``), then ``SkuMeter`` (draft names, or Azure meter names read with the Azure grammar),
then ``ChargeDescription`` when the unit is a token unit. AI rows without tokens are ``other`` with
quantity 0; their raw quantity and unit are kept in the tags. Cost is ``EffectiveCost`` (amortized)
in ``BillingCurrency``; ``BilledCost`` is kept in the tags. Each record's tags carry the FOCUS
version: ``x_FocusVersion`` when the row states it, else the one the header shows (``detect_version``);
``stats.format_version`` lists the versions the file holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from ingest.parsers.azure import block_size, classify_meter, parse_tags
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    RowReader,
    as_utc,
    block_size_from,
    cell,
    counted_rows,
    is_null,
    normalize_header_name,
    note_format_version,
    parse_currency,
    parse_decimal,
    parse_money,
    tokens_from_blocks,
)

NAME = "focus"
LABEL = "FOCUS cost and usage export"
SIGNATURE = frozenset({"billedcost", "effectivecost", "chargeperiodstart", "servicename", "chargecategory"})

REQUIRED_COLUMNS = ("servicecategory", "chargeperiodstart", "chargeperiodend", "billingcurrency", "effectivecost")
AI_CATEGORY = "ai and machine learning"
SKIP_NOT_AI = "not an AI service"
SKIP_NOT_GENERATIVE = "AI and Machine Learning but not generative AI"

# Draft AI examples name the token type in SkuMeter.
DRAFT_METERS = {
    "input tokens": "input",
    "output tokens": "output",
    "cache read input tokens": "cached_input",
    "cache write input tokens": "cache_write",
}
LEGACY_TOKEN_TYPES = {
    "input": "input",
    "output": "output",
    "cache read": "cached_input",
    "cached input": "cached_input",
    "cache write": "cache_write",
}
TOKEN_DETAIL_KEYS = ("TokenDirection", "TokenCacheAction", "TokenType")
_TOKEN_UNIT = re.compile(r"^(?:(\d+)\s*([km])?\s+)?tokens?$", re.IGNORECASE)


def detect_version(header: Iterable[str]) -> str:
    """The FOCUS version a header belongs to: ``1.3+`` (drafts included), ``1.2``, ``1.1`` or ``1.0``."""
    columns = {normalize_header_name(name) for name in header}
    if "serviceprovidername" in columns:
        return "1.3+"
    if columns & {"invoiceid", "pricingcurrency"}:
        return "1.2"
    if columns & {"skumeter", "servicesubcategory"}:
        return "1.1"
    return "1.0"


def version_label(version: str) -> str:
    """A FOCUS version as ``stats.format_version`` shows it: ``FOCUS 1.2``; drafts and 1.3 together."""
    return "FOCUS 1.3+ or working draft" if version == "1.3+" else f"FOCUS {version}"


def token_unit_block(unit: str | None) -> int | None:
    """Tokens per unit for ``Tokens``/``Token`` (1) and block units such as ``1K Tokens`` or ``1000000 Tokens``."""
    match = _TOKEN_UNIT.match((unit or "").strip())
    if not match:
        return None
    if match.group(1) is None:
        return 1
    return block_size_from(*match.groups())


def parse_instant(value: str | None, *, row: int, column: str, errors: list[RowError]) -> datetime | None:
    """A UTC instant: ISO 8601 with ``Z`` or an offset, ``2024-01-01T00:00Z``, or ``2024-09-18 22:00:00`` (UTC)."""
    expected = "expected an ISO 8601 date and time such as 2025-01-01T00:00:00Z"
    if is_null(value):
        errors.append(RowError(row=row, column=column, message=f"is empty; {expected}"))
        return None
    assert value is not None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a valid date and time; {expected}"))
        return None


def _price_details(row: dict[str, str], row_number: int, errors: list[RowError]) -> dict[str, Any]:
    raw = row.get("skupricedetails")
    if is_null(raw):
        return {}
    assert raw is not None
    try:
        details = json.loads(raw)
    except ValueError:
        details = None
    if not isinstance(details, dict):
        errors.append(RowError(row=row_number, column="skupricedetails", message=f"{raw[:80]!r} is not a JSON object"))
        return {}
    return details


def _is_generative(row: dict[str, str], details: dict[str, Any]) -> bool:
    """Whether an "AI and Machine Learning" row is LLM usage (see the module docstring)."""
    if cell(row, "servicesubcategory").lower() == "generative ai":
        return True
    if any(key in details for key in TOKEN_DETAIL_KEYS):
        return True
    meters = (cell(row, "skumeter"), cell(row, "x_skumetername"))
    if any("token" in meter.lower() for meter in meters):
        return True
    if token_unit_block(cell(row, "consumedunit")) or token_unit_block(cell(row, "pricingunit")):
        return True
    meter_category = cell(row, "x_skumetercategory").lower()
    meter_subcategory = cell(row, "x_skumetersubcategory").lower()
    return meter_category == "foundry models" or (
        meter_category == "cognitive services" and "openai" in meter_subcategory
    )


def _token_type(row: dict[str, str], details: dict[str, Any]) -> tuple[str | None, str]:
    """The token type (None when the row is not token usage) and the Azure-style service tier, if any."""
    direction = str(details.get("TokenDirection") or "").strip().lower()
    cache_action = str(details.get("TokenCacheAction") or "").strip().lower()
    if direction == "output":
        return "output", ""
    if direction == "input":
        return {"read": "cached_input", "write": "cache_write"}.get(cache_action, "input"), ""
    legacy = LEGACY_TOKEN_TYPES.get(str(details.get("TokenType") or "").strip().lower())
    if legacy:
        return legacy, ""
    for column in ("skumeter", "x_skumetername"):
        meter = cell(row, column)
        if meter.lower() in DRAFT_METERS:
            return DRAFT_METERS[meter.lower()], ""
        if meter:
            reading = classify_meter(meter)
            if reading.token_type != "other":
                return reading.token_type, reading.service_tier
    if token_unit_block(cell(row, "consumedunit")):
        description = cell(row, "chargedescription").lower()
        if re.search(r"\bcache(?:d)?\s+read\b|\bcached\b", description):
            return "cached_input", ""
        if re.search(r"\bcache\s+write\b", description):
            return "cache_write", ""
        if re.search(r"\boutput\b", description):
            return "output", ""
        if re.search(r"\binput\b", description):
            return "input", ""
    return None, ""


def _model(row: dict[str, str], details: dict[str, Any]) -> str:
    model_id = str(details.get("ModelId") or "").strip()
    if model_id:
        return model_id
    for column in ("x_skumetername", "skumeter"):
        meter = cell(row, column)
        if meter and meter.lower() not in DRAFT_METERS:
            return classify_meter(meter).model
    return cell(row, "chargedescription") or cell(row, "skuid")


def _token_quantity(
    row: dict[str, str], row_number: int, errors: list[RowError], meter: str
) -> tuple[int, bool] | None:
    """Whole tokens of a token row and whether they were rounded; None (with an error) when unreadable."""

    def tokens(column: str, block: int, unit: str) -> tuple[int, bool] | None:
        value = row.get(column)
        quantity = parse_decimal(value, row=row_number, column=column, errors=errors, expected="a quantity")
        if quantity is None:
            return None
        shown = f"{value!r} {unit}".rstrip()
        return tokens_from_blocks(quantity, block, shown=shown, row=row_number, column=column, errors=errors)

    consumed_unit = cell(row, "consumedunit")
    block = token_unit_block(consumed_unit)
    if block is not None:
        return tokens("consumedquantity", block, consumed_unit)
    if consumed_unit.lower() in ("", "unit", "units"):
        # Azure writes "Units": PricingQuantity counts blocks of x_PricingBlockSize tokens.
        pricing_block = token_unit_block(cell(row, "pricingunit")) or block_size(cell(row, "x_pricingunitdescription"))
        block_text = cell(row, "x_pricingblocksize")
        if block_text:
            size = parse_decimal(
                block_text, row=row_number, column="x_pricingblocksize", errors=errors, expected="a block size"
            )
            if size is None:
                return None
            if size > 0 and size == size.to_integral_value():
                pricing_block = int(size)
        if pricing_block is not None:
            return tokens("pricingquantity", pricing_block, f"x {pricing_block:,} tokens")
        if consumed_unit:
            return tokens("consumedquantity", 1, consumed_unit)
    errors.append(
        RowError(
            row=row_number,
            column="consumedunit",
            message=f"{consumed_unit!r} is not a token unit, but the row is a token meter ({meter!r}); "
            "expected Tokens, a block such as 1000 Tokens, or Units with x_PricingBlockSize",
        )
    )
    return None


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per generative-AI row; raise IngestError (row-numbered) on any bad one."""
    errors: list[RowError] = []
    reader = RowReader(text, errors)
    missing = [name for name in REQUIRED_COLUMNS if name not in reader.header]
    if missing:
        raise IngestError([RowError(row=1, message=f"the FOCUS header lacks {', '.join(missing)}")])
    file_version = detect_version(reader.header)
    declares_version = "x_focusversion" in reader.header
    if not declares_version:
        note_format_version(stats, version_label(file_version))
    for row_number, row in counted_rows(reader, stats):
        row_version = cell(row, "x_focusversion") or file_version
        if declares_version:
            note_format_version(stats, version_label(row_version))
        if cell(row, "servicecategory").lower() != AI_CATEGORY:
            stats.skip(SKIP_NOT_AI)
            continue
        before = len(errors)
        details = _price_details(row, row_number, errors)
        if len(errors) > before:
            continue
        if not _is_generative(row, details):
            stats.skip(SKIP_NOT_GENERATIVE)
            continue
        start = parse_instant(row.get("chargeperiodstart"), row=row_number, column="chargeperiodstart", errors=errors)
        end = parse_instant(row.get("chargeperiodend"), row=row_number, column="chargeperiodend", errors=errors)
        if start is not None and end is not None and end < start:
            errors.append(RowError(row=row_number, column="chargeperiodend", message="is before ChargePeriodStart"))
        currency = parse_currency(row.get("billingcurrency"), row=row_number, column="billingcurrency", errors=errors)
        effective, billed = (
            parse_money(
                row.get(column), row=row_number, column=column, errors=errors, expected="an amount", required=False
            )
            for column in ("effectivecost", "billedcost")
        )
        provider_name = cell(row, "serviceprovidername") or cell(row, "providername")
        if not provider_name:
            errors.append(
                RowError(
                    row=row_number,
                    column="providername",
                    message="is empty; expected the provider in ServiceProviderName or ProviderName",
                )
            )
        resource_tags = parse_tags(row.get("tags"))
        if resource_tags is None:
            errors.append(RowError(row=row_number, column="tags", message=f"{row.get('tags')!r} is not a JSON object"))
        token_type, tier = _token_type(row, details)
        meter = cell(row, "skumeter") or cell(row, "x_skumetername")
        counted = _token_quantity(row, row_number, errors, meter) if token_type else (0, False)
        if len(errors) > before or start is None or end is None or currency is None or resource_tags is None:
            continue
        assert counted is not None
        quantity, rounded = counted
        raw_unit = cell(row, "consumedunit") or cell(row, "pricingunit")
        tags = dict(resource_tags)
        tags["focus_version"] = row_version
        if billed is not None:
            tags["billed_cost"] = str(billed)
        tags["raw_quantity"] = cell(row, "consumedquantity") or cell(row, "pricingquantity")
        tags["raw_unit"] = raw_unit
        if meter:
            tags["meter"] = meter
        charge_category = cell(row, "chargecategory")
        if charge_category and charge_category.lower() != "usage":
            tags["charge_category"] = charge_category
        if rounded:
            tags["tokens_rounded"] = "true"
        principal = cell(row, "principalid")
        if principal:
            tags["principal_id"] = principal
        cost: Decimal | None = effective if effective is not None else billed
        basis = "amortized" if effective is not None else ("billed" if billed is not None else "unknown")
        if not tier and meter and meter.lower() not in DRAFT_METERS:
            tier = classify_meter(meter).service_tier  # e.g. "provisioned" for Azure PTU meters
        yield CanonicalRecord(
            period_start=start,
            period_end=end,
            provider=f"focus:{provider_name}"[:60],
            model_raw=_model(row, details)[:255],
            token_type=token_type or "other",
            quantity=quantity,
            source_row=row_number,
            unit="tokens" if token_type else (raw_unit[:32] or "units"),
            cost=cost,
            currency=currency,
            cost_basis=basis,
            project=cell(row, "x_resourcegroupname"),
            api_key=cell(row, "credentialid"),
            account=cell(row, "subaccountid"),
            region=cell(row, "regionid")[:64],
            service_tier=tier,
            tags=tags,
        )
    if errors:
        raise IngestError(errors)
