"""Celery tasks of the ingest queue: thin wrappers that load ids and call one service."""

from __future__ import annotations

from celery import shared_task

from ingest import services


@shared_task(name="ingest.tasks.ingest_upload", acks_late=True, max_retries=3, default_retry_delay=10)
def ingest_upload(upload_id: int) -> str:
    """Ingest one upload; safe to run twice. Unexpected errors mark the upload failed."""
    try:
        upload = services.upload_ingest(upload_id=upload_id)
    except Exception as error:
        services.upload_mark_failed(upload_id=upload_id, message=f"internal error during ingest: {error}")
        raise
    return str(upload.status)


@shared_task(name="ingest.tasks.reestimate_ledger_costs", acks_late=True)
def reestimate_ledger_costs(organization_id: int | None) -> dict[str, int]:
    """Re-price list-price estimates after a price change: one organization, or all with a ledger."""
    from finops.models import Organization

    organizations = (
        Organization.objects.all() if organization_id is None else Organization.objects.filter(pk=organization_id)
    )
    totals = {"estimated": 0, "unpriced": 0, "superseded": 0}
    for organization in organizations:
        for key, count in services.ledger_reestimate_costs(organization=organization).items():
            totals[key] += count
    return totals
