"""The growth model and the monthly level uncertainty (pure): compound growth carried forward, a launch kept as a
step, outages left out, and drift measured on the history's own monthly sums."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from forecasting.growth import TREND_DAMPING, fit_trend, holiday_labels, level_uncertainty, trend_points

DAYS_PER_MONTH = 30.44
WEEKDAY = np.array([1.0, 1.05, 1.1, 1.05, 0.95, 0.45, 0.4])


def usage(days: int, *, monthly_growth: float, noise: float = 0.12, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return 1e7 * (1 + monthly_growth) ** (t / DAYS_PER_MONTH) * WEEKDAY[t % 7] * np.exp(rng.normal(0, noise, days))


def monthly_rate(slope: float) -> float:
    return float(np.exp(slope * DAYS_PER_MONTH) - 1)


@pytest.mark.parametrize(("growth", "days"), [(0.08, 150), (0.15, 90), (0.02, 400), (-0.05, 200)])
def test_compound_growth_is_measured_and_carried_forward(growth: float, days: int) -> None:
    y = usage(days, monthly_growth=growth)

    fit = fit_trend(y)

    assert monthly_rate(fit.slope) == pytest.approx(growth, abs=0.02)
    assert fit.break_age is None and fit.step == 0.0
    # Ninety days ahead, the forecast's last week against the history's last week: the growth goes on (lightly
    # damped), it is not flattened.
    forecast = trend_points(y, 91)
    carried = forecast[-7:].sum() / y[-7:].sum()
    damped_days = TREND_DAMPING * (1 - TREND_DAMPING**91) / (1 - TREND_DAMPING)
    expected = (1 + growth) ** (damped_days / DAYS_PER_MONTH)
    assert carried == pytest.approx(expected, rel=0.08)


def test_a_launch_step_is_a_step_not_a_slope() -> None:
    y = usage(200, monthly_growth=0.03, seed=2)
    y[150:] *= 1.7  # a workload opened to every customer 50 days ago

    fit = fit_trend(y)

    assert fit.step == pytest.approx(np.log(1.7), abs=0.06)
    assert fit.break_age == pytest.approx(50, abs=3)
    assert monthly_rate(fit.slope) == pytest.approx(0.03, abs=0.015)  # a slope alone would read about 12%/month
    # The level after the launch is where the forecast starts.
    assert trend_points(y, 7).sum() == pytest.approx(y[-28:].sum() / 4, rel=0.08)


def test_outage_days_do_not_move_the_level() -> None:
    y = usage(180, monthly_growth=0.05, seed=3)
    broken = y.copy()
    broken[-10:-7] = 0.0  # three days of nothing (an outage or a missed export)

    assert trend_points(broken, 28).sum() == pytest.approx(trend_points(y, 28).sum(), rel=0.02)


def test_monthly_drift_is_small_for_steady_usage_and_large_for_a_wandering_level() -> None:
    steady = usage(400, monthly_growth=0.03, noise=0.12, seed=4)
    rng = np.random.default_rng(5)
    wandering = steady * np.exp(np.cumsum(rng.normal(0, 0.02, 400)))  # the level takes a 2%-a-day random walk

    quiet, loud = level_uncertainty(steady), level_uncertainty(wandering)

    assert quiet.errors > 50 and loud.errors > 50
    assert quiet.drift_sigma < 0.006
    assert loud.drift_sigma > 2 * quiet.drift_sigma
    assert loud.drift_sigma > 0.012


def test_noise_autocorrelation_is_measured_from_the_residuals() -> None:
    rng = np.random.default_rng(6)
    days = 300
    shocks = rng.normal(0, 0.1, days)
    persistent = np.zeros(days)
    for day in range(1, days):
        persistent[day] = 0.6 * persistent[day - 1] + shocks[day]
    t = np.arange(days)
    y = 1e6 * WEEKDAY[t % 7] * np.exp(persistent)

    assert level_uncertainty(y).noise_autocorrelation == pytest.approx(0.6, abs=0.15)
    assert level_uncertainty(usage(300, monthly_growth=0.02, seed=7)).noise_autocorrelation < 0.15


def test_a_short_history_gets_the_prior() -> None:
    uncertainty = level_uncertainty(usage(40, monthly_growth=0.1))

    assert uncertainty.errors == 0
    assert uncertainty.drift_sigma == pytest.approx(0.005)


def test_public_holidays_seen_in_the_history_are_forecast_again() -> None:
    first, cut = date(2024, 1, 1), date(2025, 9, 30)
    history_days = (cut - first).days + 1
    labels = holiday_labels(first, history_days + 92, "US")
    y = usage(history_days, monthly_growth=0.03, noise=0.05, seed=8)
    for offset, name in enumerate(labels[:history_days]):
        if name in ("Christmas Day", "Thanksgiving Day"):
            y[offset] *= 0.3  # the office is closed

    fit = fit_trend(y, holidays=labels[:history_days])
    forecast = trend_points(y, 92, labels)
    plain = trend_points(y, 92)

    # The year's window holds one Thanksgiving and one Christmas: each gets its own effect, measured.
    assert fit.holiday_effects["Christmas Day"] == pytest.approx(np.log(0.3), abs=0.15)
    assert fit.holiday_effects["Thanksgiving Day"] == pytest.approx(np.log(0.3), abs=0.15)
    assert abs(fit.holiday_effects["Independence Day"]) < 0.15  # not a dip in this usage
    for day in (date(2025, 11, 27), date(2025, 12, 25)):  # Thanksgiving and Christmas ahead
        offset = (day - cut).days - 1
        assert labels[history_days + offset] in ("Thanksgiving Day", "Christmas Day")
        assert forecast[offset] == pytest.approx(0.3 * plain[offset], rel=0.15)
    # Other days are forecast as without holidays.
    ordinary = [offset for offset in range(92) if not labels[history_days + offset]]
    assert forecast[ordinary] == pytest.approx(plain[ordinary], rel=0.05)
