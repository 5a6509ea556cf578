"""Writing an upload's records into the ledger: normalize, allocate, price, gather into lines, COPY.

Used inside the ingest transaction of ``ingest.services.upload_ingest``. The row path takes the
canonical records any parser yields; ``write_usage_batches`` takes the column batches of the OpenAI
usage export's fast path (``ingest.parsers.openai_columnar``) and writes the same lines.

Parsers refuse the cells the ledger's columns cannot hold; what they compute (a sum of counts, a cost plus its
credits) and the costs estimated here are checked where records become lines: a record beyond the columns is
an IngestError with its source row, never a database error half-way through the COPY.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from operator import attrgetter
from typing import TypeVar

import numpy as np
import pandas as pd
from django.db import connection

from finops.models import AllocationRule
from finops.selectors import PriceBook
from ingest.models import BILLED_COST_BASES, LEDGER_SLOTS, CostBasis, LedgerLine, Upload, slot_field
from ingest.normalize import normalize_model
from ingest.parsers import CanonicalRecord
from ingest.parsers.base import (
    LEDGER_COST_BOUND,
    MAX_ERRORS,
    MAX_LEDGER_COUNT,
    MIN_LEDGER_COUNT,
    IngestError,
    RowError,
    cost_out_of_range,
    count_out_of_range,
)
from ingest.parsers.openai_columnar import TOKEN_TYPES, NotColumnar, UsageLineBatch

T = TypeVar("T")
COPY_CHUNK_BYTES = 1024 * 1024
PRICE_CACHE_KEYS = 4096  # list prices per token kept by LedgerBuilder (an export is sorted by day)
PIPELINE_BATCHES = 2  # batches of the fast path waiting between two of its stages
BULK_CHUNK_ROWS = 5000
MONEY_QUANTUM = Decimal("0.0000000001")
# Room to round any estimate of a count the ledger holds (19 digits) times a price to 10 decimals, so that an
# estimate beyond the cost column is refused by the range check instead of failing in quantize().
ESTIMATE_CONTEXT = Context(prec=60)
# The fast path's costs are whole 1e-10 USD: the ledger's numeric(24, 10) takes fewer than 10^24 of them.
COST_UNITS_BOUND = 10**24
INT64_MAX = int(np.iinfo(np.int64).max)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the period of a stand-in record (streams only)


class Allocator:
    """Applies the organization's allocation rules to a record's dimensions."""

    def __init__(self, rules: list[AllocationRule]) -> None:
        self._rules = [(rule.dimension, rule.value, rule.team_id) for rule in rules]

    def team_id_for(self, record: CanonicalRecord, model: str) -> int | None:
        values: dict[str, str] = {
            AllocationRule.Dimension.PROJECT: record.project,
            AllocationRule.Dimension.WORKSPACE: record.workspace,
            AllocationRule.Dimension.API_KEY: record.api_key,
            AllocationRule.Dimension.ACCOUNT: record.account,
            AllocationRule.Dimension.MODEL: model,
        }
        return self.team_id_for_dimensions(values, record.tags)

    def team_id_for_dimensions(self, values: dict[str, str], tags: dict[str, str]) -> int | None:
        """The team of the first rule (in priority order) that matches these dimension values and tags."""
        for dimension, value, team_id in self._rules:
            if dimension == AllocationRule.Dimension.TAG:
                key, _, wanted = value.partition("=")
                if (tags or {}).get(key.strip()) == wanted.strip():
                    return team_id
            elif values.get(dimension) == value:
                return team_id
        return None


def model_for(aliases: dict[tuple[str, str], str], provider: str, model_raw: str) -> str:
    """An organization alias when one matches, else the built-in normalization."""
    return (
        aliases.get((provider, model_raw))
        or aliases.get(("", model_raw))
        or normalize_model(provider=provider, model_raw=model_raw)
    )


def list_price(
    book: PriceBook, provider: str, models: tuple[str, str], token_type: str, day: date, service_tier: str
) -> Decimal | None:
    """The price book's price (the organization's, at the service tier's rate) for the normalized model id,
    else for the id as exported."""
    for model in dict.fromkeys(models):
        price = book.usd_per_million(
            provider=provider, model=model, token_type=token_type, on=day, service_tier=service_tier
        )
        if price is not None:
            return price
    return None


def per_token(usd_per_million: Decimal) -> Decimal:
    """A price per million tokens as a price per token, exactly (a division by a power of ten only moves the
    decimal point), so that ``estimate`` gives the same cost as quantity x price / 1e6."""
    return usd_per_million / 1_000_000


def estimate(quantity: int, usd_per_token: Decimal) -> Decimal:
    """The list-price cost of ``quantity`` tokens, to the ledger's 10 decimals (half up, as PostgreSQL rounds)."""
    return (quantity * usd_per_token).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP, context=ESTIMATE_CONTEXT)


class Tally:
    """Running totals for the upload summary."""

    def __init__(self) -> None:
        self.records = 0
        self.tokens: dict[str, int] = {"input": 0, "output": 0, "cached_input": 0, "cache_write": 0}
        self.cost: dict[str, Decimal] = {}
        self.estimated_records = 0
        self.unpriced_records = 0
        self.days: set[date] = set()
        self.units: set[str] = set()
        # (provider, day) pairs this upload billed, and pairs it only estimated from list prices.
        self.billed_keys: set[tuple[str, date]] = set()
        self.estimated_keys: set[tuple[str, date]] = set()

    def date_range(self) -> tuple[str | None, str | None]:
        if not self.days:
            return None, None
        return min(self.days).isoformat(), max(self.days).isoformat()


# Ledger columns in the order the COPY writes them: the constant lineage first, then the columns a
# record shares with its siblings of the same source row (rendered once per distinct set and cached),
# then the columns of the record itself.
# The record fields that identify a stream (the same for every record of a source row and usually for
# every day of a project, key and model); with the model and tags and team they are the shared columns.
STREAM_COLUMNS = (
    "provider",
    "model_raw",
    "unit",
    "currency",
    "project",
    "workspace",
    "api_key",
    "account",
    "region",
    "service_tier",
)
_STREAM_FIELDS = attrgetter(*STREAM_COLUMNS)
SHARED_COLUMNS = ("model", *STREAM_COLUMNS, "tags", "team_id")
RECORD_COLUMNS = ("source_row", "date", "period_start", "period_end", "requests", "requests_slot")
SLOT_COLUMNS = tuple(
    slot_field(token_type, part) for token_type in LEDGER_SLOTS for part in ("quantity", "cost", "basis")
)
COPY_COLUMNS = ("organization_id", "upload_id", *SHARED_COLUMNS, *RECORD_COLUMNS, *SLOT_COLUMNS)
SLOT_NUMBERS = {token_type: number for number, token_type in enumerate(LEDGER_SLOTS)}
SLOT_COUNT = len(LEDGER_SLOTS)
COPY_NULL = "\\N"
EMPTY_SLOT = f"{COPY_NULL}\t{COPY_NULL}\t"  # no quantity, no cost, blank basis
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return COPY_NULL
    return str(value).translate(_COPY_ESCAPES)


@dataclass(frozen=True)
class _Shared:
    """What a record has in common with the other records of its stream: model, team, the COPY text."""

    model: str
    team_id: int | None
    stream: tuple[str, ...]  # the values of STREAM_COLUMNS
    tags: dict[str, str]
    copy_prefix: str


@dataclass(frozen=True)
class _Period:
    day: date
    start: datetime
    end: datetime
    copy_text: str  # date, period_start and period_end in COPY text format


class LedgerBuilder:
    """Normalizes, prices and allocates records; caches every derivation per distinct key.

    A million-row export has a few thousand distinct streams (provider, model, project, key, ...)
    and a few hundred days: the model id, team, list price and the rendered COPY text of each are
    derived once, not once per record. Touches no database (it runs while a COPY is open).
    """

    def __init__(
        self,
        *,
        upload: Upload,
        allocator: Allocator,
        prices: PriceBook,
        aliases: dict[tuple[str, str], str],
        tally: Tally,
    ) -> None:
        self._lineage = f"{upload.organization_id}\t{upload.pk}\t"
        self._allocator = allocator
        self._prices = prices
        self._aliases = aliases
        self._tally = tally
        self._models: dict[tuple[str, str], str] = {}
        self._shared: dict[tuple[object, ...], _Shared] = {}
        self._periods: dict[tuple[datetime, datetime], _Period] = {}
        # List price per token (None: not priced) by (provider, model_raw, token_type, service_tier, day).
        self._token_prices: dict[tuple[str, str, str, str, date], Decimal | None] = {}
        # The fast path's streams by (model_raw, service_tier, project, api_key, user_id), as written.
        self.usage_streams: dict[tuple[str, ...], _Shared] = {}

    def shared(self, record: CanonicalRecord) -> _Shared:
        stream = _STREAM_FIELDS(record)
        tags = record.tags
        key = (*stream, tuple(tags.items())) if tags else stream
        shared = self._shared.get(key)
        if shared is None:
            model_key = (record.provider, record.model_raw)
            model = self._models.get(model_key)
            if model is None:
                model = self._models[model_key] = model_for(self._aliases, record.provider, record.model_raw)
            team_id = self._allocator.team_id_for(record, model)
            values = (model, *stream, json.dumps(tags), team_id)
            prefix = self._lineage + "\t".join(_copy_text(value) for value in values) + "\t"
            shared = self._shared[key] = _Shared(
                model=model, team_id=team_id, stream=stream, tags=tags, copy_prefix=prefix
            )
            self._tally.units.add(record.unit)
        return shared

    @property
    def tally(self) -> Tally:
        return self._tally

    def period(self, record: CanonicalRecord) -> _Period:
        return self.period_of(record.period_start, record.period_end)

    def period_of(self, start: datetime, end: datetime) -> _Period:
        period = self._periods.get((start, end))
        if period is None:
            day = start.date()
            text = f"{day.isoformat()}\t{start.isoformat()}\t{end.isoformat()}"
            period = self._periods[start, end] = _Period(day=day, start=start, end=end, copy_text=text)
        return period

    def cost(self, record: CanonicalRecord, model: str, day: date) -> tuple[Decimal | None, str]:
        """The record's cost and basis: as billed, else estimated from the list price in force that day."""
        tally = self._tally
        token_type = record.token_type
        quantity = record.quantity
        cost, basis = record.cost, record.cost_basis
        if cost is None and token_type != "other":
            key = (record.provider, record.model_raw, token_type, record.service_tier, day)
            usd_per_token = self.token_price(key, model)
            if usd_per_token is None:
                tally.unpriced_records += 1
            else:
                tally.estimated_records += 1
                cost = estimate(quantity, usd_per_token)
                basis = CostBasis.ESTIMATED
        tally.records += 1
        tokens = tally.tokens
        if token_type in tokens:
            tokens[token_type] += quantity
        if cost is not None:
            costs, currency = tally.cost, record.currency
            # A first amount is Decimal(0) + cost, as before, not cost itself: the sum turns 1E+1 into 10.
            costs[currency] = costs[currency] + cost if currency in costs else Decimal(0) + cost
        tally.days.add(day)
        if basis in BILLED_COST_BASES:
            tally.billed_keys.add((record.provider, day))
        elif basis == CostBasis.ESTIMATED:
            tally.estimated_keys.add((record.provider, day))
        return cost, basis

    def token_price(self, key: tuple[str, str, str, str, date], model: str) -> Decimal | None:
        """The list price per token (looked up once per key) of (provider, model_raw, token_type,
        service_tier, day), of the normalized model id or the id as exported."""
        try:
            return self._token_prices[key]
        except KeyError:
            pass
        provider, model_raw, token_type, service_tier, day = key
        price = list_price(self._prices, provider, (model, model_raw), token_type, day, service_tier)
        if len(self._token_prices) >= PRICE_CACHE_KEYS:
            self._token_prices.clear()  # keyed by day: a long export would otherwise grow it without end
        usd_per_token = self._token_prices[key] = None if price is None else per_token(price)
        return usd_per_token


@dataclass
class _Line:
    """The records of one source row (same period, stream and model) gathered into one LedgerLine."""

    source_row: int
    shared: _Shared
    period: _Period
    # Per slot of LEDGER_SLOTS: (quantity, cost, basis), or None for a token type the row does not have.
    slots: list[tuple[int, Decimal | None, str] | None]
    requests: int | None = None
    requests_slot: int | None = None


def _range_errors(record: CanonicalRecord, cost: Decimal | None, basis: str) -> list[RowError]:
    """What of ``record`` (its quantity, requests and cost or estimated cost) the ledger's columns cannot hold."""
    found = []
    if (beyond := count_out_of_range(record.quantity, record.unit)) is not None:
        found.append(f"the {record.token_type} {record.unit} of the row, {record.quantity:,}, {beyond}")
    if record.requests is not None and (beyond := count_out_of_range(record.requests, "requests")) is not None:
        found.append(f"the requests of the row, {record.requests:,}, {beyond}")
    if cost is not None and (beyond := cost_out_of_range(cost)) is not None:
        estimated = " (estimated from the list price)" if basis == CostBasis.ESTIMATED else ""
        found.append(f"the {record.token_type} cost of the row, {cost:,} {record.currency}{estimated}, {beyond}")
    return [RowError(row=record.source_row, message=message) for message in found]


def _lines(records: Iterable[CanonicalRecord], builder: LedgerBuilder) -> Iterator[_Line]:
    """Gather consecutive records into ledger lines: a record joins the line before it when it comes from
    the same source row, period and stream, its token type's slot is still free and it does not bring a
    second request count; otherwise it starts a line of its own. Every record lands in exactly one slot.

    Once a record is beyond the ledger's columns (``_range_errors``) no more lines are made; the records that
    follow are still checked, and IngestError lists them all (after the parser's own errors when it raised)."""
    shared_of, period_of, cost_of = builder.shared, builder.period, builder.cost
    errors: list[RowError] = []
    line: _Line | None = None
    try:
        for record in records:
            quantity, requests = record.quantity, record.requests
            # Counts first: a count beyond bigint is not priced.
            if not MIN_LEDGER_COUNT <= quantity <= MAX_LEDGER_COUNT or (
                requests is not None and not MIN_LEDGER_COUNT <= requests <= MAX_LEDGER_COUNT
            ):
                errors.extend(_range_errors(record, None, ""))
            else:
                shared = shared_of(record)
                period = period_of(record)
                cost, basis = cost_of(record, shared.model, period.day)
                if cost is not None and not -LEDGER_COST_BOUND < cost < LEDGER_COST_BOUND:
                    errors.extend(_range_errors(record, cost, basis))
            if errors:
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            slot = SLOT_NUMBERS[record.token_type]
            if (
                line is None
                or line.source_row != record.source_row
                or line.shared is not shared
                or line.period is not period
                or line.slots[slot] is not None
                or (requests is not None and line.requests is not None)
            ):
                if line is not None:
                    yield line
                line = _Line(record.source_row, shared, period, [None] * SLOT_COUNT)
            line.slots[slot] = (quantity, cost, basis)
            if requests is not None:
                line.requests, line.requests_slot = requests, slot
    except IngestError as error:
        raise IngestError([*error.errors, *errors][:MAX_ERRORS]) from error
    if errors:
        raise IngestError(errors[:MAX_ERRORS])
    if line is not None:
        yield line


def _copy_line(line: _Line) -> str:
    """A line in PostgreSQL's COPY text format (the columns of COPY_COLUMNS)."""
    requests = line.requests
    slots = "\t".join(
        EMPTY_SLOT if slot is None else f"{slot[0]}\t{COPY_NULL if slot[1] is None else slot[1]}\t{slot[2]}"
        for slot in line.slots
    )
    return (
        f"{line.shared.copy_prefix}{line.source_row}\t{line.period.copy_text}\t"
        f"{COPY_NULL if requests is None else requests}\t{COPY_NULL if requests is None else line.requests_slot}\t"
        f"{slots}\n"
    )


def _copy_into_ledger(texts: Iterable[str]) -> None:
    """Send pre-rendered ledger lines (COPY text format, the columns of COPY_COLUMNS) with one COPY, in
    writes of at most COPY_CHUNK_BYTES."""
    table = LedgerLine._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
    ):
        for text in texts:
            for start in range(0, len(text), COPY_CHUNK_BYTES):
                copy.write(text[start : start + COPY_CHUNK_BYTES])


def _copy_chunks(records: Iterable[CanonicalRecord], builder: LedgerBuilder) -> Iterator[str]:
    """The records' lines as COPY text, joined into chunks of about COPY_CHUNK_BYTES."""
    texts: list[str] = []
    size = 0
    for line in _lines(records, builder):
        text = _copy_line(line)
        texts.append(text)
        size += len(text)
        if size >= COPY_CHUNK_BYTES:
            yield "".join(texts)
            texts.clear()
            size = 0
    if texts:
        yield "".join(texts)


def _write_bulk(records: Iterable[CanonicalRecord], builder: LedgerBuilder, upload: Upload) -> None:
    """Write the records with batched INSERTs (SQLite, the embedded demo database)."""
    batch: list[LedgerLine] = []
    for line in _lines(records, builder):
        ledger_line = LedgerLine(
            organization_id=upload.organization_id,
            upload_id=upload.pk,
            source_row=line.source_row,
            date=line.period.day,
            period_start=line.period.start,
            period_end=line.period.end,
            model=line.shared.model,
            tags=line.shared.tags,
            team_id=line.shared.team_id,
            requests=line.requests,
            requests_slot=line.requests_slot,
            **dict(zip(STREAM_COLUMNS, line.shared.stream, strict=True)),
        )
        for token_type, slot in zip(LEDGER_SLOTS, line.slots, strict=True):
            if slot is not None:
                quantity, cost, basis = slot
                setattr(ledger_line, slot_field(token_type, "quantity"), quantity)
                setattr(ledger_line, slot_field(token_type, "cost"), cost)
                setattr(ledger_line, slot_field(token_type, "basis"), basis)
        batch.append(ledger_line)
        if len(batch) >= BULK_CHUNK_ROWS:
            LedgerLine.objects.bulk_create(batch)
            batch.clear()
    if batch:
        LedgerLine.objects.bulk_create(batch)


def write_ledger(records: Iterable[CanonicalRecord], builder: LedgerBuilder, upload: Upload) -> None:
    """Write the records into the ledger inside the caller's transaction: COPY on PostgreSQL."""
    if connection.vendor == "postgresql":
        _copy_into_ledger(_copy_chunks(records, builder))
    else:
        _write_bulk(records, builder, upload)


# --- The fast path of the OpenAI usage export: column batches in, the same lines out -----------------------


def _cost_units(quantities: np.ndarray, units_per_token: list[Decimal | None], price_of: np.ndarray) -> np.ndarray:
    """Each quantity x its price per token, in 1e-10 USD rounded half up as ``estimate`` rounds, exactly.

    ``units_per_token`` holds, per distinct price key, the price per token in 1e-10 USD (None: no price;
    those rows get 0 and are left unpriced by the caller). Integer arithmetic throughout: int64 when the
    products fit, Python integers otherwise.
    """
    exponents = [0 if price is None else max(0, -int(price.as_tuple().exponent)) for price in units_per_token]
    scale = max(exponents, default=0)
    scaled = [0 if price is None else int(price.scaleb(scale)) for price in units_per_token]
    divisor = 10**scale
    fits = max(scaled, default=0) * max(int(quantities.max(initial=0)), 1) < 2**62
    prices = np.array(scaled, dtype=np.int64 if fits else object)[price_of]
    products = quantities * prices if fits else quantities.astype(object) * prices
    if scale == 0:
        return products
    return (products + divisor // 2) // divisor


def _exact_sum(values: np.ndarray) -> int:
    """The sum of non-negative integers (int64, or Python integers in an object array) as a Python int: numpy's
    int64 sum wraps past 2**63 without a word."""
    if values.dtype != object and len(values) and int(values.max()) > INT64_MAX // len(values):
        return sum(values.tolist())
    return int(values.sum())


def _combined(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct combinations of several code columns (non-negative ints, one per row), by hashing.

    Returns (each distinct combination's component codes, one row per combination, as a 2-D array; each
    row's combination number). Codes are combined pairwise and renumbered after each step, so the
    combined key never exceeds rows x distinct values and cannot overflow.
    """
    key = codes[0]
    for column in codes[1:]:
        renumbered, _ = pd.factorize(key)
        key = renumbered.astype(np.int64) * (int(column.max(initial=0)) + 1) + column
    combination, _ = pd.factorize(key)
    _, first_rows = np.unique(combination, return_index=True)
    return np.stack([column[first_rows] for column in codes], axis=1), combination.astype(np.int64)


def usage_batch_text(batch: UsageLineBatch, builder: LedgerBuilder) -> str:
    """A batch of the usage export's lines as COPY text, the same lines ``_copy_line`` renders for the
    records the row parser yields; counts every record in the builder's tally.

    NotColumnar when a cost estimated here is beyond the ledger's cost column: the row path then reads the file
    and refuses the row in its words (``_lines``). The quantities are int64, which bigint holds."""
    tally = builder.tally
    dimensions = (batch.model_raw, batch.service_tier, batch.project, batch.api_key, batch.user_id)
    streams, stream_of = _combined([column.codes for column in dimensions])
    moments = batch.moments
    periods, period_of = _combined([batch.start.codes, batch.end.codes])
    shared = []
    models: dict[int, str] = {}  # the normalized model id by model_raw code
    for model_code, tier_code, project_code, key_code, user_code in streams.tolist():
        names = (
            batch.model_raw.values[model_code],
            batch.service_tier.values[tier_code],
            batch.project.values[project_code],
            batch.api_key.values[key_code],
            batch.user_id.values[user_code],
        )
        stream = builder.usage_streams.get(names)
        if stream is None:
            model_raw, service_tier, project, api_key, user_id = names
            record = CanonicalRecord(
                period_start=_EPOCH,
                period_end=_EPOCH,
                provider="openai",
                model_raw=model_raw,
                token_type="input",
                quantity=0,
                source_row=0,
                project=project,
                api_key=api_key,
                service_tier=service_tier,
                tags={"user_id": user_id} if user_id else {},
            )
            stream = builder.usage_streams[names] = builder.shared(record)
        shared.append(stream)
        models[model_code] = stream.model
    period_list = [
        builder.period_of(moments[batch.start.values[start]], moments[batch.end.values[end]])
        for start, end in periods.tolist()
    ]
    # One price per distinct exported model, service tier and period, and token type.
    keys, key_of = _combined([batch.model_raw.codes, batch.service_tier.codes, period_of])
    quantities = batch.quantities
    present = {token_type: quantities[token_type] != 0 for token_type in TOKEN_TYPES}
    slot_texts: list[np.ndarray] = []
    estimated_periods: set[int] = set()
    for token_type in TOKEN_TYPES:
        prices: list[Decimal | None] = []
        for model_code, tier_code, period_index in keys.tolist():
            model_raw = batch.model_raw.values[model_code]
            usd_per_token = builder.token_price(
                ("openai", model_raw, token_type, batch.service_tier.values[tier_code], period_list[period_index].day),
                models[model_code],
            )
            prices.append(None if usd_per_token is None else usd_per_token.scaleb(10))
        quantity = quantities[token_type]
        mask = present[token_type]
        priced_keys = np.array([price is not None for price in prices], dtype=bool)
        priced = mask & priced_keys[key_of]
        units = _cost_units(np.where(priced, quantity, 0), prices, key_of)
        # Only products past int64 (Python integers) can reach the bound.
        if units.dtype == object and max(units.tolist(), default=0) >= COST_UNITS_BOUND:
            raise NotColumnar(f"an estimated {token_type} cost beyond the ledger's cost column")
        tally.tokens[token_type] += _exact_sum(quantity)
        estimated = int(priced.sum())
        tally.estimated_records += estimated
        tally.unpriced_records += int(mask.sum()) - estimated
        tally.records += int(mask.sum())
        if estimated:
            total = Decimal(_exact_sum(units)).scaleb(-10)
            tally.cost["USD"] = tally.cost["USD"] + total if "USD" in tally.cost else Decimal(0) + total
            estimated_periods.update(np.unique(period_of[priced]).tolist())
        slot_text = np.full(len(batch), EMPTY_SLOT, dtype=object)
        slot_text[priced] = [
            # The cost in 1e-10 USD with its exponent: PostgreSQL reads "112500E-10" as 0.0000112500.
            f"{q}\t{cost}E-10\testimated"
            for q, cost in zip(quantity[priced].tolist(), units[priced].tolist(), strict=True)
        ]
        unpriced = mask & ~priced
        slot_text[unpriced] = [f"{q}\t{COPY_NULL}\tunknown" for q in quantity[unpriced].tolist()]
        slot_texts.append(slot_text)
    any_record = np.zeros(len(batch), dtype=bool)
    for mask in present.values():
        any_record |= mask
    for index in np.unique(period_of[any_record]).tolist():
        tally.days.add(period_list[index].day)
    for index in estimated_periods:
        tally.estimated_keys.add(("openai", period_list[index].day))
    # requests belong to the first token type with a record (as the row parser yields them).
    requests_slot = np.argmax(np.stack([present[token_type] for token_type in TOKEN_TYPES]), axis=0)
    # Rows without any record (every count zero) write no line.
    prefixes = np.array([stream.copy_prefix for stream in shared], dtype=object)[stream_of[any_record]]
    period_texts = np.array([period.copy_text for period in period_list], dtype=object)[period_of[any_record]]
    texts = [
        f"{prefix}{row}\t{period_text}\t{requests}\t{slot}\t{input_}\t{output}\t{cached}\t{write}\t{EMPTY_SLOT}\n"
        for prefix, row, period_text, requests, slot, input_, output, cached, write in zip(
            prefixes.tolist(),
            batch.source_row[any_record].tolist(),
            period_texts.tolist(),
            batch.requests[any_record].tolist(),
            requests_slot[any_record].tolist(),
            *(slot[any_record].tolist() for slot in slot_texts),
            strict=True,
        )
    ]
    return "".join(texts)


def _in_thread(items: Iterable[T], *, name: str) -> Generator[T]:
    """Iterate ``items`` in a thread of its own, at most ``PIPELINE_BATCHES`` items ahead of the caller.

    Arrow's CSV reading and the socket writes of the COPY release the GIL, so reading, rendering and
    sending run side by side. An error in the thread is raised here; closing this iterator stops the thread.
    """
    handed: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=PIPELINE_BATCHES)
    stop = threading.Event()

    def hand_over(done: bool, item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put((done, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not hand_over(False, item):
                    break
            else:
                hand_over(True, None)
        except BaseException as error:  # handed to the caller, which raises it
            hand_over(True, error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            done, item = handed.get()
            if done:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def write_usage_batches(batches: Iterable[UsageLineBatch], builder: LedgerBuilder) -> None:
    """COPY the usage export's column batches into the ledger (PostgreSQL).

    Three stages run side by side, each a few batches ahead of the next: reading (Arrow), rendering the
    COPY text (Python) and sending it (this thread, waiting on PostgreSQL). Memory stays flat whatever
    the file's size.
    """
    texts = _in_thread(
        (usage_batch_text(batch, builder) for batch in _in_thread(batches, name="ingest-read")), name="ingest-render"
    )
    try:
        _copy_into_ledger(texts)
    finally:
        texts.close()
