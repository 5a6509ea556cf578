"""Celery tasks of the planning app: thin wrappers that evaluate alerts, regenerate recommendations, deliver
alerts (retried with backoff) and send the monthly forecast e-mails, each safe to run twice."""

from __future__ import annotations

from datetime import date, datetime

from celery import shared_task

from finops.models import Organization
from planning import delivery, monthly_delivery, services


@shared_task(name="planning.tasks.refresh_planning", acks_late=True)
def refresh_planning(organization_id: int, recommend: bool = False) -> int:
    """After an upload lands or a forecast succeeds: evaluate the organization's alerts (and, after a forecast,
    regenerate its recommendations). Returns the number of open alerts."""
    return services.planning_refresh(organization_id=organization_id, recommend=recommend)


@shared_task(name="planning.tasks.evaluate_all_alerts")
def evaluate_all_alerts() -> int:
    """Daily (beat): evaluate every organization's alerts."""
    return services.alerts_evaluate_all()


@shared_task(name="planning.tasks.deliver_alert", acks_late=True)
def deliver_alert(delivery_id: int) -> str:
    """Send one alert delivery (claimed first, so a retried task never sends it twice)."""
    return delivery.alert_delivery_send(delivery_id=delivery_id)


@shared_task(name="planning.tasks.retry_due_deliveries")
def retry_due_deliveries() -> int:
    """Every few minutes (beat): queue the deliveries whose retry is due, so a lost task loses no message."""
    return delivery.deliveries_retry_due()


@shared_task(name="planning.tasks.send_due_forecast_emails")
def send_due_forecast_emails(now: str | None = None) -> int:
    """Hourly (beat): queue the monthly forecast e-mails of every organization whose local date is the 1st (and
    the unfinished ones of the others). ``now``: an ISO datetime standing in for the clock. Returns how many
    organizations were queued."""
    return monthly_delivery.forecast_emails_send_due(now=datetime.fromisoformat(now) if now else None)


@shared_task(name="planning.tasks.send_forecast_emails", acks_late=True)
def send_forecast_emails(organization_id: int, month: str, unfinished_only: bool = False) -> dict[str, int]:
    """Send one organization's forecast e-mails of ``month`` (YYYY-MM-DD, its first day) to each owner who has not
    had theirs (each claimed first, so a retried or doubled task never sends twice). Returns the outcomes counted."""
    organization = Organization.objects.get(pk=organization_id)
    result = monthly_delivery.forecast_emails_send(
        organization=organization, month=date.fromisoformat(month), unfinished_only=unfinished_only
    )
    return result.counts()
