"""App config for planning: after an upload lands or a forecast run succeeds, alerts are evaluated (and, after a
forecast, recommendations regenerated) on the worker."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _after_upload(sender: Any, upload: Any, **kwargs: Any) -> None:
    from planning.services import planning_refresh_enqueue

    planning_refresh_enqueue(organization_id=upload.organization_id, recommend=False)


def _after_forecast(sender: Any, run: Any, **kwargs: Any) -> None:
    from planning.services import planning_refresh_enqueue

    planning_refresh_enqueue(organization_id=run.organization_id, recommend=not run.what_if)


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Planning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from forecasting.signals import forecast_run_succeeded
        from ingest.signals import upload_succeeded

        upload_succeeded.connect(_after_upload, dispatch_uid="planning.after_upload")
        forecast_run_succeeded.connect(_after_forecast, dispatch_uid="planning.after_forecast")
