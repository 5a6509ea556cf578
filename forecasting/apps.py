"""App config for forecasting: connects the after-upload forecast refresh to the ingest signal."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _refresh_after_upload(sender: Any, upload: Any, **kwargs: Any) -> None:
    from django.conf import settings

    if not settings.FORECAST_REFRESH_AFTER_INGEST:
        return
    from forecasting.services import forecast_refresh_after_ingest

    forecast_refresh_after_ingest(organization_id=upload.organization_id)


class ForecastingConfig(AppConfig):
    name = "forecasting"
    verbose_name = "Forecasts"

    def ready(self) -> None:
        from ingest.signals import upload_succeeded

        upload_succeeded.connect(_refresh_after_upload, dispatch_uid="forecasting.refresh_after_upload")
