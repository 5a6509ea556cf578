"""What the two Google Cloud billing formats share: AI services, SKU descriptions, usage units.

The formats themselves live in ``gcp_bigquery`` (BigQuery billing export as CSV) and ``gcp_console``
(console cost-table CSV); see reference/export-formats.md sections 9 and 12.

Only ``Vertex AI`` and ``Gemini API`` rows enter the ledger; ``sku_record`` turns a row whose cells
both formats have read into its record. The SKU description says the token type
(``… Text Input - Predictions``, ``… Thinking Text Output …``, ``… Input Text Caching``) and the model
(``Gemini 2.5 Flash GA …`` -> ``gemini-2.5-flash``). Caching storage, grounding, provisioned
throughput, tuning and Imagen/Veo are ``other``. Gemini 1.0/1.5 on Vertex were billed per 1,000
characters: those rows are ``other`` in unit ``characters`` with quantity 0, never tokens. Usage
units are read, never assumed: ``count``/``tokens`` is one token, ``1000 count`` a block of 1,000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from ingest.parsers.base import CanonicalRecord, RowError, block_size_from, parse_decimal, tokens_from_blocks

PROVIDER_BY_SERVICE = {"vertex ai": "gcp_vertex", "gemini api": "gcp_gemini_api"}
PROVIDER_BY_SERVICE_ID = {"c7e2-9256-1c43": "gcp_vertex", "aefd-7695-64fa": "gcp_gemini_api"}
SKIP_NOT_AI = "not an AI service"
# cost_type values kept out of per-model cost, with the skip reason they are counted under.
SKIPPED_COST_TYPES = {
    "tax": "tax",
    "adjustment": "adjustment",
    "rounding_error": "rounding error",
    "rounding error": "rounding error",
}

_MODEL = re.compile(r"gemini\s+(\d+(?:\.\d+)?)\s+(pro|flash(?:[- ]lite)?)", re.IGNORECASE)
_GEMINI_API_MODEL = re.compile(r"\bgemini\s+(.+?)\s+(?:short|long|input|output)\b", re.IGNORECASE)
_CHARACTER_MODELS = re.compile(r"gemini-1\.[05]-")
_OTHER_WORDS = ("storage", "grounding", "provisioned", "tuning", "training", "imagen", "veo")
_TIER = re.compile(r"\b(priority|flex|batch)\b", re.IGNORECASE)
_CONTEXT = re.compile(r"(?:[≤<>]=?\s*\d+\s*k\b)|(?:\b(?:short|long) input\b)", re.IGNORECASE)
_TOKEN_UNIT = re.compile(
    r"(?:(\d[\d,]*(?:\.\d+)?)\s*)?(k|m|thousand|million)?\s*\{?(?:count|counts|tokens?)\}?", re.IGNORECASE
)


def provider_for(service: str, service_id: str = "") -> str | None:
    """``gcp_vertex`` or ``gcp_gemini_api`` for the AI services, None for every other service."""
    return PROVIDER_BY_SERVICE.get(service.strip().lower()) or PROVIDER_BY_SERVICE_ID.get(service_id.strip().lower())


def model_from_sku(sku: str) -> str:
    """``Gemini 2.5 Flash GA Text Input - Predictions`` and ``… token count gemini 2.5 flash short …``
    both give ``gemini-2.5-flash``; a SKU without a Gemini model keeps its description."""
    match = _MODEL.search(sku)
    if match:
        version, family = match.groups()
        return f"gemini-{version}-{'-'.join(family.lower().replace('-', ' ').split())}"
    match = _GEMINI_API_MODEL.search(sku)
    if match:
        return "gemini-" + "-".join(match.group(1).lower().split())
    return sku.strip()


def token_type_of(sku: str) -> str:
    """input, output (thinking included), cached_input (caching, not caching storage) or other."""
    text = sku.lower()
    if any(word in text for word in _OTHER_WORDS):
        return "other"
    if "cach" in text:
        return "cached_input"
    # Gemini API SKUs name the context band after the direction ("output token count … short input
    # text"), so the first of the two words decides.
    found = sorted((text.index(word), word) for word in ("input", "output") if word in text)
    return found[0][1] if found else "other"


@dataclass(frozen=True)
class Sku:
    """What a SKU row says: token type, model, tier, context band; ``characters`` for char billing."""

    token_type: str
    model: str
    characters: bool = False
    service_tier: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def describe_sku(sku: str, *, provider: str, units: tuple[str, ...] = ()) -> Sku:
    model = model_from_sku(sku)
    characters = (
        any("char" in unit.lower() for unit in units)
        or "character" in sku.lower()
        or (provider == "gcp_vertex" and bool(_CHARACTER_MODELS.match(model)))
    )
    tier = _TIER.search(sku)
    context = _CONTEXT.search(sku)
    tags = {"sku": sku.strip()}
    if context:
        band = context.group(0).lower()
        tags["context_window"] = re.sub(r"\s+", "", band) if band[0] in "≤<>" else band
    return Sku(
        token_type="other" if characters else token_type_of(sku),
        model=model,
        characters=characters,
        service_tier=tier.group(1).lower() if tier else "",
        tags=tags,
    )


def token_block(unit: str) -> int | None:
    """Tokens per unit: ``count``/``tokens`` 1, ``1000 count``/``k{token}`` 1000; None for other units."""
    match = _TOKEN_UNIT.fullmatch(unit.strip())
    return None if match is None else block_size_from(*match.groups())


CURRENCY_SYMBOLS = {
    "$": "USD",
    "us$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "ca$": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "₹": "INR",
}


def currency_from_symbol(symbol: str) -> str | None:
    """``$`` -> USD, ``€`` -> EUR, ``£`` -> GBP, ``¥`` -> JPY, ``CAD`` -> CAD; None when unknown."""
    text = symbol.strip()
    if text.lower() in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[text.lower()]
    if len(text) == 3 and text.isascii() and text.isalpha():
        return text.upper()
    return None


class Measure(NamedTuple):
    """An amount cell and its unit cell, with the column names errors should show."""

    amount: str
    amount_column: str
    unit: str
    unit_column: str


def measure(
    sku: Sku, usage: Measure, *, pricing: Measure | None, charge: bool, row: int, errors: list[RowError]
) -> tuple[str, int, str, dict[str, str]]:
    """(token type, tokens, unit, extra tags) of a row. ``charge`` is False for credit rows.

    Tokens come from the usage amount and unit; the amount in pricing units is used only when the
    usage unit is missing. Non-token rows keep quantity 0 and their raw amount and unit in tags.
    """
    amount = Decimal(0)
    if usage.amount:
        amount = (
            parse_decimal(usage.amount, row=row, column=usage.amount_column, errors=errors, expected="a usage amount")
            or amount
        )
    if not charge or sku.token_type == "other":
        raw_unit = usage.unit or (pricing.unit if pricing else "")
        raw_amount = usage.amount if usage.unit or pricing is None else pricing.amount
        unit = "characters" if sku.characters else (raw_unit or "units")
        return "other", 0, unit[:32], {"raw_unit": raw_unit, "raw_quantity": raw_amount}
    chosen = usage
    if not usage.unit and pricing is not None and pricing.unit:
        chosen = pricing
        amount = Decimal(0)
        if pricing.amount:
            amount = (
                parse_decimal(
                    pricing.amount, row=row, column=pricing.amount_column, errors=errors, expected="a usage amount"
                )
                or amount
            )
    if not chosen.unit:
        errors.append(
            RowError(row=row, column=usage.unit_column, message="is empty; expected the usage unit (count or tokens)")
        )
        return sku.token_type, 0, "tokens", {}
    block = token_block(chosen.unit)
    if block is None:
        errors.append(
            RowError(
                row=row,
                column=chosen.unit_column,
                message=f"{chosen.unit!r} is not a token unit; "
                "expected count or tokens (or a block such as 1000 count)",
            )
        )
        return sku.token_type, 0, "tokens", {}
    counted = tokens_from_blocks(
        amount, block, shown=f"{chosen.amount!r} {chosen.unit}", row=row, column=chosen.amount_column, errors=errors
    )
    if counted is None:
        return sku.token_type, 0, "tokens", {}
    quantity = counted[0]
    if quantity < 0:
        errors.append(
            RowError(
                row=row,
                column=chosen.amount_column,
                message=f"{chosen.amount!r} is negative; expected a token usage amount >= 0",
            )
        )
    return sku.token_type, quantity, "tokens", {}


def sku_record(
    *,
    provider: str,
    sku_description: str,
    usage: Measure,
    pricing: Measure | None,
    charge: bool,
    period: tuple[datetime, datetime] | None,
    cost: Decimal | None,
    currency: str | None,
    project: str,
    region: str,
    labels: dict[str, str],
    notes: dict[str, str],
    row: int,
    errors: list[RowError],
) -> CanonicalRecord | None:
    """The record of a Vertex AI / Gemini API row whose cells are read; None when the row cannot make one.

    The SKU says the token type and the model, the usage measure the tokens (see ``measure``). Tags are
    the row's ``labels``, then the SKU's, then ``notes`` (credits, credit type). None when measuring
    adds an error or an earlier cell was unreadable (``period``, ``cost`` or ``currency`` is None).
    """
    before = len(errors)
    units = (usage.unit,) if pricing is None else (usage.unit, pricing.unit)
    sku = describe_sku(sku_description, provider=provider, units=units)
    token_type, quantity, unit, extra = measure(sku, usage, pricing=pricing, charge=charge, row=row, errors=errors)
    if len(errors) > before or period is None or cost is None or currency is None:
        return None
    tags = {**labels, **sku.tags, **extra, **notes}
    return CanonicalRecord(
        period_start=period[0],
        period_end=period[1],
        provider=provider,
        model_raw=sku.model,
        token_type=token_type,
        quantity=quantity,
        source_row=row,
        unit=unit,
        cost=cost,
        currency=currency,
        cost_basis="billed",
        project=project,
        region=region,
        service_tier=sku.service_tier,
        tags={key: value for key, value in tags.items() if value},
    )
