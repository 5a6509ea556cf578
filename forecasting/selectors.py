"""Reads of the forecasting app: runs scoped to the caller, a run's months per level, two runs compared."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, QuerySet, Subquery

from finops.models import Organization
from finops.selectors import organizations_for_user
from forecasting.models import ForecastMonth, ForecastRun, ForecastScope


def forecast_runs_for_user(*, user: User | AnonymousUser) -> QuerySet[ForecastRun]:
    """Forecast runs of every organization the user belongs to."""
    return ForecastRun.objects.filter(organization__in=organizations_for_user(user=user)).select_related("organization")


def _latest_runs(organization: Organization | OuterRef) -> QuerySet[ForecastRun]:
    return ForecastRun.objects.filter(
        organization=organization, status=ForecastRun.Status.SUCCEEDED, baseline__isnull=True
    ).order_by("-finished_at", "-id")


def forecast_latest(*, organization: Organization) -> ForecastRun | None:
    """The newest successful forecast run of the organization; what-if runs (a change not made yet) are not its
    forecast and are left out."""
    return _latest_runs(organization).first()


def forecast_latest_version(*, organization: Organization) -> str | None:
    """The id and finish time of the organization's latest run (``forecast_latest``), without reading the run: what
    answers built from it are cached under. None without one."""
    latest = _latest_runs(organization).values_list("pk", "finished_at").first()
    return forecast_latest_version_from(*latest) if latest else None


def forecast_latest_annotations() -> dict[str, Subquery]:
    """The latest run's id and finish time for each organization of an ``Organization`` query, for a view that reads
    several versions in one query; ``forecast_latest_version_from`` makes ``forecast_latest_version``'s token."""
    latest = _latest_runs(OuterRef("pk"))
    return {
        "latest_run_id": Subquery(latest.values("pk")[:1]),
        "latest_run_finished_at": Subquery(latest.values("finished_at")[:1]),
    }


def forecast_latest_version_from(run_id: int | None, finished_at: object) -> str | None:
    return f"run:{run_id}:{finished_at}" if run_id is not None else None


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
    start = max(run.history_start or run.history_end, run.history_end - timedelta(days=days))
    return start, run.history_end


@dataclass(frozen=True)
class ScopeOutlook:
    """A run's forecast cost for one scope (any combination of team, provider and model): the mean cost per day
    from ``start``, and each sampled path's cost per month (``paths``: samples x months, USD)."""

    start: date
    daily_cost: list[float]
    month_starts: list[date]
    paths: np.ndarray | None

    @property
    def end(self) -> date:
        """The last day the forecast covers."""
        return self.start + timedelta(days=len(self.daily_cost) - 1)

    def mean_between(self, first: date, last: date) -> float:
        """The mean cost of the days from ``first`` to ``last`` (inclusive) the forecast covers."""
        lo, hi = max((first - self.start).days, 0), min((last - self.start).days, len(self.daily_cost) - 1)
        return float(sum(self.daily_cost[lo : hi + 1])) if hi >= lo else 0.0

    def samples_between(self, first: date, last: date) -> np.ndarray | None:
        """Each path's cost from ``first`` to ``last``: whole months summed path by path; a month cut by ``first``
        or ``last`` counts the share of its mean cost that falls inside, path by path. None without paths."""
        if self.paths is None or last < first:
            return None
        total = np.zeros(self.paths.shape[0])
        for index, month_start in enumerate(self.month_starts):
            month_first = max(month_start, self.start)
            month_last = _month_end(month_start)
            inside_first, inside_last = max(first, month_first), min(last, month_last, self.end)
            if inside_last < inside_first:
                continue
            whole = self.mean_between(month_first, month_last)
            part = self.mean_between(inside_first, inside_last)
            if whole > 0:
                total += self.paths[:, index] * (part / whole)
        return total


def _month_end(month_start: date) -> date:
    following = date(month_start.year + month_start.month // 12, month_start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def forecast_scope_outlook(
    *, run: ForecastRun, team: str | None = None, provider: str = "", model: str = ""
) -> ScopeOutlook | None:
    """The run's cost outlook for a scope: the cells it covers (provider x team x model) summed path by path, so
    the overrun probability is read off the run's own samples. None when the run stored no cells."""
    cells = ForecastScope.objects.filter(run=run, level=ForecastScope.Level.CELL)
    if team is not None:
        cells = cells.filter(team=team)
    if provider:
        cells = cells.filter(provider=provider)
    if model:
        cells = cells.filter(model=model)
    if run.history_end is None or not ForecastScope.objects.filter(run=run).exists():
        return None
    daily = np.zeros(run.horizon_days)
    paths: np.ndarray | None = None
    months: list[date] = []
    for cell in cells:
        months = [date.fromisoformat(value) for value in cell.months]
        daily[: len(cell.daily_cost)] += np.asarray(cell.daily_cost, dtype=float)
        if cell.monthly_cost_paths is not None and cell.samples:
            cell_paths = np.frombuffer(bytes(cell.monthly_cost_paths), dtype=np.float32).astype(float)
            cell_paths = cell_paths.reshape(cell.samples, len(months))
            paths = cell_paths if paths is None else paths + cell_paths
    start = run.history_end + timedelta(days=1)
    return ScopeOutlook(start=start, daily_cost=[float(value) for value in daily], month_starts=months, paths=paths)


def forecast_day_bands(*, run: ForecastRun) -> dict[tuple[str, str], dict[str, Any]]:
    """The first forecast days' mean and 99% band of the organization (key ("", "")) and of each team x model
    (key (team, model)): ``{"start": date, "tokens": [...], "cost": [...], "band": {"tokens": ..., "cost": ...}}``."""
    if run.history_end is None:
        return {}
    start = run.history_end + timedelta(days=1)
    rows = ForecastScope.objects.filter(
        run=run, level__in=[ForecastScope.Level.ORGANIZATION, ForecastScope.Level.TEAM_MODEL]
    )
    return {
        (row.team, row.model): {"start": start, "tokens": row.daily_tokens, "cost": row.daily_cost, "band": row.band}
        for row in rows
    }
