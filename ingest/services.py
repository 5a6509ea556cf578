"""Writes of the ingest app: receive an upload, ingest it into the ledger in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.models import AllocationRule, Organization
from finops.selectors import PriceBook, allocation_rules_for, model_aliases_for, price_book
from ingest.models import BILLED_COST_BASES, CostBasis, LedgerEntry, Upload
from ingest.normalize import normalize_model
from ingest.parsers import CanonicalRecord, IngestError, ParseStats, RowError, detect_format, parse_export

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024
BULK_CHUNK_ROWS = 5000
MONEY_QUANTUM = Decimal("0.0000000001")
ACTIVE_STATUSES = (Upload.Status.QUEUED, Upload.Status.RUNNING, Upload.Status.SUCCEEDED)

LEDGER_COLUMNS = (
    "organization_id",
    "upload_id",
    "source_row",
    "date",
    "period_start",
    "period_end",
    "provider",
    "model",
    "model_raw",
    "token_type",
    "quantity",
    "unit",
    "requests",
    "cost",
    "currency",
    "cost_basis",
    "project",
    "workspace",
    "api_key",
    "account",
    "region",
    "service_tier",
    "tags",
    "team_id",
)


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
    """Apply the organization's current allocation rules to all its ledger rows; returns rows allocated.

    Rules apply in priority order and the first match wins, as at ingest.
    """
    with transaction.atomic():
        rows = LedgerEntry.objects.filter(organization=organization)
        rows.exclude(team=None).update(team=None)
        allocated = 0
        for rule in allocation_rules_for(organization=organization):
            if rule.dimension == AllocationRule.Dimension.TAG:
                key, _, wanted = rule.value.partition("=")
                matching = rows.filter(**{f"tags__{key.strip()}": wanted.strip()})
            else:
                matching = rows.filter(**{rule.dimension: rule.value})
            allocated += matching.filter(team=None).update(team=rule.team)
    return allocated


def ledger_renormalize_models(*, organization: Organization) -> int:
    """Re-derive every ledger row's model id from its exported name (after aliases change); returns rows changed."""
    aliases = model_aliases_for(organization=organization)
    rows = LedgerEntry.objects.filter(organization=organization)
    changed = 0
    with transaction.atomic():
        for provider, model_raw in rows.values_list("provider", "model_raw").distinct().order_by():
            model = _model_for(aliases, provider, model_raw)
            changed += rows.filter(provider=provider, model_raw=model_raw).exclude(model=model).update(model=model)
    return changed


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

    def add(self, row: tuple[object, ...]) -> None:
        self.records += 1
        token_type, quantity, cost, currency = row[9], row[10], row[13], row[14]
        if token_type in self.tokens:
            self.tokens[str(token_type)] += int(quantity)  # type: ignore[call-overload]
        if cost is not None:
            self.cost[str(currency)] = self.cost.get(str(currency), Decimal(0)) + cost  # type: ignore[operator]
        self.days.add(row[3])  # type: ignore[arg-type]
        self.units.add(row[11])  # type: ignore[arg-type]
        basis = row[15]
        if basis in BILLED_COST_BASES:
            self.billed_keys.add((row[6], row[3]))  # type: ignore[arg-type]
        elif basis == CostBasis.ESTIMATED:
            self.estimated_keys.add((row[6], row[3]))  # type: ignore[arg-type]

    def date_range(self) -> tuple[str | None, str | None]:
        if not self.days:
            return None, None
        return min(self.days).isoformat(), max(self.days).isoformat()


def _ledger_rows(
    *,
    upload: Upload,
    records: Iterable[CanonicalRecord],
    allocator: _Allocator,
    prices: PriceBook,
    aliases: dict[tuple[str, str], str],
    tally: _Tally,
) -> Iterator[tuple[object, ...]]:
    """Normalize, price and allocate records into ledger rows. Touches no database: it runs inside COPY."""
    models: dict[tuple[str, str], str] = {}
    for record in records:
        key = (record.provider, record.model_raw)
        model = models.get(key)
        if model is None:
            model = models[key] = _model_for(aliases, record.provider, record.model_raw)
        day = record.period_start.date()
        cost, basis = record.cost, record.cost_basis
        if cost is None and record.token_type != "other":
            price = prices.usd_per_million(provider=record.provider, model=model, token_type=record.token_type, on=day)
            if price is None:
                price = prices.usd_per_million(
                    provider=record.provider, model=record.model_raw, token_type=record.token_type, on=day
                )
            if price is not None:
                cost = (Decimal(record.quantity) * price / 1_000_000).quantize(MONEY_QUANTUM)
                basis = CostBasis.ESTIMATED
                tally.estimated_records += 1
            else:
                tally.unpriced_records += 1
        row = (
            upload.organization_id,
            upload.pk,
            record.source_row,
            day,
            record.period_start,
            record.period_end,
            record.provider,
            model,
            record.model_raw,
            record.token_type,
            record.quantity,
            record.unit,
            record.requests,
            cost,
            record.currency,
            basis,
            record.project,
            record.workspace,
            record.api_key,
            record.account,
            record.region,
            record.service_tier,
            record.tags,
            allocator.team_id_for(record, model),
        )
        tally.add(row)
        yield row


def _write_rows(rows: Iterable[tuple[object, ...]]) -> None:
    """Write ledger rows: COPY on PostgreSQL, batched inserts elsewhere. Runs inside the caller's transaction."""
    if connection.vendor == "postgresql":
        table = LedgerEntry._meta.db_table
        tags_index = LEDGER_COLUMNS.index("tags")
        with connection.cursor() as cursor:
            raw_cursor = cursor.cursor
            with raw_cursor.copy(f"COPY {table} ({', '.join(LEDGER_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    values = list(row)
                    values[tags_index] = json.dumps(values[tags_index])
                    copy.write_row(values)
        return
    batch: list[LedgerEntry] = []
    for row in rows:
        batch.append(LedgerEntry(**dict(zip(LEDGER_COLUMNS, row, strict=True))))
        if len(batch) >= BULK_CHUNK_ROWS:
            LedgerEntry.objects.bulk_create(batch)
            batch.clear()
    if batch:
        LedgerEntry.objects.bulk_create(batch)


def _replace_earlier_rows(
    *, upload: Upload, source_format: str, days: set[date], units: set[str]
) -> dict[str, object] | None:
    """The later export wins: drop rows that earlier uploads of the same source loaded for these days.

    A source is the format plus the kind of rows: money-only rows (unit ``usd``, from cost files or
    cost API pages) never replace token rows, nor the other way round. Runs inside the ingest
    transaction, so the old rows go only if the new ones land.
    """
    if not days:
        return None
    earlier = LedgerEntry.objects.filter(
        organization_id=upload.organization_id, upload__format=source_format, date__in=sorted(days), unit__in=units
    ).exclude(upload=upload)
    summary = earlier.aggregate(first=Min("date"), last=Max("date"))
    upload_ids = sorted(set(earlier.values_list("upload_id", flat=True)))
    if not upload_ids:
        return None
    deleted, _ = earlier.delete()
    return {
        "records": deleted,
        "uploads": upload_ids,
        "date_from": summary["first"].isoformat(),
        "date_to": summary["last"].isoformat(),
    }


def _supersede_estimates(*, upload: Upload, tally: _Tally) -> int:
    """Join cost and usage at their coarsest common grain, provider x day: where billed cost exists,
    list-price estimates for the same provider and day no longer count (they stay, marked superseded).

    Covers both orders: a cost file arriving after the usage file, and a usage file arriving after it.
    """
    organization_rows = LedgerEntry.objects.filter(organization_id=upload.organization_id)
    superseded = 0
    for provider, days in _by_provider(tally.billed_keys).items():
        superseded += organization_rows.filter(provider=provider, date__in=days, cost_basis=CostBasis.ESTIMATED).update(
            cost_basis=CostBasis.SUPERSEDED
        )
    for provider, days in _by_provider(tally.estimated_keys).items():
        billed_days = set(
            organization_rows.filter(provider=provider, date__in=days, cost_basis__in=BILLED_COST_BASES)
            .values_list("date", flat=True)
            .distinct()
        )
        if billed_days:
            superseded += organization_rows.filter(
                upload=upload, provider=provider, date__in=billed_days, cost_basis=CostBasis.ESTIMATED
            ).update(cost_basis=CostBasis.SUPERSEDED)
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
        prices = price_book()
        aliases = model_aliases_for(organization=upload.organization)
        with transaction.atomic():
            LedgerEntry.objects.filter(upload=upload).delete()
            records = parse_export(path, module, stats, max_expanded_bytes=limit)
            _write_rows(
                _ledger_rows(
                    upload=upload,
                    records=records,
                    allocator=allocator,
                    prices=prices,
                    aliases=aliases,
                    tally=tally,
                )
            )
            replaced = _replace_earlier_rows(
                upload=upload, source_format=module.NAME, days=tally.days, units=tally.units
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
