"""Azure Cost Management cost-details exports (EA and MCA, actual and amortized): Azure OpenAI and Foundry Models.

One parser serves every variant in reference/export-formats.md section 10.1: old EA (``Cost``,
``BillingCurrency``), EA 2023-12-01-preview and 2024-08-01 (``CostInBillingCurrency``,
``BillingCurrencyCode``), MCA camelCase (``costInBillingCurrency``, ``billingCurrency``) and
localized portal downloads (``计量名称 (MeterName)``, reduced by RowReader). Only Azure OpenAI and
Foundry Models rows enter the ledger; every other row is skipped and counted.

``Quantity`` is in blocks of ``UnitOfMeasure`` (``1K``, ``1M``, ``10K`` ...), so tokens are
``Quantity x block``, rounded half up to a whole token when Azure wrote a fractional quantity
(the record is then tagged ``tokens_rounded``). The token type comes from the meter name
(``classify_meter``): the grammar was checked on all 880 token meters of the Azure Retail Prices API.

``stats.format_version`` names the agreement and schema the header shows (EA by schema version, MCA,
pay-as-you-go) and notes localized headers. Actual and amortized files have the same columns, so it
cannot say which of the two a file is. The meter grammar, block units and tags are shared with the
FOCUS parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import IO

from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    as_utc,
    block_size_from,
    counted_rows,
    is_null,
    normalize_header_name,
    note_format_version,
    parse_currency,
    parse_decimal,
    parse_money,
    read_rows,
    tokens_from_blocks,
)

NAME = "azure_cost"
LABEL = "Azure cost-details export (EA or MCA)"
SIGNATURE = frozenset({"metercategory", "metername", "quantity"})

# The first of each group present in the header is used (normalized names).
COST_COLUMNS = ("costinbillingcurrency", "cost", "pretaxcost")
CURRENCY_COLUMNS = ("billingcurrencycode", "billingcurrency", "currency")
DATE_COLUMNS = ("date", "usagedatetime")
SUBSCRIPTION_COLUMNS = ("subscriptionid", "subscriptionguid")
RESOURCE_GROUP_COLUMNS = ("resourcegroup", "resourcegroupname")
# Columns only a Microsoft Customer Agreement file has, and those that EA schema 2024-08-01 added.
MCA_COLUMNS = frozenset({"invoiceid", "costinusd", "costinpricingcurrency", "paygcostinbillingcurrency"})
EA_2024_COLUMNS = frozenset({"accountid", "resourcelocationnormalized"})

SKIP_NOT_AI = "not an AI service"
# Actual and amortized exports have the same columns and a row does not say which file it came from,
# so both are recorded as billed (the amounts as the export states them).
COST_BASIS = "billed"

# Meter-name grammar (reference section 10.1). Tokens are compared lower-cased.
CACHED_MARKERS = frozenset({"cached", "cchd", "ccchd", "cched", "chd", "cd"})
OUTPUT_MARKERS = frozenset({"outp", "output", "outpt", "opt", "out"})
INPUT_MARKERS = frozenset({"inp", "input", "inpt", "in"})
BATCH_MARKERS = frozenset({"batch"})
PRIORITY_MARKERS = frozenset({"pp", "prty", "priority"})
GLOBAL_MARKERS = frozenset({"glbl", "gl", "glb", "global"})
REGIONAL_MARKERS = frozenset({"regnl", "regional", "rgnl", "regn"})
DATA_ZONE_MARKERS = frozenset({"dz", "dzone", "dzn", "datazone"})
FINE_TUNED_MARKERS = frozenset({"ft", "finetuned"})
TRAINING_MARKERS = frozenset({"trng", "training"})
HOSTING_MARKERS = frozenset({"hstng", "hosting"})
TOKEN_UNIT_WORDS = frozenset({"tokens", "token"})
_BLOCK_WORD = re.compile(r"^\d+[km]$")
# The model part of a meter ends at the first of these qualifiers.
_QUALIFIERS = (
    CACHED_MARKERS
    | OUTPUT_MARKERS
    | INPUT_MARKERS
    | BATCH_MARKERS
    | PRIORITY_MARKERS
    | GLOBAL_MARKERS
    | REGIONAL_MARKERS
    | DATA_ZONE_MARKERS
    | FINE_TUNED_MARKERS
    | TRAINING_MARKERS
    | HOSTING_MARKERS
    | TOKEN_UNIT_WORDS
)
_WORD = re.compile(r"[^\s\-_]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class MeterReading:
    """What an Azure meter name says: token type, model part and qualifiers."""

    token_type: str  # input, output, cached_input, or other (not a token meter)
    model: str  # the leading model part, as written (``gpt 4o 0806``, ``gpt-4o-0806``)
    block: int | None  # block size from a ``1M Tokens`` suffix, if any
    service_tier: str  # batch, priority, provisioned, standard; "" when not a token meter and unknown
    deployment: str  # global, data_zone, regional or ""
    fine_tuned: bool
    direction_assumed: bool  # a token meter without an input/output marker (embeddings, training): input assumed
    training: bool


def _words(meter_name: str) -> list[tuple[str, int]]:
    """The meter's words with their start offsets: split on spaces, hyphens and camelCase joins."""
    words: list[tuple[str, int]] = []
    for match in _WORD.finditer(meter_name):
        start = match.start()
        previous = 0
        for boundary in _CAMEL_BOUNDARY.finditer(match.group()):
            words.append((match.group()[previous : boundary.start()], start + previous))
            previous = boundary.start()
        words.append((match.group()[previous:], start + previous))
    return words


def classify_meter(meter_name: str) -> MeterReading:
    """Read an Azure meter name such as ``gpt 4o 1120 cached Inp Data Zone Tokens``; never raises."""
    words = _words(meter_name)
    lowered = [word.lower() for word, _ in words]
    is_token_meter = bool(lowered) and lowered[-1] in TOKEN_UNIT_WORDS
    present = set(lowered)
    data_zone = bool(present & DATA_ZONE_MARKERS) or ("data", "zone") in pairwise(lowered)
    # A block suffix is the word right before "Tokens" (``GPT 5 outpt Glbl 1M Tokens``); a ``128K`` inside
    # the model part is a context window, not a block.
    has_block_suffix = is_token_meter and len(lowered) >= 2 and bool(_BLOCK_WORD.match(lowered[-2]))
    block = block_size(lowered[-2]) if has_block_suffix else None
    model_end = len(meter_name)
    for index, (_word, offset) in enumerate(words):
        low = lowered[index]
        next_low = lowered[index + 1] if index + 1 < len(lowered) else ""
        is_suffix = has_block_suffix and index == len(words) - 2
        if low in _QUALIFIERS or is_suffix or (low == "data" and next_low == "zone"):
            model_end = offset
            break
    model = meter_name[:model_end].strip(" -_")
    direction_assumed = False
    if not is_token_meter:
        token_type = "other"
    elif present & CACHED_MARKERS:
        token_type = "cached_input"
    elif present & OUTPUT_MARKERS:
        token_type = "output"
    elif present & INPUT_MARKERS:
        token_type = "input"
    else:
        token_type = "input"
        direction_assumed = True
    if present & BATCH_MARKERS:
        tier = "batch"
    elif present & PRIORITY_MARKERS:
        tier = "priority"
    elif "provisioned" in present:
        tier = "provisioned"
    else:
        tier = "standard" if is_token_meter else ""
    if present & GLOBAL_MARKERS:
        deployment = "global"
    elif data_zone:
        deployment = "data_zone"
    elif present & REGIONAL_MARKERS:
        deployment = "regional"
    else:
        deployment = ""
    return MeterReading(
        token_type=token_type,
        model=model or meter_name.strip(),
        block=block,
        service_tier=tier,
        deployment=deployment,
        fine_tuned=bool(present & FINE_TUNED_MARKERS),
        direction_assumed=direction_assumed,
        training=bool(present & TRAINING_MARKERS),
    )


# --- units, dates and tags (units and tags are shared with the FOCUS parser) ---

_BLOCK_UNIT = re.compile(r"^(\d+)\s*([km])?$", re.IGNORECASE)


def block_size(unit: str | None) -> int | None:
    """The block size of an Azure unit of measure: ``1K`` -> 1000, ``1M`` -> 1e6, ``10K``, ``1000``; else None."""
    if unit is None:
        return None
    text = unit.strip()
    if text.lower().endswith("tokens"):
        text = text[: -len("tokens")].strip()
    match = _BLOCK_UNIT.match(text)
    return None if match is None else block_size_from(*match.groups())


def parse_tags(value: str | None) -> dict[str, str] | None:
    """Resource tags from a JSON object or Azure's brace-less fragment; keys trimmed. None when unreadable."""
    if is_null(value):
        return {}
    assert value is not None
    text = value.strip()
    if not text.startswith("{"):
        text = "{" + text + "}"
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {
        str(key).strip(): item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        for key, item in loaded.items()
    }


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_day(value: str | None, *, row: int, column: str, errors: list[RowError]) -> datetime | None:
    """The UTC start of an Azure usage day: ``MM/DD/YYYY``, ``M/D/YYYY``, ``YYYY-MM-DD`` or an ISO date-time."""
    expected = "expected MM/DD/YYYY, M/D/YYYY or YYYY-MM-DD"
    if is_null(value):
        errors.append(RowError(row=row, column=column, message=f"is empty; {expected}"))
        return None
    assert value is not None
    text = value.strip()
    try:
        us_date = _US_DATE.match(text)
        if us_date:
            day = date(int(us_date.group(3)), int(us_date.group(1)), int(us_date.group(2)))
        else:
            day = as_utc(datetime.fromisoformat(text)).date()
    except ValueError:
        errors.append(RowError(row=row, column=column, message=f"{value!r} is not a valid date; {expected}"))
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def first_present(columns: Iterable[str], candidates: tuple[str, ...]) -> str | None:
    present = set(columns)
    return next((name for name in candidates if name in present), None)


def format_version(names: dict[str, str], cost_column: str) -> str:
    """The agreement and schema of a header (normalized name -> name as written), localized headers noted."""
    columns = set(names)
    if cost_column == "pretaxcost":
        label = "pay-as-you-go (PreTaxCost)"
    elif columns & MCA_COLUMNS or names.get("metername") == "meterName":
        label = "MCA"
    elif cost_column == "cost":
        label = "EA, older schema (Cost, BillingCurrency)"
    elif columns & EA_2024_COLUMNS:
        label = "EA, schema 2024-08-01"
    else:
        label = "EA, schema 2023-12-01-preview or earlier"
    if any(normalize_header_name(raw) != raw.strip().lower() for raw in names.values()):
        label += ", localized headers"
    return label


def _provider(category: str, subcategory: str) -> str | None:
    """``azure_openai`` or ``azure_foundry`` for the rows that enter the ledger, None for every other row."""
    category_key = category.strip().lower()
    subcategory_key = subcategory.strip().lower()
    if category_key == "foundry models":
        return "azure_openai" if "openai" in subcategory_key else "azure_foundry"
    if category_key == "cognitive services" and "openai" in subcategory_key:
        return "azure_openai"
    return None


def parse(text: IO[str], stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield one record per Azure OpenAI / Foundry Models row; raise IngestError on any bad one."""
    errors: list[RowError] = []
    reader, names = read_rows(text, errors)
    cost_column = first_present(reader.header, COST_COLUMNS)
    currency_column = first_present(reader.header, CURRENCY_COLUMNS)
    date_column = first_present(reader.header, DATE_COLUMNS)
    header_errors = [
        RowError(row=1, message=f"the header has no {what} column; expected one of {', '.join(names)}")
        for found, what, names in (
            (cost_column, "cost", ("CostInBillingCurrency", "Cost", "PreTaxCost")),
            (currency_column, "currency", ("BillingCurrencyCode", "BillingCurrency", "Currency")),
            (date_column, "date", ("Date", "UsageDateTime")),
        )
        if found is None
    ]
    if header_errors:
        raise IngestError(header_errors)
    assert cost_column is not None and currency_column is not None and date_column is not None
    note_format_version(stats, format_version(names, cost_column))
    subscription_column = first_present(reader.header, SUBSCRIPTION_COLUMNS)
    resource_group_column = first_present(reader.header, RESOURCE_GROUP_COLUMNS)
    for row_number, row in counted_rows(reader, stats):
        provider = _provider(row.get("metercategory") or "", row.get("metersubcategory") or "")
        if provider is None:
            stats.skip(SKIP_NOT_AI)
            continue
        before = len(errors)
        meter_name = (row.get("metername") or "").strip()
        if not meter_name:
            errors.append(RowError(row=row_number, column="metername", message="is empty; expected a meter name"))
        reading = classify_meter(meter_name)
        start = parse_day(row.get(date_column), row=row_number, column=date_column, errors=errors)
        quantity = parse_decimal(
            row.get("quantity"), row=row_number, column="quantity", errors=errors, expected="a quantity"
        )
        cost = parse_money(
            row.get(cost_column),
            row=row_number,
            column=cost_column,
            errors=errors,
            expected="an amount",
            required=False,
        )
        currency = parse_currency(row.get(currency_column), row=row_number, column=currency_column, errors=errors)
        resource_tags = parse_tags(row.get("tags"))
        if resource_tags is None:
            errors.append(
                RowError(
                    row=row_number,
                    column="tags",
                    message=f'{row.get("tags")!r} is not a set of tags; expected JSON such as "env": "prod"',
                )
            )
        unit = (row.get("unitofmeasure") or "").strip()
        block = None
        if reading.token_type != "other":
            block = block_size(unit) or (reading.block if is_null(unit) else None)
            if block is None:
                errors.append(
                    RowError(
                        row=row_number,
                        column="unitofmeasure",
                        message=f"{unit!r} is not a token block size for the token meter {meter_name!r}; "
                        "expected 1K, 1M, 10K or a number",
                    )
                )
        counted: tuple[int, bool] | None = (0, False)
        if block is not None and quantity is not None:
            raw_quantity = (row.get("quantity") or "").strip()
            counted = tokens_from_blocks(
                quantity,
                block,
                shown=f"{raw_quantity!r} {unit}".rstrip(),
                row=row_number,
                column="quantity",
                errors=errors,
            )
        if len(errors) > before or start is None or quantity is None or currency is None or resource_tags is None:
            continue
        assert counted is not None
        tags = dict(resource_tags)
        tags.update(
            {
                "meter": meter_name,
                "meter_subcategory": (row.get("metersubcategory") or "").strip(),
                "raw_quantity": (row.get("quantity") or "").strip(),
                "raw_unit": unit,
            }
        )
        if reading.deployment:
            tags["deployment"] = reading.deployment
        if reading.fine_tuned:
            tags["fine_tuned"] = "true"
        if reading.training:
            tags["usage"] = "training"
        if reading.direction_assumed:
            tags["token_type_assumed"] = "true"
        charge_type = (row.get("chargetype") or "").strip()
        if charge_type and charge_type.lower() != "usage":
            tags["charge_type"] = charge_type
        resource_name = (row.get("resourcename") or "").strip()
        if resource_name:
            tags["resource_name"] = resource_name
        tokens, rounded = counted
        if rounded:
            tags["tokens_rounded"] = "true"
        yield CanonicalRecord(
            period_start=start,
            period_end=start + timedelta(days=1),
            provider=provider,
            model_raw=reading.model[:255],
            token_type=reading.token_type,
            quantity=tokens,
            source_row=row_number,
            unit="tokens" if block is not None else (unit[:32] or "units"),
            cost=cost,
            currency=currency,
            cost_basis=COST_BASIS if cost is not None else "unknown",
            project=(row.get(resource_group_column) or "").strip() if resource_group_column else "",
            account=(row.get(subscription_column) or "").strip() if subscription_column else "",
            region=(row.get("resourcelocation") or "").strip()[:64],
            service_tier=reading.service_tier,
            tags=tags,
        )
    if errors:
        raise IngestError(errors)
