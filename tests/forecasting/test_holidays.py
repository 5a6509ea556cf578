"""Organization holidays in forecasts: Prophet learns a country's public holidays and the service passes them on."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from forecasting.engine import forecast_daily, reusable_prophet_fit, validate_holiday_country
from forecasting.models import ForecastSeries

START = pd.Timestamp("2023-01-02")
DAYS = 3 * 364  # three years of history, to 2025-12-29


def usage_with_holiday_dips() -> pd.DataFrame:
    """Weekday-heavy usage that drops to 20% on every US public holiday (a company closed on holidays)."""
    rng = np.random.default_rng(11)
    ds = pd.date_range(START, periods=DAYS, freq="D")
    us_holidays = holidays.country_holidays("US", years=range(2023, 2027))
    weekday = np.where(ds.dayofweek < 5, 1.0, 0.4)
    closed = np.array([0.2 if day.date() in us_holidays else 1.0 for day in ds])
    values = 100_000.0 * weekday * closed * np.exp(rng.normal(0.0, 0.05, DAYS))
    return pd.DataFrame({"ds": ds, "y": values})


def test_prophet_with_the_country_forecasts_next_years_holidays_as_dips() -> None:
    history = usage_with_holiday_dips()
    with_holidays = forecast_daily(history, horizon_days=365, model="prophet", holiday_country="US")
    without = forecast_daily(history, horizon_days=365, model="prophet")
    by_day = {
        frame_name: result.frame.set_index("ds")["yhat"]
        for frame_name, result in (("with", with_holidays), ("without", without))
    }

    # Thanksgiving 2026 is Thursday 26 November; compare with the Thursday a week before.
    thanksgiving, week_before = pd.Timestamp("2026-11-26"), pd.Timestamp("2026-11-19")
    assert by_day["with"][thanksgiving] < 0.4 * by_day["with"][week_before]
    assert by_day["without"][thanksgiving] > 0.8 * by_day["without"][week_before]
    assert "US public holidays" in with_holidays.reason
    assert with_holidays.prophet_fit.holiday_country == "US"
    assert "holidays" not in without.reason


def test_a_fit_made_without_the_country_is_refitted_when_the_country_is_set() -> None:
    history = usage_with_holiday_dips().iloc[:400]
    plain = forecast_daily(history, horizon_days=30, model="prophet")

    kept, note = reusable_prophet_fit(plain.prophet_fit, history["y"].to_numpy(), START, 30, "US")

    assert kept is None
    assert note == "prophet refitted: the organization's holiday country changed"


@pytest.mark.parametrize("code", ["XX", "usa ", 7])
def test_an_unknown_country_is_refused(code) -> None:
    with pytest.raises(ValueError, match="holiday country must be a country code of the holidays package"):
        validate_holiday_country(code)
    with pytest.raises(ValueError, match="holiday country must be"):
        forecast_daily(usage_with_holiday_dips().iloc[:100], horizon_days=7, holiday_country=code)


def test_forecast_csv_takes_holidays_and_refuses_an_unknown_country(tmp_path, capsys) -> None:
    path = tmp_path / "series.csv"
    usage_with_holiday_dips().to_csv(path, index=False)

    call_command("forecast_csv", str(path), "--horizon", "7", "--holidays", "US")
    assert "US public holidays" in capsys.readouterr().err

    with pytest.raises(CommandError, match="holiday country must be a country code"):
        call_command("forecast_csv", str(path), "--horizon", "7", "--holidays", "Atlantis")


@pytest.mark.django_db
def test_an_organization_holiday_country_is_validated(organization) -> None:
    organization.holiday_country = "ZZ"
    with pytest.raises(ValidationError, match="not a country code of the holidays package"):
        organization.full_clean()
    organization.holiday_country = "GB"
    organization.full_clean()


@pytest.mark.django_db
def test_runs_use_the_organization_holiday_country(organization, django_capture_on_commit_callbacks) -> None:
    from tests.forecasting.test_services import LEAVES, make_history, run_forecast

    organization.holiday_country = "US"
    organization.save()
    make_history(organization, 70, leaves=LEAVES[:1])
    first = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)
    ForecastSeries.objects.filter(run=first).update(
        backtest={"selected": "prophet", "selected_on": date.today().isoformat()}
    )

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)

    assert run.holiday_country == "US"
    series = run.series.get(kind="workload")
    assert "US public holidays" in series.model_reason
    assert series.prophet_fit["holiday_country"] == "US"
    assert run.history_end == date(2026, 1, 1) + timedelta(days=69)
