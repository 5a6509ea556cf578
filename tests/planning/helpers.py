"""Builders for planning tests: ledger days with a known cost, and a forecast run with known sampled paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from finops.models import Organization, Team
from forecasting.models import ForecastRun, ForecastScope
from ingest.models import CostBasis, LedgerEntry
from tests.factories import UploadFactory, create_ledger_entries


def ledger_days(
    organization: Organization,
    team: Team | None,
    first: date,
    costs: list[float],
    *,
    model: str = "gpt-4o",
    provider: str = "openai",
    tokens: int = 1000,
) -> None:
    """One input row a day from ``first``, each with its cost (USD, billed) and ``tokens`` tokens."""
    upload = UploadFactory(organization=organization)
    entries = []
    for offset, cost in enumerate(costs):
        day = first + timedelta(days=offset)
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        entries.append(
            LedgerEntry(
                organization=organization,
                upload=upload,
                source_row=offset + 2,
                date=day,
                period_start=moment,
                period_end=moment,
                provider=provider,
                model=model,
                model_raw=model,
                token_type="input",
                quantity=tokens,
                cost=Decimal(str(cost)),
                cost_basis=CostBasis.BILLED,
                team=team,
            )
        )
    create_ledger_entries(entries)


def month_starts_from(start: date, horizon: int) -> list[str]:
    months = []
    day = start
    for _ in range(horizon):
        first = day.replace(day=1).isoformat()
        if first not in months:
            months.append(first)
        day += timedelta(days=1)
    return months


def forecast_run(organization: Organization, history_end: date, horizon: int) -> ForecastRun:
    """A succeeded run whose history ends on ``history_end``."""
    return ForecastRun.objects.create(
        organization=organization,
        status=ForecastRun.Status.SUCCEEDED,
        history_start=history_end - timedelta(days=90),
        history_end=history_end,
        horizon_days=horizon,
        finished_at=timezone.now(),
    )


def cell(
    run: ForecastRun,
    *,
    team: str,
    model: str = "gpt-4o",
    provider: str = "openai",
    daily_cost: list[float],
    monthly_paths: list[list[float]],
) -> ForecastScope:
    """A cell with its mean daily cost and each path's cost per month (``monthly_paths[path][month]``)."""
    assert run.history_end is not None
    months = month_starts_from(run.history_end + timedelta(days=1), run.horizon_days)
    paths = np.asarray(monthly_paths, dtype=np.float32)
    assert paths.shape[1] == len(months)
    return ForecastScope.objects.create(
        run=run,
        level=ForecastScope.Level.CELL,
        provider=provider,
        team=team,
        model=model,
        months=months,
        monthly_cost_paths=paths.tobytes(),
        samples=paths.shape[0],
        daily_cost=daily_cost,
        daily_tokens=[0] * len(daily_cost),
    )


def banded_scope(
    run: ForecastRun,
    *,
    team: str = "",
    model: str = "",
    tokens: list[float],
    cost: list[float],
    token_band: list[tuple[float, float]],
    cost_band: list[tuple[float, float]],
) -> ForecastScope:
    """The organization (no team, no model) or a team x model, with each first day's mean and 99% band."""
    return ForecastScope.objects.create(
        run=run,
        level=ForecastScope.Level.TEAM_MODEL if team else ForecastScope.Level.ORGANIZATION,
        team=team,
        model=model,
        daily_cost=cost,
        daily_tokens=tokens,
        band={"tokens": [list(pair) for pair in token_band], "cost": [list(pair) for pair in cost_band]},
    )
