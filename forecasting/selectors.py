"""Reads of the forecasting app: runs scoped to the caller, and monthly roll-ups of a run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from finops.models import Organization
from finops.selectors import organizations_for_user
from forecasting.models import ForecastRun


def forecast_runs_for_user(*, user: User | AnonymousUser) -> QuerySet[ForecastRun]:
    """Forecast runs of every organization the user belongs to."""
    return ForecastRun.objects.filter(organization__in=organizations_for_user(user=user)).select_related("organization")


def forecast_latest(*, organization: Organization) -> ForecastRun | None:
    """The newest successful forecast run of the organization."""
    return (
        ForecastRun.objects.filter(organization=organization, status=ForecastRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def forecast_monthly(*, run: ForecastRun) -> list[dict[str, Any]]:
    """Monthly totals of a run's daily points.

    The monthly interval adds the daily bounds, i.e. it assumes daily errors move together:
    wider (more cautious) than an interval from sampled paths.
    """
    months: dict[str, dict[str, Any]] = {}
    for point in run.points.order_by("date"):
        key = point.date.strftime("%Y-%m")
        month = months.setdefault(
            key,
            {
                "month": key,
                "days": 0,
                "tokens": 0,
                "tokens_lower": 0,
                "tokens_upper": 0,
                "cost": None,
                "cost_lower": None,
                "cost_upper": None,
            },
        )
        month["days"] += 1
        for field in ("tokens", "tokens_lower", "tokens_upper"):
            month[field] += getattr(point, field)
        for field in ("cost", "cost_lower", "cost_upper"):
            value = getattr(point, field)
            if value is not None:
                month[field] = (month[field] or Decimal(0)) + value
    return list(months.values())


def forecast_history_window(*, run: ForecastRun, days: int = 365) -> tuple[date | None, date | None]:
    """The span of actual history to draw next to a run."""
    if run.history_end is None:
        return None, None
    from datetime import timedelta

    start = max(run.history_start or run.history_end, run.history_end - timedelta(days=days))
    return start, run.history_end
