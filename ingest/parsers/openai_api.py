"""OpenAI Usage API and Costs API responses saved as JSON (reference/export-formats.md section 4).

Accepted documents: one page ``{"object": "page", "data": [bucket, ...], "has_more": ..., "next_page": ...}``;
a bare list of buckets (the ``data`` array alone, as printed in the OpenAI cookbook); or a list of pages
(every page of one paginated request saved together). A bucket is ``{"object": "bucket", "start_time",
"end_time", "results": [...]}`` with bounds in Unix seconds. The real instants are kept: the first usage
bucket starts at the *requested* ``start_time`` (mid-day) and the last one ends at "now".

Results, by their ``object``:

- ``organization.usage.completions.result``: unpivoted with the token arithmetic of the dashboard usage
  export (``openai.py``): input = ``input_uncached_tokens`` when present and not null, else
  ``input_tokens - input_cached_tokens - input_cache_write_tokens``. Results of the older schema (no
  ``input_text_tokens`` key) counted text only in ``input_tokens``/``output_tokens``, so
  ``input_audio_tokens`` and ``output_audio_tokens`` are added on top (openapi.yaml of 2025-03-21:
  "text input tokens" / "text output tokens" / "audio ... tokens"). One record per non-zero token type;
  ``num_model_requests`` rides on the first one.
- ``organization.usage.embeddings.result``: ``input_tokens`` as input.
- any other ``organization.usage.*.result`` (moderations, images, audio, vector stores, code interpreter,
  ...): one ``other`` record with quantity 0 and the raw counts in tags (``usage_type`` names the endpoint).
- ``organization.costs.result``: the billed ``amount`` (a JSON number or string, kept as Decimal), currency
  upper-cased, ``line_item`` split as in the dashboard cost export (``openai_cost.split_line_item``). Cost
  records carry money only (quantity 0, unit ``usd``); a token quantity goes to ``tags["billed_tokens"]``
  so it is not counted twice with the usage records.

Grouping fields are null unless the request grouped by them: a null ``model`` gives ``model_raw`` "".

``stats.source_parts`` gets the kind of every result read (``completions``, ``embeddings``, ``images``, ...
for usage endpoints, ``costs`` for the Costs API), so a later download of one endpoint replaces only that
endpoint's rows; ``stats.format_version`` is "Usage API", "Costs API" or both.

``source_row`` of a record, and ``row`` of an error, is the 1-based ordinal of its result across the whole
document (every result of every bucket of every page, in order); messages also name the bucket ordinal, as
in ``result 7 (bucket 3): ...``. ``rows_read`` counts results; empty buckets are not results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ingest.parsers.base import (
    LATEST_EPOCH,
    MAX_ERRORS,
    CanonicalRecord,
    IngestError,
    ParseStats,
    RowError,
    cost_out_of_range,
    count_out_of_range,
    note_format_version,
)
from ingest.parsers.openai_cost import TAG_COLUMNS, TOKENS_PER_UNIT, LineItem, split_line_item

NAME = "openai_api"
LABEL = "OpenAI Usage/Costs API JSON"
KIND = "json"

PROVIDER = "openai"
USAGE_PREFIX = "organization.usage."
COMPLETIONS = "organization.usage.completions.result"
EMBEDDINGS = "organization.usage.embeddings.result"
COSTS = "organization.costs.result"
COSTS_PART = "costs"
USAGE_API = "Usage API"
COSTS_API = "Costs API"
# Fields that name the group of a usage result (ledger dimensions), not a measured amount.
GROUPING_FIELDS = frozenset({"object", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier"})
# What the main count of a non-token usage endpoint measures; the record keeps quantity 0 in this unit.
OTHER_UNITS = {
    "images": "images",
    "audio_speeches": "characters",
    "audio_transcriptions": "seconds",
    "vector_stores": "bytes",
    "code_interpreter_sessions": "sessions",
}


# JSON reading helpers (also used by anthropic_api) --------------------------------------------------------------


def shown(value: object) -> str:
    """A JSON value as a short text for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:80] + "...")
    return "an object" if isinstance(value, dict) else "a list"


def json_number(value: object) -> Decimal | None:
    """A JSON number or a decimal string as Decimal; None for anything else (booleans included)."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def bucket_error(bucket: int, column: str | None, message: str) -> RowError:
    return RowError(row=None, column=column, message=f"bucket {bucket}: {message}")


class ResultFields:
    """One result of an API response, read field by field; problems become result-numbered errors."""

    def __init__(self, fields: dict[str, object], *, ordinal: int, bucket: int, errors: list[RowError]) -> None:
        self.fields = fields
        self.ordinal = ordinal
        self.bucket = bucket
        self.errors = errors

    def fail(self, column: str | None, message: str) -> None:
        self.errors.append(
            RowError(
                row=self.ordinal, column=column, message=f"result {self.ordinal} (bucket {self.bucket}): {message}"
            )
        )

    def get(self, path: str) -> object:
        """The value at ``path`` (``a.b`` reads into a nested object); None when absent or null."""
        value: object = self.fields
        walked: list[str] = []
        for part in path.split("."):
            if value is None:
                return None
            if not isinstance(value, dict):
                self.fail(".".join(walked), f"is {shown(value)}; expected an object with {part!r}")
                return None
            value = value.get(part)
            walked.append(part)
        return value

    def count(self, path: str, *, unit: str = "tokens") -> int:
        """A whole non-negative count (``31422`` or ``31422.0``) the ledger can hold; 0 when absent or null."""
        value = self.get(path)
        if value is None:
            return 0
        number = json_number(value)
        if number is None or not number.is_finite() or number < 0 or number != number.to_integral_value():
            self.fail(path, f"{shown(value)} is not a whole non-negative count")
            return 0
        # Checked before int(): the database would refuse the number, and int() of "1e999999999" would not finish.
        if (beyond := count_out_of_range(number, unit)) is not None:
            self.fail(path, f"{shown(value)} {beyond}")
            return 0
        return int(number)

    def decimal(self, path: str, *, what: str) -> Decimal | None:
        """A finite number given as a JSON number or a decimal string; None (and an error) otherwise."""
        value = self.get(path)
        number = json_number(value)
        if number is None or not number.is_finite():
            self.fail(path, f"{shown(value)} is not a number; expected {what}")
            return None
        return number

    def money(self, path: str, *, what: str) -> Decimal | None:
        """``decimal``, refused (None and an error) beyond what the ledger's cost columns hold."""
        number = self.decimal(path, what=what)
        if number is not None and (beyond := cost_out_of_range(number)) is not None:
            self.fail(path, f"{shown(self.get(path))} {beyond}")
            return None
        return number

    def text(self, path: str) -> str:
        """A scalar as trimmed text; "" when absent or null."""
        value = self.get(path)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | Decimal):
            return str(value).strip()
        self.fail(path, f"is {shown(value)}; expected a text value")
        return ""

    def currency(self, path: str) -> str:
        """An ISO-4217 code, upper-cased; "" (and an error) when missing or malformed."""
        code = self.text(path).upper()
        if not (len(code) == 3 and code.isascii() and code.isalpha()):
            self.fail(path, f"{shown(self.get(path))} is not a currency code; expected three letters such as usd")
            return ""
        return code


# The document -----------------------------------------------------------------------------------------------


def buckets_of(document: object, *, is_page: Callable[[dict[str, Any]], bool]) -> list[object] | None:
    """The buckets of a page, a list of pages or a bare list of buckets, in order; None for other shapes.

    ``is_page`` tells a page from a bucket in the provider's shape (both are JSON objects).
    """
    if isinstance(document, dict):
        data = document.get("data")
        return list(data) if is_page(document) and isinstance(data, list) else None
    if not isinstance(document, list):
        return None
    if document and all(isinstance(page, dict) and is_page(page) for page in document):
        buckets: list[object] = []
        for page in document:
            data = page.get("data")
            if not isinstance(data, list):
                return None
            buckets.extend(data)
        return buckets
    return list(document)


def _is_page(document: dict[str, Any]) -> bool:
    return document.get("object") == "page"


def _buckets(document: object) -> list[object] | None:
    return buckets_of(document, is_page=_is_page)


def _known_result(kind: object) -> bool:
    return isinstance(kind, str) and (kind == COSTS or kind.startswith(USAGE_PREFIX))


def matches(document: object) -> bool:
    """True for Usage/Costs API buckets: ``object`` "bucket" with known result objects (empty results allowed)."""
    buckets = _buckets(document)
    if not buckets:
        return False
    dated = False
    for bucket in buckets:
        if not isinstance(bucket, dict) or bucket.get("object") != "bucket":
            return False
        dated = dated or ("start_time" in bucket and "end_time" in bucket)
        results = bucket.get("results")
        if isinstance(results, list) and any(
            isinstance(result, dict) and not _known_result(result.get("object")) for result in results
        ):
            return False
    return dated


def _epoch(value: object, bucket: int, column: str, errors: list[RowError]) -> datetime | None:
    if not isinstance(value, int | Decimal) or isinstance(value, bool) or not Decimal(value).is_finite():
        errors.append(bucket_error(bucket, column, f"{shown(value)} is not a Unix time in seconds"))
        return None
    if not 0 <= value < LATEST_EPOCH:
        errors.append(bucket_error(bucket, column, f"{shown(value)} is not a plausible date (Unix seconds)"))
        return None
    return datetime.fromtimestamp(value if isinstance(value, int) else float(value), tz=UTC)


def parse_document(document: object, stats: ParseStats) -> Iterator[CanonicalRecord]:
    """Yield the records of every result; raise IngestError (result-numbered) when any result is bad."""
    buckets = _buckets(document)
    if buckets is None:
        raise IngestError(
            [
                RowError(
                    row=None,
                    message='not an OpenAI Usage/Costs API response; expected a page {"object": "page", '
                    '"data": [...]}, a list of buckets or a list of pages',
                )
            ]
        )
    yield from walk_buckets(
        buckets,
        stats,
        is_bucket=lambda bucket: isinstance(bucket, dict) and bucket.get("object") == "bucket",
        bucket_expected='{"object": "bucket", ...}',
        bounds=("start_time", "end_time"),
        instant=_epoch,
        records=lambda fields, start, end: _records(fields, start, end, stats),
    )


# Reads a bucket bound: (value, bucket ordinal, field name, errors) -> UTC instant, or None after an error.
Instant = Callable[[object, int, str, list[RowError]], datetime | None]


def _bucket_period(
    bucket: dict[str, object], number: int, errors: list[RowError], *, bounds: tuple[str, str], instant: Instant
) -> tuple[datetime, datetime] | None:
    start_field, end_field = bounds
    start = instant(bucket.get(start_field), number, start_field, errors)
    end = instant(bucket.get(end_field), number, end_field, errors)
    if start is None or end is None:
        return None
    if end <= start:
        errors.append(
            bucket_error(number, end_field, f"ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        )
        return None
    return start, end


def walk_buckets(
    buckets: list[object],
    stats: ParseStats,
    *,
    is_bucket: Callable[[object], bool],
    bucket_expected: str,
    bounds: tuple[str, str],
    instant: Instant,
    records: Callable[[ResultFields, datetime, datetime], Iterable[CanonicalRecord]],
) -> Iterator[CanonicalRecord]:
    """Walk an API report's buckets and results, numbering results across the document.

    Shared by the OpenAI and Anthropic API parsers: ``is_bucket`` tells a bucket in the provider's shape,
    ``bounds`` names its start and end fields and ``instant`` reads them; ``records`` turns one result into
    records (reporting problems on ``fields``). A result's records are kept only when it added no error;
    IngestError at the end lists them all.
    """
    errors: list[RowError] = []
    ordinal = 0
    for number, bucket in enumerate(buckets, start=1):
        if len(errors) >= MAX_ERRORS:
            break
        if not is_bucket(bucket):
            errors.append(bucket_error(number, None, f"is {shown(bucket)}; expected {bucket_expected}"))
            continue
        assert isinstance(bucket, dict)
        results = bucket.get("results")
        if not isinstance(results, list):
            errors.append(bucket_error(number, "results", f"is {shown(results)}; expected a list of results"))
            continue
        bucket_period = _bucket_period(bucket, number, errors, bounds=bounds, instant=instant)
        if bucket_period is None:
            # The bucket's error is reported once; its results keep their ordinals.
            ordinal += len(results)
            stats.rows_read += len(results)
            continue
        for result in results:
            ordinal += 1
            stats.rows_read += 1
            if len(errors) >= MAX_ERRORS:
                break
            fields = ResultFields(
                result if isinstance(result, dict) else {}, ordinal=ordinal, bucket=number, errors=errors
            )
            if not isinstance(result, dict):
                fields.fail(None, f"is {shown(result)}; expected a result object")
                continue
            before = len(errors)
            made = list(records(fields, *bucket_period))
            if len(errors) == before:
                yield from made
    if errors:
        raise IngestError(errors[:MAX_ERRORS])


def _records(fields: ResultFields, start: datetime, end: datetime, stats: ParseStats) -> Iterator[CanonicalRecord]:
    kind = fields.get("object")
    if not isinstance(kind, str) or not _known_result(kind):
        fields.fail(
            "object",
            f"{shown(kind)} is not a known result; expected organization.usage.<endpoint>.result "
            "or organization.costs.result",
        )
        return
    # The endpoint the result came from: ``completions`` for organization.usage.completions.result.
    part = COSTS_PART if kind == COSTS else kind.removeprefix(USAGE_PREFIX).removesuffix(".result")
    stats.source_parts.add(part)
    note_format_version(stats, COSTS_API if kind == COSTS else USAGE_API)
    if kind == COSTS:
        yield from _cost_records(fields, start, end)
    elif kind == COMPLETIONS:
        yield from _completions_records(fields, start, end, stats)
    elif kind == EMBEDDINGS:
        yield from _embeddings_records(fields, start, end, stats)
    else:
        yield _other_usage_record(fields, start, end, part)


def _usage_record(
    fields: ResultFields,
    start: datetime,
    end: datetime,
    token_type: str,
    quantity: int,
    *,
    requests: int | None,
    unit: str = "tokens",
    tags: dict[str, str] | None = None,
) -> CanonicalRecord:
    """A usage record with the result's grouping fields as dimensions (null grouping fields give "")."""
    tier = "batch" if fields.text("batch").lower() == "true" else fields.text("service_tier")
    user_id = fields.text("user_id")
    return CanonicalRecord(
        period_start=start,
        period_end=end,
        provider=PROVIDER,
        model_raw=fields.text("model"),
        token_type=token_type,
        quantity=quantity,
        source_row=fields.ordinal,
        unit=unit,
        requests=requests,
        project=fields.text("project_id"),
        api_key=fields.text("api_key_id"),
        service_tier=tier,
        tags={**({"user_id": user_id} if user_id else {}), **(tags or {})},
    )


def _completions_records(
    fields: ResultFields, start: datetime, end: datetime, stats: ParseStats
) -> Iterator[CanonicalRecord]:
    input_all = fields.count("input_tokens")
    cached = fields.count("input_cached_tokens")
    cache_write = fields.count("input_cache_write_tokens")
    output = fields.count("output_tokens")
    requests = fields.count("num_model_requests", unit="requests")
    # Older schema (no input_text_tokens key): input_tokens and output_tokens were text only, audio came on top.
    older_schema = "input_text_tokens" not in fields.fields
    if older_schema:
        output += fields.count("output_audio_tokens")
    if fields.get("input_uncached_tokens") is not None:
        uncached = fields.count("input_uncached_tokens")
    else:
        uncached = input_all - cached - cache_write
        if older_schema:
            uncached += fields.count("input_audio_tokens")
        if uncached < 0:
            fields.fail(
                "input_tokens",
                f"input_tokens ({input_all}) is smaller than cached ({cached}) plus cache-write ({cache_write}) "
                "tokens; expected input_tokens to include both",
            )
            return
    lines = (("input", uncached), ("output", output), ("cached_input", cached), ("cache_write", cache_write))
    if not any(quantity for _, quantity in lines):
        stats.skip("result with no tokens (every count is zero)")
        return
    first = True
    for token_type, quantity in lines:
        if quantity:
            # Requests are counted once per result, on its first token line.
            yield _usage_record(fields, start, end, token_type, quantity, requests=requests if first else None)
            first = False


def _embeddings_records(
    fields: ResultFields, start: datetime, end: datetime, stats: ParseStats
) -> Iterator[CanonicalRecord]:
    tokens = fields.count("input_tokens")
    requests = fields.count("num_model_requests", unit="requests")
    if not tokens:
        stats.skip("result with no tokens (every count is zero)")
        return
    yield _usage_record(fields, start, end, "input", tokens, requests=requests, tags={"usage_type": "embeddings"})


def _other_usage_record(fields: ResultFields, start: datetime, end: datetime, usage_type: str) -> CanonicalRecord:
    """Images, audio, moderations, vector stores, ...: not tokens, so quantity 0 and the raw counts as tags."""
    tags = {"usage_type": usage_type}
    for name, value in sorted(fields.fields.items()):
        if name not in GROUPING_FIELDS and value is not None and not isinstance(value, dict | list):
            tags[name] = fields.text(name)
    requests = (
        fields.count("num_model_requests", unit="requests") if fields.get("num_model_requests") is not None else None
    )
    return _usage_record(
        fields, start, end, "other", 0, requests=requests, unit=OTHER_UNITS.get(usage_type, "units"), tags=tags
    )


def _cost_records(fields: ResultFields, start: datetime, end: datetime) -> Iterator[CanonicalRecord]:
    amount = fields.money("amount.value", what="an amount")
    currency = fields.currency("amount.currency")
    line_item = fields.text("line_item")
    item = split_line_item(line_item) if line_item else LineItem("", "", "other")
    tags = {column: value for column in TAG_COLUMNS if (value := fields.text(column))}
    if line_item:
        tags["line_item"] = line_item
    if item.product:
        tags["product"] = item.product
    quantity, unit = fields.text("quantity"), fields.text("quantity_unit").lower()
    if quantity and unit in TOKENS_PER_UNIT:
        billed = fields.decimal("quantity", what="a quantity")
        # A quantity already beyond the ledger is not multiplied: "1e999999999" x 1000 would overflow Decimal.
        if billed is not None and (beyond := count_out_of_range(billed)) is not None:
            fields.fail("quantity", f"{quantity} {unit} {beyond}")
        elif billed is not None:
            tokens = billed * TOKENS_PER_UNIT[unit]
            if tokens < 0 or tokens != tokens.to_integral_value():
                fields.fail("quantity", f"{quantity} {unit} is not a whole non-negative token count")
            elif (beyond := count_out_of_range(tokens)) is not None:
                fields.fail("quantity", f"{quantity} {unit} {beyond}")
            else:
                # The usage results carry the same tokens: the cost record holds money only.
                tags["billed_tokens"] = str(int(tokens))
    elif quantity:
        tags["quantity"] = quantity
        tags["quantity_unit"] = fields.text("quantity_unit")
    if amount is None or not currency:
        return
    yield CanonicalRecord(
        period_start=start,
        period_end=end,
        provider=PROVIDER,
        model_raw=item.model_raw,
        token_type=item.token_type,
        quantity=0,
        source_row=fields.ordinal,
        unit="usd",
        cost=amount,
        currency=currency,
        cost_basis="billed",
        project=fields.text("project_id"),
        api_key=fields.text("api_key_id"),
        account=fields.text("organization_id"),
        tags=tags,
    )
