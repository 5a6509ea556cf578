"""Writes of the ingest app: receive an upload, ingest it into the ledger in one transaction."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Value
from django.utils import timezone
from django.utils.text import get_valid_filename

from finops.models import AllocationRule, Organization, Role, TokenType
from finops.selectors import PriceBook, allocation_rules_for, model_aliases_for, price_book, role_require
from ingest.ledger_writer import (
    BULK_CHUNK_ROWS,
    Allocator,
    LedgerBuilder,
    Tally,
    estimate,
    list_price,
    model_for,
    per_token,
    write_ledger,
    write_usage_batches,
)
from ingest.models import BILLED_COST_BASES, LEDGER_SLOTS, CostBasis, LedgerEntry, LedgerLine, Upload, slot_field
from ingest.parsers import IngestError, ParseStats, RowError, detect_format, detect_upload_format, openai, parse_export
from ingest.parsers.openai_columnar import NotColumnar, usage_export_batches
from ingest.rollup import usage_rollup_refresh
from ingest.signals import upload_succeeded
from ingest.storage import upload_file_delete, upload_file_local, upload_file_save, upload_staging

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024
ACTIVE_STATUSES = (Upload.Status.QUEUED, Upload.Status.RUNNING, Upload.Status.SUCCEEDED)


STORED_NAME_CHARS = 50
"""The original name is kept in ``Upload.original_name``; the stored file's name keeps only this many of its
characters (the start and the extensions), so any name fits ``Upload.file``'s 100 characters."""


def _stored_name(filename: str) -> str:
    name = get_valid_filename(filename) or "upload"
    if len(name) <= STORED_NAME_CHARS:
        return name
    stem, dot, extensions = name.partition(".")
    extensions = (dot + extensions)[-20:]
    return stem[: STORED_NAME_CHARS - len(extensions)] + extensions


def _upload_name(filename: str) -> str:
    """Where a new upload is kept in the uploads storage: by month, made unique, its own name shortened."""
    return f"uploads/{timezone.now():%Y/%m}/{uuid.uuid4().hex}_{_stored_name(filename)}"


def _store_stream(source: IO[bytes], target: Path) -> tuple[str, int]:
    """Copy the incoming bytes to ``target`` (a staging file) while hashing; enforce the size limit."""
    digest = hashlib.sha256()
    size = 0
    limit = settings.UPLOAD_MAX_BYTES
    with target.open("wb") as out:
        while chunk := source.read(COPY_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise IngestError([RowError(row=None, message=f"the file is over the size limit of {limit:,} bytes")])
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


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
    The file is received and checked in a local staging directory, and kept in the uploads storage
    (``ingest.storage``) only once accepted. Detection reads a bounded part of it (``detect_upload_format``):
    a JSON document over DETECT_MAX_BYTES is checked on its first bytes, queued with no format, and detected
    by the worker.
    """
    name = _upload_name(filename)
    with upload_staging() as staging:
        staged = staging / PurePosixPath(name).name
        sha256, size = _store_stream(source, staged)
        module = detect_upload_format(staged, format_name, max_expanded_bytes=settings.UPLOAD_MAX_EXPANDED_BYTES)
        kept_name = upload_file_save(staged=staged, name=name)
    try:
        upload = _upload_record(
            organization=organization,
            kept_name=kept_name,
            original_name=filename,
            sha256=sha256,
            size=size,
            format_name=module.NAME if module is not None else (format_name or ""),
            format_override=format_name,
            user=user,
        )
    except BaseException:  # whatever stops the upload here, the file is not kept
        upload_file_delete(name=kept_name)
        raise
    if upload.status == Upload.Status.DUPLICATE:
        upload_file_delete(name=kept_name)  # the Upload points at the original's file
    else:
        transaction.on_commit(lambda: _enqueue_ingest(upload.pk))
    return upload


def _upload_record(
    *,
    organization: Organization,
    kept_name: str,
    original_name: str,
    sha256: str,
    size: int,
    format_name: str,
    format_override: str | None,
    user: User | AnonymousUser | None,
) -> Upload:
    """Save the Upload of a kept file: queued, or a duplicate of an active upload of the same bytes (which then
    points at the original's file)."""
    with transaction.atomic():
        original = (
            Upload.objects.select_for_update()
            .filter(organization=organization, sha256=sha256, status__in=ACTIVE_STATUSES)
            .order_by("id")
            .first()
        )
        upload = Upload(
            organization=organization,
            original_name=original_name,
            sha256=sha256,
            size_bytes=size,
            format=format_name,
            created_by=user if isinstance(user, User) else None,
        )
        upload.file.name = kept_name
        if original is not None:
            upload.status = Upload.Status.DUPLICATE
            upload.format = upload.format or original.format
            upload.duplicate_of = original
            upload.finished_at = timezone.now()
            upload.summary = {"duplicate_of": original.pk, "records": 0, "note": "same bytes already loaded"}
            upload.file.name = original.file.name
        else:
            upload.summary = {"format_override": format_override} if format_override else {}
        upload.save()
    return upload


def _enqueue_ingest(upload_id: int) -> None:
    from ingest.tasks import ingest_upload

    ingest_upload.delay(upload_id)


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
        usage_rollup_refresh(organization=organization)
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
            model = model_for(aliases, provider, model_raw)
            changed += entries.filter(provider=provider, model_raw=model_raw).exclude(model=model).count()
            lines.filter(provider=provider, model_raw=model_raw).exclude(model=model).update(model=model)
        if changed:
            usage_rollup_refresh(organization=organization)
    return changed


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
        price = list_price(book, provider, (model, model_raw), token_type, day, service_tier)
        by_price.setdefault((provider, model, model_raw, token_type, service_tier, price), []).append(day)
    counts = {"estimated": 0, "unpriced": 0, "superseded": 0}
    estimated_days: dict[str, set[date]] = {}
    touched_days: set[date] = set()
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
            touched_days.update(days)
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
        if touched_days:
            usage_rollup_refresh(organization=organization, date_from=min(touched_days), date_to=max(touched_days))
    return counts


def _supersede(lines: QuerySet[LedgerLine]) -> int:
    """Mark the list-price estimates of these lines superseded (billed cost exists); returns records marked."""
    superseded = 0
    for token_type in LEDGER_SLOTS:
        basis_field = slot_field(token_type, "basis")
        superseded += lines.filter(**{basis_field: CostBasis.ESTIMATED}).update(**{basis_field: CostBasis.SUPERSEDED})
    return superseded


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
    usd_per_token = per_token(usd_per_million)
    for line in changed:
        setattr(line, cost_field, estimate(getattr(line, quantity_field), usd_per_token))
        setattr(line, basis_field, CostBasis.ESTIMATED)
    LedgerLine.objects.bulk_update(changed, [cost_field, basis_field], batch_size=BULK_CHUNK_ROWS)
    return len(changed)


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
    candidates = Upload.objects.filter(
        organization_id=upload.organization_id, format=source_format, status=Upload.Status.SUCCEEDED
    ).exclude(pk=upload.pk)
    earlier_uploads = [
        candidate.pk
        for candidate in candidates.only("pk", "summary")
        if not parts
        or not set(candidate.summary.get("source_parts") or [])
        or parts & set(candidate.summary["source_parts"])
    ]
    if not earlier_uploads:
        return None
    # By upload first (its index), so the lines just written are never scanned.
    earlier = LedgerLine.objects.filter(upload_id__in=earlier_uploads, date__in=sorted(days), unit__in=units)
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


def _supersede_estimates(*, upload: Upload, tally: Tally) -> int:
    """Join cost and usage at their coarsest common grain, provider x day: where billed cost exists,
    list-price estimates for the same provider and day no longer count (they stay, marked superseded).

    Covers both orders: a cost file arriving after the usage file, and a usage file arriving after it.
    """
    organization_lines = LedgerLine.objects.filter(organization_id=upload.organization_id)
    superseded = 0
    for provider, days in _by_provider(tally.billed_keys).items():
        superseded += _supersede(organization_lines.filter(provider=provider, date__in=days))
    # Billed cost of this upload was matched just above; for its estimates, look only at the other uploads
    # (by upload id, an index, so the lines just written are never scanned).
    other_uploads = list(
        Upload.objects.filter(organization_id=upload.organization_id, status=Upload.Status.SUCCEEDED)
        .exclude(pk=upload.pk)
        .values_list("pk", flat=True)
    )
    for provider, days in _by_provider(tally.estimated_keys).items():
        if not other_uploads:
            break
        billed_days = set(
            LedgerEntry.objects.filter(
                upload_id__in=other_uploads,
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
    finishes the job. Bad input marks the upload failed with row-numbered errors. The kept file is
    read from a local file (``upload_file_local``): a temporary copy when uploads are in object storage.
    """
    upload = _claim(upload_id)
    if upload is None:
        return Upload.objects.get(pk=upload_id)
    started = time.monotonic()
    with upload_file_local(name=str(upload.file.name)) as path:
        return _ingest_file(upload=upload, path=path, started=started)


def _ingest_file(*, upload: Upload, path: Path, started: float) -> Upload:
    """``upload_ingest`` of the claimed upload, its file at ``path``."""
    stats = ParseStats()
    tally = Tally()
    try:
        limit = settings.UPLOAD_MAX_EXPANDED_BYTES
        module = detect_format(path, upload.summary.get("format_override"), max_expanded_bytes=limit)
        allocator = Allocator(allocation_rules_for(organization=upload.organization))
        prices = price_book(organization=upload.organization)
        aliases = model_aliases_for(organization=upload.organization)
        with transaction.atomic():
            LedgerLine.objects.filter(upload=upload).delete()
            builder = LedgerBuilder(upload=upload, allocator=allocator, prices=prices, aliases=aliases, tally=tally)
            read_by = "rows"
            if connection.vendor == "postgresql" and module.NAME == openai.NAME:
                try:
                    with transaction.atomic():  # a savepoint: the row path starts again from nothing
                        write_usage_batches(usage_export_batches(path, stats, max_expanded_bytes=limit), builder)
                    read_by = "columns"
                except NotColumnar as reason:
                    logger.info("upload %s: read row by row (%s)", upload.pk, reason)
                    stats, tally = ParseStats(), Tally()
                    builder = LedgerBuilder(
                        upload=upload, allocator=allocator, prices=prices, aliases=aliases, tally=tally
                    )
            if read_by == "rows":
                write_ledger(parse_export(path, module, stats, max_expanded_bytes=limit), builder, upload)
            replaced = _replace_earlier_rows(
                upload=upload, source_format=module.NAME, days=tally.days, units=tally.units, parts=stats.source_parts
            )
            superseded = _supersede_estimates(upload=upload, tally=tally)
            if tally.days:
                # Rows replaced and estimates superseded lie on the upload's own days too.
                usage_rollup_refresh(
                    organization=upload.organization, date_from=min(tally.days), date_to=max(tally.days)
                )
            upload.status = Upload.Status.SUCCEEDED
            upload.format = module.NAME
            upload.errors = []
            upload.summary = {
                **upload.summary,
                **_ingest_summary(module=module, stats=stats, tally=tally, read_by=read_by),
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


def _ingest_summary(*, module: ModuleType, stats: ParseStats, tally: Tally, read_by: str) -> dict[str, object]:
    """What a successful ingest read and wrote, for ``Upload.summary``."""
    date_from, date_to = tally.date_range()
    return {
        "format": module.NAME,
        "format_label": module.LABEL,
        "format_version": stats.format_version,
        "source_parts": sorted(stats.source_parts),
        "rows_read": stats.rows_read,
        "rows_skipped": stats.rows_skipped,
        "read_by": read_by,
        "records": tally.records,
        "tokens": tally.tokens,
        "cost": {currency: str(amount) for currency, amount in sorted(tally.cost.items())},
        "records_cost_estimated": tally.estimated_records,
        "records_unpriced": tally.unpriced_records,
        "date_from": date_from,
        "date_to": date_to,
    }


def upload_mark_failed(*, upload_id: int, message: str) -> None:
    """Record an unexpected failure on the upload (the ledger was left untouched)."""
    Upload.objects.filter(pk=upload_id, status__in=[Upload.Status.QUEUED, Upload.Status.RUNNING]).update(
        status=Upload.Status.FAILED,
        errors=[{"row": None, "column": None, "message": message}],
        finished_at=timezone.now(),
    )


def upload_delete(*, upload: Upload, user: User | AnonymousUser | None) -> int:
    """Delete an upload and every ledger line it brought (organization admins only); returns lines removed.

    Logged with who and how much, since it changes the ledger's history. The stored file goes too, unless
    a duplicate upload still points at the same bytes.
    """
    role_require(user=user, organization=upload.organization, min_role=Role.ADMIN)
    file_name = upload.file.name
    with transaction.atomic():
        removed = LedgerLine.objects.filter(upload=upload).count()
        days = LedgerLine.objects.filter(upload=upload).aggregate(first=Min("date"), last=Max("date"))
        upload_id, organization = upload.pk, upload.organization
        upload.delete()
        if removed:
            usage_rollup_refresh(organization=organization, date_from=days["first"], date_to=days["last"])
    logger.warning(
        "upload %s (%s) of %s deleted by %s: %s ledger lines removed",
        upload_id,
        upload.original_name,
        organization.slug,
        getattr(user, "username", "operator") if user is not None else "operator",
        removed,
    )
    if file_name and not Upload.objects.filter(file=file_name).exists():
        upload_file_delete(name=file_name)
    return removed
