"""Forecast runs in-process against PostgreSQL: stored points, costs, failures, re-runs, API scoping."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from forecasting.models import ForecastPoint, ForecastRun
from forecasting.services import forecast_run_create, forecast_run_execute
from tests.factories import LedgerEntryFactory

pytestmark = pytest.mark.django_db


def make_history(organization, days: int, *, start: date = date(2026, 1, 1)) -> None:
    for offset in range(days):
        day = start + timedelta(days=offset)
        quantity = 1_000_000 + 10_000 * offset + (0 if day.weekday() < 5 else -600_000)
        LedgerEntryFactory(
            organization=organization, date=day, quantity=quantity, cost=Decimal(quantity) * Decimal("0.000002")
        )


def test_a_run_stores_daily_points_with_intervals_and_cost(organization) -> None:
    make_history(organization, 120)
    run = forecast_run_create(organization=organization, horizon_days=30)

    run = forecast_run_execute(run_id=run.pk)

    assert run.status == ForecastRun.Status.SUCCEEDED
    assert run.model_name == "prophet"
    assert run.history_start == date(2026, 1, 1)
    assert run.history_end == date(2026, 4, 30)
    assert run.cost_per_million_tokens == Decimal("2.000000")
    points = list(run.points.all())
    assert [p.date for p in points] == [date(2026, 5, 1) + timedelta(days=i) for i in range(30)]
    assert all(p.tokens_lower <= p.tokens <= p.tokens_upper for p in points)
    assert all(p.cost == (Decimal(p.tokens) * Decimal("0.000002")).quantize(Decimal("0.01")) for p in points)


def test_short_history_uses_the_simple_model_and_says_why(organization) -> None:
    make_history(organization, 20)

    run = forecast_run_execute(run_id=forecast_run_create(organization=organization, horizon_days=14).pk)

    assert run.model_name == "seasonal_naive"
    assert "20" in run.model_reason
    assert run.points.count() == 14


def test_an_empty_ledger_fails_the_run_with_a_reason(organization) -> None:
    run = forecast_run_execute(run_id=forecast_run_create(organization=organization).pk)

    assert run.status == ForecastRun.Status.FAILED
    assert run.error == "no usage in the ledger yet: upload an export first"
    assert ForecastPoint.objects.count() == 0


def test_executing_a_finished_run_again_changes_nothing(organization) -> None:
    make_history(organization, 30)
    run = forecast_run_execute(run_id=forecast_run_create(organization=organization, horizon_days=7).pk)
    before = list(run.points.values_list("id", "tokens"))

    forecast_run_execute(run_id=run.pk)

    assert list(run.points.values_list("id", "tokens")) == before


@pytest.mark.parametrize(("horizon", "interval"), [(0, 0.8), (731, 0.8), (30, 1.0)])
def test_bad_parameters_are_refused(organization, horizon, interval) -> None:
    with pytest.raises(ValueError):
        forecast_run_create(organization=organization, horizon_days=horizon, interval_width=interval)


def test_latest_api_is_scoped_to_the_callers_organizations(
    organization, analyst, outsider, api_client_for, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 30)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(analyst).post("/api/v1/forecasts/", {"organization": "acme", "horizon_days": 10})
    assert response.status_code == 202

    mine = api_client_for(analyst).get("/api/v1/forecasts/latest/", {"organization": "acme"})
    theirs = api_client_for(outsider).get("/api/v1/forecasts/latest/", {"organization": "acme"})

    assert mine.status_code == 200
    assert len(mine.json()["points"]) == 10
    assert theirs.status_code == 404
