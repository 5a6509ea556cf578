"""Writes of the forecasting app: create a forecast run and execute it with the engine."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from finops.models import Organization
from forecasting.models import ForecastPoint, ForecastRun
from ingest.selectors import usage_cost_per_token, usage_daily_tokens

CENT = Decimal("0.01")
COST_WINDOW_DAYS = 90


def forecast_run_create(
    *,
    organization: Organization,
    horizon_days: int = 180,
    interval_width: float = 0.8,
    user: User | AnonymousUser | None = None,
) -> ForecastRun:
    """Queue a forecast of the organization's daily total tokens and cost."""
    if not 1 <= horizon_days <= 730:
        raise ValueError(f"horizon_days must be between 1 and 730, got {horizon_days}")
    if not 0 < interval_width < 1:
        raise ValueError(f"interval_width must be between 0 and 1 (exclusive), got {interval_width}")
    run = ForecastRun.objects.create(
        organization=organization,
        horizon_days=horizon_days,
        interval_width=interval_width,
        created_by=user if isinstance(user, User) else None,
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from forecasting.tasks import execute_forecast_run

    execute_forecast_run.delay(run_id)


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def forecast_run_execute(*, run_id: int) -> ForecastRun:
    """Fit the engine to the ledger's daily totals and store the points; re-running replaces them.

    Cost per day is forecast tokens times the organization's average cost per token over the
    last 90 days of history (billed or estimated from list prices).
    """
    from forecasting.engine import forecast_daily

    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().select_related("organization").get(pk=run_id)
        if run.status == ForecastRun.Status.SUCCEEDED:
            return run
        run.status = ForecastRun.Status.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])

    daily = usage_daily_tokens(organization=run.organization)
    if not daily:
        return _fail(run, "no usage in the ledger yet: upload an export first")
    history = pd.DataFrame(daily, columns=["ds", "y"])
    history["ds"] = pd.to_datetime(history["ds"])
    try:
        result = forecast_daily(history, horizon_days=run.horizon_days, interval_width=run.interval_width)
    except ValueError as error:
        return _fail(run, str(error))

    history_end = daily[-1][0]
    cost_per_token = usage_cost_per_token(
        organization=run.organization,
        date_from=history_end - timedelta(days=COST_WINDOW_DAYS - 1),
        date_to=history_end,
    )
    points = []
    for row in result.frame.itertuples(index=False):
        tokens = round(row.yhat)
        lower = round(row.yhat_lower)
        upper = round(row.yhat_upper)
        point = ForecastPoint(run=run, date=row.ds.date(), tokens=tokens, tokens_lower=lower, tokens_upper=upper)
        if cost_per_token is not None:
            point.cost = _money(tokens * cost_per_token)
            point.cost_lower = _money(lower * cost_per_token)
            point.cost_upper = _money(upper * cost_per_token)
        points.append(point)
    with transaction.atomic():
        ForecastPoint.objects.filter(run=run).delete()
        ForecastPoint.objects.bulk_create(points)
        run.status = ForecastRun.Status.SUCCEEDED
        run.model_name = result.model_name
        run.model_reason = result.reason
        run.history_start = daily[0][0]
        run.history_end = history_end
        run.history_days = result.history_days
        run.cost_per_million_tokens = (
            (cost_per_token * 1_000_000).quantize(Decimal("0.000001")) if cost_per_token is not None else None
        )
        run.error = ""
        run.finished_at = timezone.now()
        run.save()
    return run


def _fail(run: ForecastRun, message: str) -> ForecastRun:
    run.status = ForecastRun.Status.FAILED
    run.error = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def forecast_run_mark_failed(*, run_id: int, message: str) -> None:
    """Record an unexpected failure of a run."""
    ForecastRun.objects.filter(pk=run_id).exclude(status=ForecastRun.Status.SUCCEEDED).update(
        status=ForecastRun.Status.FAILED, error=message, finished_at=timezone.now()
    )
