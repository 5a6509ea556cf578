"""Celery tasks of the forecasting queue: thin wrappers around the forecasting services."""

from __future__ import annotations

from celery import shared_task

from forecasting import services


@shared_task(name="forecasting.tasks.execute_forecast_run", acks_late=True, soft_time_limit=1800, time_limit=1900)
def execute_forecast_run(run_id: int) -> str:
    """Execute one forecast run; safe to run twice."""
    try:
        run = services.forecast_run_execute(run_id=run_id)
    except Exception as error:
        services.forecast_run_mark_failed(run_id=run_id, message=f"internal error during forecast: {error}")
        raise
    return str(run.status)
