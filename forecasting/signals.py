"""Signals the forecasting app sends, so apps above it (planning) can react without forecasting importing them."""

from __future__ import annotations

from django.dispatch import Signal

forecast_run_succeeded = Signal()
"""Sent after a run's results are committed; ``sender`` is ``ForecastRun``, with ``run`` (the instance)."""
