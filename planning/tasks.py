"""Celery tasks of the planning app: thin wrappers that evaluate alerts, regenerate recommendations and deliver
alerts (retried with backoff), each safe to run twice."""

from __future__ import annotations

from celery import shared_task

from planning import delivery, services


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
