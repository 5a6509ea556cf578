"""Anthropic Admin API usage and cost reports saved as JSON (reference/export-formats.md section 7).

Accepted documents: one page ``{"data": [bucket, ...], "has_more": ..., "next_page": ...}``, a list of such
pages, or a bare list of buckets. A bucket is ``{"starting_at", "ending_at", "results": [...]}`` with RFC 3339
times (``2025-08-01T00:00:00Z``); the real instants are kept (1m, 1h or 1d buckets).

- Usage results (``GET /v1/organizations/usage_report/messages``, they have ``uncached_input_tokens``) are
  unpivoted like the Console token export: input <- ``uncached_input_tokens``; cache_write <-
  ``cache_creation.ephemeral_5m_input_tokens`` + ``ephemeral_1h_input_tokens`` (the TTL split rides along as
  ``cache_write_5m``/``cache_write_1h`` tags, the two are priced differently); cached_input <-
  ``cache_read_input_tokens``; output <- ``output_tokens``; other <- ``server_tool_use.web_search_requests``
  (unit ``requests``). One record per non-zero count; results with every count zero are skipped.
- Cost results (``GET /v1/organizations/cost_report``, they have ``amount`` and ``currency``): ``amount`` is a
  decimal string in the currency's *minor* units (cents), so ``"123.45"`` is 1.2345 USD. The report carries
  money only: quantity 0 in unit ``usd``, cost basis ``billed``. ``token_type`` gives the canonical type
  (``cache_creation.*`` -> cache_write, TTL in ``cache_ttl``); non-token cost types (web_search,
  code_execution, session_usage) and ungrouped results are ``other``. ``model_raw`` is ``model``, else
  ``description`` (``Web Search Usage``).

Dimensions: workspace <- ``workspace_id`` (null is the default workspace, or not grouped: ""), api_key <-
``api_key_id``, service_tier, region <- ``inference_geo`` (``not_available`` dropped); ``context_window``,
``speed``, ``account_id`` and ``service_account_id`` go to tags. ``model`` null (not grouped) gives "".

``stats.source_parts`` gets ``usage_report`` and/or ``cost_report`` (the endpoints whose results the document
holds) and ``stats.format_version`` says "Usage report", "Cost report" or both.

``source_row`` of a record, and ``row`` of an error, is the 1-based ordinal of its result across the whole
document (every result of every bucket of every page, in order); messages also name the bucket ordinal, as in
``result 7 (bucket 3): ...``. ``rows_read`` counts results; empty buckets are not results.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from ingest.parsers.anthropic import PROVIDER, region_from_geo
from ingest.parsers.base import (
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    as_utc,
    cost_out_of_range,
    note_format_version,
)
from ingest.parsers.openai_api import ResultFields, bucket_error, buckets_of, shown, walk_buckets

NAME = "anthropic_api"
LABEL = "Anthropic Admin API usage/cost report JSON"
KIND = "json"

CACHE_CREATION_PREFIX = "cache_creation."
# Cost report token_type -> canonical token type; cache_creation.* is handled by prefix (TTL from the name).
COST_TOKEN_TYPES = {
    "uncached_input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cached_input",
}
TOKEN_COST_TYPES = frozenset({"tokens", "token"})
USAGE_TAG_FIELDS = ("context_window", "speed", "account_id", "service_account_id")
COST_TAG_FIELDS = ("context_window", "cost_type", "description", "speed")
TIME_EXPECTED = "expected an RFC 3339 time such as 2025-08-01T00:00:00Z"
USAGE_PART = "usage_report"
COST_PART = "cost_report"
USAGE_REPORT = "Usage report"
COST_REPORT = "Cost report"


def _is_page(document: dict[str, Any]) -> bool:
    return "data" in document


def _buckets(document: object) -> list[object] | None:
    return buckets_of(document, is_page=_is_page)


def _is_usage(result: dict[str, object]) -> bool:
    return "uncached_input_tokens" in result


def _is_cost(result: dict[str, object]) -> bool:
    return "amount" in result and "currency" in result


def matches(document: object) -> bool:
    """True for report buckets (``starting_at``, ``ending_at``, ``results``) whose results are usage or cost items."""
    buckets = _buckets(document)
    if not buckets:
        return False
    for bucket in buckets:
        if not isinstance(bucket, dict) or "starting_at" not in bucket or "ending_at" not in bucket:
            return False
        if "results" not in bucket:
            return False
        results = bucket["results"]
        if isinstance(results, list) and any(
            isinstance(result, dict) and not (_is_usage(result) or _is_cost(result)) for result in results
        ):
            return False
    return True


def _instant(value: object, bucket: int, column: str, errors: list[RowError]) -> datetime | None:
    if not isinstance(value, str):
        errors.append(bucket_error(bucket, column, f"is {shown(value)}; {TIME_EXPECTED}"))
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        errors.append(bucket_error(bucket, column, f"{shown(value)} is not a time; {TIME_EXPECTED}"))
        return None


def cents_to_major(amount: Decimal) -> Decimal:
    """An amount in minor units (cents) as major units, exactly: ``123.45`` -> ``1.2345`` (no rounding)."""
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite amounts only
    return Decimal((sign, digits, exponent - 2))


def parse_document(document: object, stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield the records of every result; raise IngestError (result-numbered) when any result is bad."""
    buckets = _buckets(document)
    if buckets is None:
        raise IngestError(
            [
                RowError(
                    row=None,
                    message='not an Anthropic Admin API report; expected a page {"data": [...], "has_more": ...}, '
                    "a list of pages or a list of buckets",
                )
            ]
        )
    yield from walk_buckets(
        buckets,
        stats,
        is_bucket=lambda bucket: isinstance(bucket, dict),
        bucket_expected="a bucket with starting_at, ending_at",
        bounds=("starting_at", "ending_at"),
        instant=_instant,
        records=lambda fields, start, end: _result_records(fields, start, end, stats),
    )


def _result_records(
    fields: ResultFields, start: datetime, end: datetime, stats: ParseStats
) -> Iterator[CanonicalRecord]:
    result = fields.fields
    if _is_usage(result):
        stats.source_parts.add(USAGE_PART)
        note_format_version(stats, USAGE_REPORT)
        yield from _usage_records(fields, start, end, stats)
    elif _is_cost(result):
        stats.source_parts.add(COST_PART)
        note_format_version(stats, COST_REPORT)
        yield from _cost_records(fields, start, end)
    else:
        fields.fail(None, "is neither a usage item (no uncached_input_tokens) nor a cost item (no amount and currency)")


def _usage_records(
    fields: ResultFields, start: datetime, end: datetime, stats: ParseStats
) -> Iterator[CanonicalRecord]:
    uncached = fields.count("uncached_input_tokens")
    write_5m = fields.count("cache_creation.ephemeral_5m_input_tokens")
    write_1h = fields.count("cache_creation.ephemeral_1h_input_tokens")
    cached = fields.count("cache_read_input_tokens")
    output = fields.count("output_tokens")
    web_searches = fields.count("server_tool_use.web_search_requests", unit="requests")
    ttl_tags = {
        name: str(count) for name, count in (("cache_write_5m", write_5m), ("cache_write_1h", write_1h)) if count
    }
    lines: tuple[tuple[str, int, str, dict[str, str]], ...] = (
        ("input", uncached, "tokens", {}),
        ("output", output, "tokens", {}),
        ("cached_input", cached, "tokens", {}),
        ("cache_write", write_5m + write_1h, "tokens", ttl_tags),
        ("other", web_searches, "requests", {"kind": "web_search"}),
    )
    if not any(quantity for _, quantity, _, _ in lines):
        stats.skip("result with no usage (every count is zero)")
        return
    row_tags = {name: value for name in USAGE_TAG_FIELDS if (value := fields.text(name))}
    for token_type, quantity, unit, extra_tags in lines:
        if quantity:
            yield CanonicalRecord(
                period_start=start,
                period_end=end,
                provider=PROVIDER,
                model_raw=fields.text("model"),
                token_type=token_type,
                quantity=quantity,
                source_row=fields.ordinal,
                unit=unit,
                workspace=fields.text("workspace_id"),
                api_key=fields.text("api_key_id"),
                region=region_from_geo(fields.text("inference_geo")),
                service_tier=fields.text("service_tier"),
                tags={**row_tags, **extra_tags},
            )


def _cost_token_type(fields: ResultFields) -> tuple[str, str]:
    """Canonical token type and cache TTL of a cost item; ``other`` for non-token costs and ungrouped items."""
    cost_type = fields.text("cost_type").lower()
    raw = fields.text("token_type")
    if (cost_type and cost_type not in TOKEN_COST_TYPES) or not raw:
        return "other", ""
    if raw in COST_TOKEN_TYPES:
        return COST_TOKEN_TYPES[raw], ""
    if raw.startswith(CACHE_CREATION_PREFIX):
        ttl = "5m" if "5m" in raw else "1h" if "1h" in raw else ""
        return "cache_write", ttl
    fields.fail(
        "token_type",
        f"{raw!r} is not a known token type; expected one of {', '.join(COST_TOKEN_TYPES)} or cache_creation.*",
    )
    return "other", ""


def _cost_records(fields: ResultFields, start: datetime, end: datetime) -> Iterator[CanonicalRecord]:
    amount = fields.decimal("amount", what="an amount in cents as a decimal string such as '123.45'")
    # The ledger holds the amount in whole units (dollars): the limit applies to it, not to the cents.
    if amount is not None and (beyond := cost_out_of_range(cents_to_major(amount))) is not None:
        fields.fail("amount", f"{shown(fields.get('amount'))} (in cents: {cents_to_major(amount):,}) {beyond}")
        amount = None
    currency = fields.currency("currency")
    token_type, ttl = _cost_token_type(fields)
    if amount is None or not currency:
        return
    tags = {name: value for name in COST_TAG_FIELDS if (value := fields.text(name))}
    if ttl:
        tags["cache_ttl"] = ttl
    yield CanonicalRecord(
        period_start=start,
        period_end=end,
        provider=PROVIDER,
        model_raw=fields.text("model") or fields.text("description"),
        token_type=token_type,
        quantity=0,
        source_row=fields.ordinal,
        unit="usd",
        cost=cents_to_major(amount),
        currency=currency,
        cost_basis="billed",
        workspace=fields.text("workspace_id"),
        api_key=fields.text("api_key_id"),
        region=region_from_geo(fields.text("inference_geo")),
        service_tier=fields.text("service_tier"),
        tags=tags,
    )
