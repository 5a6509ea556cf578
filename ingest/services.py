"""Writes of the ingest app: receive an upload, ingest it into the ledger in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Value
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.models import AllocationRule, Organization, TokenType
from finops.selectors import PriceBook, allocation_rules_for, model_aliases_for, price_book
from ingest.models import BILLED_COST_BASES, LEDGER_SLOTS, CostBasis, LedgerEntry, LedgerLine, Upload, slot_field
from ingest.normalize import normalize_model
from ingest.parsers import CanonicalRecord, IngestError, ParseStats, RowError, detect_format, parse_export
from ingest.signals import upload_succeeded

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024
BULK_CHUNK_ROWS = 5000
MONEY_QUANTUM = Decimal("0.0000000001")
ACTIVE_STATUSES = (Upload.Status.QUEUED, Upload.Status.RUNNING, Upload.Status.SUCCEEDED)


def _store_stream(source: IO[bytes], filename: str) -> tuple[Path, str, int]:
    """Copy the incoming bytes under MEDIA_ROOT while hashing; enforce the size limit."""
    relative = Path("uploads") / timezone.now().strftime("%Y/%m") / f"{uuid.uuid4().hex}_{get_valid_filename(filename)}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    limit = settings.UPLOAD_MAX_BYTES
    try:
        with target.open("wb") as out:
            while chunk := source.read(COPY_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise IngestError(
                        [RowError(row=None, message=f"the file is over the size limit of {limit:,} bytes")]
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return relative, digest.hexdigest(), size


def upload_create(
    *,
    organization: Organization,
    source: IO[bytes],
    filename: str,
    user: User | AnonymousUser | None = None,
    format_name: str | None = None,
) -> Upload:
    """Receive a file: keep it, check it is a known export, and queue its ingest.

    Raises IngestError (nothing kept) when the file is empty, binary, too large or of no known
    format. The same bytes uploaded again give an Upload with status ``duplicate`` and change nothing.
    """
    relative, sha256, size = _store_stream(source, filename)
    absolute = Path(settings.MEDIA_ROOT) / relative
    try:
        module = detect_format(absolute, format_name, max_expanded_bytes=settings.UPLOAD_MAX_EXPANDED_BYTES)
    except IngestError:
        absolute.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        original = (
            Upload.objects.select_for_update()
            .filter(organization=organization, sha256=sha256, status__in=ACTIVE_STATUSES)
            .order_by("id")
            .first()
        )
        upload = Upload(
            organization=organization,
            original_name=filename,
            sha256=sha256,
            size_bytes=size,
            format=module.NAME,
            created_by=user if isinstance(user, User) else None,
        )
        upload.file.name = str(relative)
        if original is not None:
            upload.status = Upload.Status.DUPLICATE
            upload.duplicate_of = original
            upload.finished_at = timezone.now()
            upload.summary = {"duplicate_of": original.pk, "records": 0, "note": "same bytes already loaded"}
            upload.save()
            absolute.unlink(missing_ok=True)
            upload.file.name = original.file.name
            upload.save(update_fields=["file"])
            return upload
        upload.summary = {"format_override": format_name} if format_name else {}
        upload.save()
        transaction.on_commit(lambda: _enqueue_ingest(upload.pk))
    return upload


def _enqueue_ingest(upload_id: int) -> None:
    from ingest.tasks import ingest_upload

    ingest_upload.delay(upload_id)


class _Allocator:
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
        for dimension, value, team_id in self._rules:
            if dimension == AllocationRule.Dimension.TAG:
                key, _, wanted = value.partition("=")
                if record.tags.get(key.strip()) == wanted.strip():
                    return team_id
            elif values.get(dimension) == value:
                return team_id
        return None


def _model_for(aliases: dict[tuple[str, str], str], provider: str, model_raw: str) -> str:
    """An organization alias when one matches, else the built-in normalization."""
    return (
        aliases.get((provider, model_raw))
        or aliases.get(("", model_raw))
        or normalize_model(provider=provider, model_raw=model_raw)
    )


def ledger_reallocate(*, organization: Organization) -> int:
    """Apply the organization's current allocation rules to all its ledger lines; returns records allocated.

    Rules apply in priority order and the first match wins, as at ingest.
    """
    with transaction.atomic():
        lines = LedgerLine.objects.filter(organization=organization)
        lines.exclude(team=None).update(team=None)
        for rule in allocation_rules_for(organization=organization):
            if rule.dimension == AllocationRule.Dimension.TAG:
                key, _, wanted = rule.value.partition("=")
                matching = lines.filter(**{f"tags__{key.strip()}": wanted.strip()})
            else:
                matching = lines.filter(**{rule.dimension: rule.value})
            matching.filter(team=None).update(team=rule.team)
        return LedgerEntry.objects.filter(organization=organization, team__isnull=False).count()


def ledger_renormalize_models(*, organization: Organization) -> int:
    """Re-derive every ledger line's model id from its exported name (after aliases change); returns
    records changed."""
    aliases = model_aliases_for(organization=organization)
    lines = LedgerLine.objects.filter(organization=organization)
    entries = LedgerEntry.objects.filter(organization=organization)
    changed = 0
    with transaction.atomic():
        for provider, model_raw in lines.values_list("provider", "model_raw").distinct().order_by():
            model = _model_for(aliases, provider, model_raw)
            changed += entries.filter(provider=provider, model_raw=model_raw).exclude(model=model).count()
            lines.filter(provider=provider, model_raw=model_raw).exclude(model=model).update(model=model)
    return changed


def _slot_is(token_type: str, *bases: str) -> Q:
    """Lines whose ``token_type`` slot holds a record with one of these cost bases."""
    return Q(**{f"{slot_field(token_type, 'basis')}__in": bases})


def ledger_reestimate_costs(*, organization: Organization, prices: PriceBook | None = None) -> dict[str, int]:
    """Price again, from the price book as it is now, every ledger record whose cost is a list-price estimate
    or is missing for lack of a price; billed records are never touched. Returns counts of records
    estimated, left unpriced and superseded (estimates for a provider and day that also has billed cost).

    Run after the catalog or the organization's negotiated prices change: records loaded before a model
    had a price get one, and estimates follow corrected prices.
    """
    book = prices if prices is not None else price_book(organization=organization)
    pending = (
        LedgerEntry.objects.filter(organization=organization)
        .exclude(token_type=TokenType.OTHER)
        .filter(Q(cost_basis=CostBasis.ESTIMATED) | Q(cost_basis=CostBasis.UNKNOWN, cost=None))
    )
    by_price: dict[tuple[str, str, str, str, str, Decimal | None], list[date]] = {}
    keys = (
        pending.values_list("provider", "model", "model_raw", "token_type", "service_tier", "date")
        .distinct()
        .order_by()
    )
    for provider, model, model_raw, token_type, service_tier, day in keys:
        price = _list_price(book, provider, (model, model_raw), token_type, day, service_tier)
        by_price.setdefault((provider, model, model_raw, token_type, service_tier, price), []).append(day)
    counts = {"estimated": 0, "unpriced": 0, "superseded": 0}
    estimated_days: dict[str, set[date]] = {}
    lines = LedgerLine.objects.filter(organization=organization)
    with transaction.atomic():
        for (provider, model, model_raw, token_type, service_tier, price), days in by_price.items():
            cost_field, basis_field = slot_field(token_type, "cost"), slot_field(token_type, "basis")
            pending_slots = Q(**{basis_field: CostBasis.ESTIMATED}) | Q(
                **{basis_field: CostBasis.UNKNOWN, f"{cost_field}__isnull": True}
            )
            rows = lines.filter(
                pending_slots,
                provider=provider,
                model=model,
                model_raw=model_raw,
                service_tier=service_tier,
                date__in=days,
            )
            if price is None:
                counts["unpriced"] += rows.update(**{cost_field: None, basis_field: CostBasis.UNKNOWN})
            else:
                counts["estimated"] += _set_estimated_cost(rows, token_type, price)
                estimated_days.setdefault(provider, set()).update(days)
        billed = LedgerEntry.objects.filter(organization=organization, cost_basis__in=BILLED_COST_BASES)
        for provider, provider_days in estimated_days.items():
            billed_days = set(
                billed.filter(provider=provider, date__in=provider_days)
                .values_list("date", flat=True)
                .distinct()
                .order_by()
            )
            if billed_days:
                counts["superseded"] += _supersede(lines.filter(provider=provider, date__in=billed_days))
    return counts


def _supersede(lines: QuerySet[LedgerLine]) -> int:
    """Mark the list-price estimates of these lines superseded (billed cost exists); returns records marked."""
    superseded = 0
    for token_type in LEDGER_SLOTS:
        basis_field = slot_field(token_type, "basis")
        superseded += lines.filter(**{basis_field: CostBasis.ESTIMATED}).update(**{basis_field: CostBasis.SUPERSEDED})
    return superseded


def _list_price(
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


def _set_estimated_cost(rows: QuerySet[LedgerLine], token_type: str, usd_per_million: Decimal) -> int:
    """Set the ``token_type`` slot's cost = quantity x price / 1e6 (rounded to the ledger's 10 decimals,
    half up) on ``rows``."""
    quantity_field, cost_field, basis_field = (slot_field(token_type, part) for part in ("quantity", "cost", "basis"))
    if connection.vendor == "postgresql":
        # PostgreSQL's numeric rounds half away from zero on storage: the same as ROUND_HALF_UP for
        # the non-negative quantities of the ledger, and the same as an estimate written at ingest.
        cost = ExpressionWrapper(
            F(quantity_field) * Value(usd_per_million) / Value(Decimal(1_000_000)),
            output_field=DecimalField(max_digits=24, decimal_places=10),
        )
        return rows.update(**{cost_field: cost, basis_field: CostBasis.ESTIMATED})
    changed = list(rows.only("pk", quantity_field))
    usd_per_token = _per_token(usd_per_million)
    for line in changed:
        setattr(line, cost_field, _estimate(getattr(line, quantity_field), usd_per_token))
        setattr(line, basis_field, CostBasis.ESTIMATED)
    LedgerLine.objects.bulk_update(changed, [cost_field, basis_field], batch_size=BULK_CHUNK_ROWS)
    return len(changed)


def _per_token(usd_per_million: Decimal) -> Decimal:
    """A price per million tokens as a price per token, exactly (a division by a power of ten only moves the
    decimal point), so that ``_estimate`` gives the same cost as quantity x price / 1e6."""
    return usd_per_million / 1_000_000


def _estimate(quantity: int, usd_per_token: Decimal) -> Decimal:
    """The list-price cost of ``quantity`` tokens, to the ledger's 10 decimals (half up, as PostgreSQL rounds)."""
    return (quantity * usd_per_token).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


class _Tally:
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


class _LedgerBuilder:
    """Normalizes, prices and allocates records; caches every derivation per distinct key.

    A million-row export has a few thousand distinct streams (provider, model, project, key, ...)
    and a few hundred days: the model id, team, list price and the rendered COPY text of each are
    derived once, not once per record. Touches no database (it runs while a COPY is open).
    """

    def __init__(
        self,
        *,
        upload: Upload,
        allocator: _Allocator,
        prices: PriceBook,
        aliases: dict[tuple[str, str], str],
        tally: _Tally,
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

    def shared(self, record: CanonicalRecord) -> _Shared:
        stream = _STREAM_FIELDS(record)
        tags = record.tags
        key = (*stream, tuple(tags.items())) if tags else stream
        shared = self._shared.get(key)
        if shared is None:
            model_key = (record.provider, record.model_raw)
            model = self._models.get(model_key)
            if model is None:
                model = self._models[model_key] = _model_for(self._aliases, record.provider, record.model_raw)
            team_id = self._allocator.team_id_for(record, model)
            values = (model, *stream, json.dumps(tags), team_id)
            prefix = self._lineage + "\t".join(_copy_text(value) for value in values) + "\t"
            shared = self._shared[key] = _Shared(
                model=model, team_id=team_id, stream=stream, tags=tags, copy_prefix=prefix
            )
            self._tally.units.add(record.unit)
        return shared

    def period(self, record: CanonicalRecord) -> _Period:
        start, end = record.period_start, record.period_end
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
            try:
                usd_per_token = self._token_prices[key]
            except KeyError:
                usd_per_token = self._token_price(key, model)
            if usd_per_token is None:
                tally.unpriced_records += 1
            else:
                tally.estimated_records += 1
                cost = _estimate(quantity, usd_per_token)
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

    def _token_price(self, key: tuple[str, str, str, str, date], model: str) -> Decimal | None:
        """Look up (once per key, see ``cost``) the list price per token, of the normalized model id or the
        id as exported."""
        provider, model_raw, token_type, service_tier, day = key
        price = _list_price(self._prices, provider, (model, model_raw), token_type, day, service_tier)
        usd_per_token = self._token_prices[key] = None if price is None else _per_token(price)
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


def _lines(records: Iterable[CanonicalRecord], builder: _LedgerBuilder) -> Iterator[_Line]:
    """Gather consecutive records into ledger lines: a record joins the line before it when it comes from
    the same source row, period and stream, its token type's slot is still free and it does not bring a
    second request count; otherwise it starts a line of its own. Every record lands in exactly one slot."""
    shared_of, period_of, cost_of = builder.shared, builder.period, builder.cost
    line: _Line | None = None
    for record in records:
        shared = shared_of(record)
        period = period_of(record)
        cost, basis = cost_of(record, shared.model, period.day)
        slot = SLOT_NUMBERS[record.token_type]
        requests = record.requests
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
        line.slots[slot] = (record.quantity, cost, basis)
        if requests is not None:
            line.requests, line.requests_slot = requests, slot
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


def _write_copy(records: Iterable[CanonicalRecord], builder: _LedgerBuilder) -> None:
    """Stream the records into the ledger with COPY, as pre-rendered lines in chunks of about 1 MiB."""
    table = LedgerLine._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
    ):
        texts: list[str] = []
        size = 0
        for line in _lines(records, builder):
            text = _copy_line(line)
            texts.append(text)
            size += len(text)
            if size >= COPY_CHUNK_BYTES:
                copy.write("".join(texts))
                texts.clear()
                size = 0
        if texts:
            copy.write("".join(texts))


def _write_bulk(records: Iterable[CanonicalRecord], builder: _LedgerBuilder, upload: Upload) -> None:
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


def _write_ledger(records: Iterable[CanonicalRecord], builder: _LedgerBuilder, upload: Upload) -> None:
    """Write the records into the ledger inside the caller's transaction: COPY on PostgreSQL."""
    if connection.vendor == "postgresql":
        _write_copy(records, builder)
    else:
        _write_bulk(records, builder, upload)


def _replace_earlier_rows(
    *, upload: Upload, source_format: str, days: set[date], units: set[str], parts: set[str]
) -> dict[str, object] | None:
    """The later export wins: drop rows that earlier uploads of the same source loaded for these days.

    A source is the format plus the kind of rows: money-only rows (unit ``usd``, from cost files or
    cost API pages) never replace token rows, nor the other way round; and for formats made of
    several parts (one Usage API endpoint per kind of usage) only uploads that hold one of the same
    parts are replaced. Runs inside the ingest transaction, so the old rows go only if the new ones land.
    """
    if not days:
        return None
    earlier = LedgerLine.objects.filter(
        organization_id=upload.organization_id, upload__format=source_format, date__in=sorted(days), unit__in=units
    ).exclude(upload=upload)
    if parts:
        candidates = Upload.objects.filter(
            organization_id=upload.organization_id, format=source_format, status=Upload.Status.SUCCEEDED
        ).exclude(pk=upload.pk)
        same_parts = [
            candidate.pk
            for candidate in candidates.only("pk", "summary")
            if not set(candidate.summary.get("source_parts") or []) or parts & set(candidate.summary["source_parts"])
        ]
        earlier = earlier.filter(upload_id__in=same_parts)
    summary = earlier.aggregate(first=Min("date"), last=Max("date"))
    upload_ids = sorted(set(earlier.values_list("upload_id", flat=True)))
    if not upload_ids:
        return None
    records = LedgerEntry.objects.filter(line__in=earlier.values("pk")).count()
    earlier.delete()
    return {
        "records": records,
        "uploads": upload_ids,
        "date_from": summary["first"].isoformat(),
        "date_to": summary["last"].isoformat(),
    }


def _supersede_estimates(*, upload: Upload, tally: _Tally) -> int:
    """Join cost and usage at their coarsest common grain, provider x day: where billed cost exists,
    list-price estimates for the same provider and day no longer count (they stay, marked superseded).

    Covers both orders: a cost file arriving after the usage file, and a usage file arriving after it.
    """
    organization_lines = LedgerLine.objects.filter(organization_id=upload.organization_id)
    superseded = 0
    for provider, days in _by_provider(tally.billed_keys).items():
        superseded += _supersede(organization_lines.filter(provider=provider, date__in=days))
    for provider, days in _by_provider(tally.estimated_keys).items():
        billed_days = set(
            LedgerEntry.objects.filter(
                organization_id=upload.organization_id,
                provider=provider,
                date__in=days,
                cost_basis__in=BILLED_COST_BASES,
            )
            .values_list("date", flat=True)
            .distinct()
        )
        if billed_days:
            superseded += _supersede(organization_lines.filter(upload=upload, provider=provider, date__in=billed_days))
    return superseded


def _by_provider(keys: set[tuple[str, date]]) -> dict[str, list[date]]:
    grouped: dict[str, list[date]] = {}
    for provider, day in keys:
        grouped.setdefault(provider, []).append(day)
    return grouped


def _claim(upload_id: int) -> Upload | None:
    """Mark the upload running, or return None when there is nothing to do (already finished)."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().select_related("organization").get(pk=upload_id)
        if upload.status not in (Upload.Status.QUEUED, Upload.Status.RUNNING):
            return None
        upload.status = Upload.Status.RUNNING
        upload.started_at = timezone.now()
        upload.save(update_fields=["status", "started_at"])
        return upload


def upload_ingest(*, upload_id: int) -> Upload:
    """Parse the upload and write its ledger rows in one transaction; safe to run twice.

    A run killed half-way left nothing (the transaction rolled back), so running it again
    finishes the job. Bad input marks the upload failed with row-numbered errors.
    """
    upload = _claim(upload_id)
    if upload is None:
        return Upload.objects.get(pk=upload_id)
    started = time.monotonic()
    path = Path(settings.MEDIA_ROOT) / str(upload.file.name)
    stats = ParseStats()
    tally = _Tally()
    try:
        limit = settings.UPLOAD_MAX_EXPANDED_BYTES
        module = detect_format(path, upload.summary.get("format_override"), max_expanded_bytes=limit)
        allocator = _Allocator(allocation_rules_for(organization=upload.organization))
        prices = price_book(organization=upload.organization)
        aliases = model_aliases_for(organization=upload.organization)
        with transaction.atomic():
            LedgerLine.objects.filter(upload=upload).delete()
            records = parse_export(path, module, stats, max_expanded_bytes=limit)
            builder = _LedgerBuilder(upload=upload, allocator=allocator, prices=prices, aliases=aliases, tally=tally)
            _write_ledger(records, builder, upload)
            replaced = _replace_earlier_rows(
                upload=upload, source_format=module.NAME, days=tally.days, units=tally.units, parts=stats.source_parts
            )
            superseded = _supersede_estimates(upload=upload, tally=tally)
            date_from, date_to = tally.date_range()
            upload.status = Upload.Status.SUCCEEDED
            upload.format = module.NAME
            upload.errors = []
            upload.summary = {
                **upload.summary,
                "format": module.NAME,
                "format_label": module.LABEL,
                "format_version": stats.format_version,
                "source_parts": sorted(stats.source_parts),
                "rows_read": stats.rows_read,
                "rows_skipped": stats.rows_skipped,
                "records": tally.records,
                "tokens": tally.tokens,
                "cost": {currency: str(amount) for currency, amount in sorted(tally.cost.items())},
                "records_cost_estimated": tally.estimated_records,
                "records_unpriced": tally.unpriced_records,
                "date_from": date_from,
                "date_to": date_to,
                "replaced": replaced,
                "estimates_superseded": superseded,
                "duration_seconds": round(time.monotonic() - started, 3),
            }
            upload.finished_at = timezone.now()
            upload.save()
            succeeded = upload
            transaction.on_commit(lambda: upload_succeeded.send(sender=Upload, upload=succeeded))
    except IngestError as error:
        upload.status = Upload.Status.FAILED
        upload.errors = [row_error.as_dict() for row_error in error.errors]
        upload.summary = {
            **upload.summary,
            "rows_read": stats.rows_read,
            "records": 0,
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        upload.finished_at = timezone.now()
        upload.save()
    return upload


def upload_mark_failed(*, upload_id: int, message: str) -> None:
    """Record an unexpected failure on the upload (the ledger was left untouched)."""
    Upload.objects.filter(pk=upload_id, status__in=[Upload.Status.QUEUED, Upload.Status.RUNNING]).update(
        status=Upload.Status.FAILED,
        errors=[{"row": None, "column": None, "message": message}],
        finished_at=timezone.now(),
    )
