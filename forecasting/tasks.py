"""Celery tasks of the forecasting queue: thin wrappers around the forecasting services."""

from __future__ import annotations

from celery import shared_task

from forecasting import services


@shared_task(name="forecasting.tasks.execute_forecast_run", acks_late=True, soft_time_limit=1800, time_limit=1900)
def execute_forecast_run(run_id: int) -> str:
    """Plan one forecast run and queue its series in chunks; safe to run twice."""
    try:
        run = services.forecast_run_execute(run_id=run_id)
    except Exception as error:
        services.forecast_run_mark_failed(run_id=run_id, message=f"internal error during forecast: {error}")
        raise
    return str(run.status)


@shared_task(name="forecasting.tasks.execute_forecast_chunk", acks_late=True, soft_time_limit=1800, time_limit=1900)
def execute_forecast_chunk(run_id: int, series_ids: list[int]) -> int:
    """Fit one chunk of a run's series; the last chunk to finish adds the run up."""
    try:
        return services.forecast_series_chunk_execute(run_id=run_id, series_ids=series_ids)
    except Exception as error:
        services.forecast_run_mark_failed(run_id=run_id, message=f"internal error while forecasting series: {error}")
        raise


@shared_task(name="forecasting.tasks.refresh_all_forecasts")
def refresh_all_forecasts() -> int:
    """Nightly (beat): queue a forecast refresh for every organization with usage."""
    return len(services.forecast_refresh_all())
