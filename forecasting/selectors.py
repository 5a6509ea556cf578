"""Reads of the forecasting app: runs scoped to the caller, a run's months per level, two runs compared."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from finops.models import Organization
from finops.selectors import organizations_for_user
from forecasting.models import ForecastMonth, ForecastRun


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


def _month_row(month: ForecastMonth, main_width: str) -> dict[str, Any]:
    tokens_lower, tokens_upper = month.tokens_intervals.get(main_width, [month.tokens, month.tokens])
    cost_bounds = month.cost_intervals.get(main_width)
    return {
        "month": month.month.strftime("%Y-%m"),
        "days": month.days,
        "tokens": month.tokens,
        "tokens_lower": tokens_lower,
        "tokens_upper": tokens_upper,
        "tokens_by_type": month.tokens_by_type,
        "tokens_intervals": month.tokens_intervals,
        "cost": month.cost,
        "cost_lower": Decimal(cost_bounds[0]) if cost_bounds else None,
        "cost_upper": Decimal(cost_bounds[1]) if cost_bounds else None,
        "cost_intervals": month.cost_intervals,
        "unpriced_tokens": month.unpriced_tokens,
    }


def forecast_monthly(*, run: ForecastRun, level: str = "organization", key: str = "") -> list[dict[str, Any]]:
    """Monthly tokens and cost of one level and key of a run, with the run's interval as ``*_lower``/``*_upper``
    and every stored width (50, 80, 95) under ``*_intervals``."""
    main_width = f"{round(run.interval_width * 100)}"
    months = ForecastMonth.objects.filter(run=run, level=level, key=key).order_by("month")
    return [_month_row(month, main_width) for month in months]


def forecast_levels(*, run: ForecastRun) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every level of a run: ``{level: {key: [month, ...]}}`` (the organization's key is "")."""
    main_width = f"{round(run.interval_width * 100)}"
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for month in ForecastMonth.objects.filter(run=run).order_by("level", "key", "month"):
        result.setdefault(month.level, {}).setdefault(month.key, []).append(_month_row(month, main_width))
    return result


def forecast_compare(*, run: ForecastRun, other: ForecastRun, level: str = "organization") -> list[dict[str, Any]]:
    """Two runs side by side per key and month of one level: tokens and cost of each and the difference."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for label, source in (("a", run), ("b", other)):
        for month in ForecastMonth.objects.filter(run=source, level=level).order_by("key", "month"):
            row = rows.setdefault(
                (month.key, month.month.strftime("%Y-%m")),
                {
                    "key": month.key,
                    "month": month.month.strftime("%Y-%m"),
                    "tokens_a": None,
                    "tokens_b": None,
                    "cost_a": None,
                    "cost_b": None,
                },
            )
            row[f"tokens_{label}"] = month.tokens
            row[f"cost_{label}"] = month.cost
    result = []
    for _, row in sorted(rows.items()):
        row["tokens_change"] = (
            row["tokens_b"] - row["tokens_a"] if row["tokens_a"] is not None and row["tokens_b"] is not None else None
        )
        row["cost_change"] = (
            row["cost_b"] - row["cost_a"] if row["cost_a"] is not None and row["cost_b"] is not None else None
        )
        result.append(row)
    return result


def forecast_history_window(*, run: ForecastRun, days: int = 365) -> tuple[date | None, date | None]:
    """The span of actual history to draw next to a run."""
    if run.history_end is None:
        return None, None
    from datetime import timedelta

    start = max(run.history_start or run.history_end, run.history_end - timedelta(days=days))
    return start, run.history_end
