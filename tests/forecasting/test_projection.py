"""Tests of the pure price projection: steps, policies and scenarios by hand, floors, fade, elasticity, fitting, MC."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import projection
from forecasting.projection import (
    BASE,
    CheapestPricePoint,
    ModelPriceRecord,
    PriceSchedule,
    PriceStep,
    batch_multiplier,
    blended_price,
    cheapest_at_bar_series,
    effective_unit_price,
    fit_decline_rate,
    get_scenario,
    normalize_steps,
    price_in_force,
    price_multiplier,
    price_multipliers,
    project_prices,
    sample_price_paths,
    volume_multiplier,
)

START = date(2026, 1, 1)
YEAR = 365.25  # days
MONTH = YEAR / 12  # days


def flat_schedule(input_price: str, output_price: str, since: date = date(2024, 1, 1)) -> PriceSchedule:
    return PriceSchedule.from_steps(
        {"input": [(since, Decimal(input_price))], "output": [(since, Decimal(output_price))]}
    )


def months_later(months: int) -> int:
    """Whole-day offset closest to ``months`` months after START (for array lookups)."""
    return round(months * MONTH)


# --------------------------------------------------------------------------- price steps


def test_price_in_force_is_the_latest_step_on_or_before_the_date_including_scheduled_ones():
    # given steps out of order, one of them a scheduled (future-dated) change
    steps = [(date(2026, 9, 1), Decimal("3")), (date(2024, 3, 4), Decimal("2")), (date(2025, 6, 1), Decimal("2.5"))]

    # then each date reads the step in force, and the scheduled change applies exactly on its date
    assert price_in_force(steps, date(2024, 3, 4)) == Decimal("2")
    assert price_in_force(steps, date(2025, 5, 31)) == Decimal("2")
    assert price_in_force(steps, date(2025, 6, 1)) == Decimal("2.5")
    assert price_in_force(steps, date(2026, 8, 31)) == Decimal("2.5")
    assert price_in_force(steps, date(2026, 9, 1)) == Decimal("3")
    assert price_in_force(steps, date(2030, 1, 1)) == Decimal("3")


def test_normalize_steps_sorts_and_converts_pairs_to_decimal_steps():
    steps = normalize_steps([(date(2025, 1, 1), 1.1), PriceStep(date(2024, 1, 1), Decimal("2"))])

    assert steps == (PriceStep(date(2024, 1, 1), Decimal("2")), PriceStep(date(2025, 1, 1), Decimal("1.1")))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one step"),
        ([(date(2024, 1, 1), Decimal("-1"))], "must not be negative"),
        ([(date(2024, 1, 1), Decimal("NaN"))], "finite"),
        ([(date(2024, 1, 1), Decimal("1")), (date(2024, 1, 1), Decimal("2"))], "two prices take effect on 2024-01-01"),
        ([(date(2024, 1, 1), "cheap")], "must be a number"),
        ([(date(2024, 1, 1),)], "pair"),
    ],
)
def test_invalid_steps_are_refused_with_a_clear_message(steps, message):
    with pytest.raises(ValueError, match=message):
        normalize_steps(steps)


def test_price_in_force_before_the_first_step_is_an_error():
    with pytest.raises(ValueError, match="no price in force on 2023-12-31"):
        price_in_force([(date(2024, 1, 1), Decimal("1"))], date(2023, 12, 31))


def test_schedule_refuses_unknown_token_types_and_a_start_before_its_prices():
    with pytest.raises(ValueError, match="unknown token type 'reasoning'"):
        PriceSchedule.from_steps({"reasoning": [(START, Decimal("1"))]})
    with pytest.raises(ValueError, match="at least one token type"):
        PriceSchedule.from_steps({})
    with pytest.raises(ValueError, match="no input price in force on 2026-01-01"):
        project_prices(flat_schedule("1", "2", since=date(2026, 2, 1)), start=START, horizon_days=10, policy="stay")


# --------------------------------------------------------------------------- stay and follow tier


def test_stay_base_carries_the_step_function_forward_and_honours_a_scheduled_change_on_its_date():
    # given $3/$15 today and a scheduled output increase to $18 on 2026-03-01 (day 59)
    schedule = PriceSchedule.from_steps(
        {
            "input": [(date(2024, 3, 1), Decimal("3"))],
            "output": [(date(2024, 3, 1), Decimal("15")), (date(2026, 3, 1), Decimal("18"))],
        }
    )

    # when projected under stay/base
    result = project_prices(schedule, start=START, horizon_days=120, policy="stay", scenario="base")

    # then the price is flat until the step, which lands on exactly its date; no drift
    change_day = (date(2026, 3, 1) - START).days
    assert change_day == 59
    output = result.unit_prices("output")
    assert output[change_day - 1] == 15.0
    assert output[change_day] == 18.0
    assert np.all(output[:change_day] == 15.0)
    assert np.all(output[change_day:] == 18.0)
    assert np.all(result.unit_prices("input") == 3.0)
    assert np.all(result.multipliers == 1.0)


@pytest.mark.parametrize(
    ("policy", "scenario", "annual_drift"),
    [
        ("stay", "conservative", 0.05),
        ("stay", "base", 0.0),
        ("stay", "aggressive", -0.25),
        ("follow_tier", "conservative", 0.20),
        ("follow_tier", "base", 0.0),
        ("follow_tier", "aggressive", -0.40),
    ],
)
def test_drift_compounds_continuously_from_the_forecast_start(policy, scenario, annual_drift):
    # one year later the multiplier is exactly 1 + drift; two years later its square; half a year its root
    assert price_multiplier(0, policy=policy, scenario=scenario) == 1.0
    assert price_multiplier(YEAR, policy=policy, scenario=scenario) == pytest.approx(1 + annual_drift, rel=1e-12)
    assert price_multiplier(2 * YEAR, policy=policy, scenario=scenario) == pytest.approx((1 + annual_drift) ** 2)
    assert price_multiplier(YEAR / 2, policy=policy, scenario=scenario) == pytest.approx((1 + annual_drift) ** 0.5)


def test_follow_tier_applies_its_drift_on_top_of_the_scheduled_steps():
    # given a scheduled cut of the current SKU from $10 to $2 input on 2026-07-01 (day 181)
    schedule = PriceSchedule.from_steps(
        {
            "input": [(date(2025, 1, 1), Decimal("10")), (date(2026, 7, 1), Decimal("2"))],
            "output": [(date(2025, 1, 1), Decimal("40")), (date(2026, 7, 1), Decimal("8"))],
        }
    )

    # when the vendor's tier is followed under the aggressive scenario (-40%/yr)
    result = project_prices(schedule, start=START, horizon_days=365, policy="follow_tier", scenario="aggressive")

    # then price(day) = scheduled step price x 0.6 ** (day / 365.25)
    day = 200
    assert (date(2026, 7, 1) - START).days == 181
    assert result.unit_prices("input")[180] == pytest.approx(10 * 0.6 ** (180 / YEAR))
    assert result.unit_prices("input")[day] == pytest.approx(2 * 0.6 ** (day / YEAR))
    assert result.unit_prices("output")[day] == pytest.approx(8 * 0.6 ** (day / YEAR))


# --------------------------------------------------------------------------- cheapest at bar


@pytest.mark.parametrize(
    ("tier", "scenario", "lag_months", "annual_factor"),
    [
        ("commodity", "conservative", 0, 5),
        ("commodity", "base", 0, 10),
        ("commodity", "aggressive", 0, 20),
        ("mid", "conservative", 3, 3),
        ("mid", "base", 1.5, 13),
        ("mid", "aggressive", 0, 40),
        ("frontier", "conservative", 12, 1),
        ("frontier", "base", 6, 10),
        ("frontier", "aggressive", 3, 40),
    ],
)
def test_cheapest_at_bar_is_flat_during_the_lag_then_declines_by_the_tier_factor(
    tier, scenario, lag_months, annual_factor
):
    def multiplier(months: float) -> float:
        return price_multiplier(months * MONTH, policy="cheapest_at_bar", scenario=scenario, tier=tier)

    # flat during the lag
    assert multiplier(0) == 1.0
    assert multiplier(lag_months) == pytest.approx(1.0)
    if lag_months:
        assert multiplier(lag_months / 2) == 1.0
    # then P0 * f ** -(t - L) / 12: six months and (where the cap allows) a year after the lag
    assert multiplier(lag_months + 6) == pytest.approx(annual_factor**-0.5, rel=1e-9)
    if annual_factor <= 13:  # 20x and 40x a year reach the 100x cap before month 24
        assert multiplier(lag_months + 12) == pytest.approx(1 / annual_factor, rel=1e-9)


def test_decline_is_capped_at_100x_within_the_first_24_months():
    # mid/aggressive falls 40x a year from day 0: 1/40 after a year, and 40 ** -1.5 = 1/253 would pass the cap
    def multiplier(months: float) -> float:
        return price_multiplier(months * MONTH, policy="cheapest_at_bar", scenario="aggressive", tier="mid")

    assert multiplier(12) == pytest.approx(1 / 40)
    cap_reached_at = 12 * math.log(100) / math.log(40)  # 14.98 months
    assert multiplier(cap_reached_at - 0.5) > 0.01
    assert multiplier(18) == pytest.approx(0.01, rel=1e-12)
    assert multiplier(23.9) == pytest.approx(0.01, rel=1e-12)


def test_after_month_24_the_capped_decline_resumes_at_the_fading_rate():
    # mid/aggressive sits at the cap (0.01) at month 24; over months 24-36 the rate blends from 40x to 3x a year
    # (mean log rate (ln 40 + ln 3) / 2, i.e. sqrt(120)x over that year), then 3x a year.
    def multiplier(months: float) -> float:
        return price_multiplier(months * MONTH, policy="cheapest_at_bar", scenario="aggressive", tier="mid")

    assert multiplier(24) == pytest.approx(0.01)
    assert multiplier(36) == pytest.approx(0.01 / math.sqrt(120), rel=1e-9)
    assert multiplier(48) == pytest.approx(0.01 / math.sqrt(120) / 3, rel=1e-9)


def test_fade_blends_the_rate_toward_3x_a_year_between_months_24_and_36():
    # commodity/base: 10x a year, exactly 100x (the cap, not exceeded) at month 24
    def multiplier(months: float) -> float:
        return price_multiplier(months * MONTH, policy="cheapest_at_bar", scenario="base", tier="commodity")

    assert multiplier(24) == pytest.approx(0.01, rel=1e-12)
    # months 24-30: integral of ln 10 + (ln 3 - ln 10) (s - 24) / 12 over 6 months, per 12 months
    # = (6 ln 10 + (ln 3 - ln 10) * 36 / 24) / 12 = (4.5 ln 10 + 1.5 ln 3) / 12
    assert multiplier(30) / multiplier(24) == pytest.approx(10**-0.375 * 3**-0.125, rel=1e-9)
    assert multiplier(36) == pytest.approx(0.01 / math.sqrt(30), rel=1e-9)
    # after month 36 the rate is 3x a year
    assert multiplier(48) / multiplier(36) == pytest.approx(1 / 3, rel=1e-9)
    assert multiplier(60) / multiplier(48) == pytest.approx(1 / 3, rel=1e-9)


def test_fade_never_speeds_up_a_decline_slower_than_3x_a_year():
    # mid/conservative declines 3x a year after a 3-month lag: unchanged past month 24
    mid = price_multipliers(
        np.array([24, 36, 48]) * MONTH, policy="cheapest_at_bar", scenario="conservative", tier="mid"
    )
    assert mid[1] / mid[0] == pytest.approx(1 / 3)
    assert mid[2] / mid[1] == pytest.approx(1 / 3)
    # frontier/conservative is flat (1x a year) and stays flat
    frontier = price_multipliers(
        np.arange(0, 2000, 50), policy="cheapest_at_bar", scenario="conservative", tier="frontier"
    )
    assert np.all(frontier == 1.0)


def test_blended_floor_stops_the_decline_at_two_cents_per_million_blended():
    # given a cheap SKU: $0.04 input, $0.08 output -> blended (3 x 0.04 + 0.08) / 4 = $0.05
    schedule = flat_schedule("0.04", "0.08")

    # when its commodity bar falls 10x a year
    result = project_prices(
        schedule, start=START, horizon_days=400, policy="cheapest_at_bar", scenario="base", tier="commodity"
    )

    # then at 3 months it is unfloored, at a year the blended price sits exactly on $0.02 and every token type
    # is scaled by the same 0.02 / 0.05 = 0.4
    day = months_later(3)
    assert result.blended_prices()[day] == pytest.approx(0.05 * 10 ** (-day / YEAR))
    assert result.blended_prices()[365] == pytest.approx(0.02, rel=1e-12)
    assert result.unit_prices("input")[365] == pytest.approx(0.016)
    assert result.unit_prices("output")[365] == pytest.approx(0.032)
    assert result.blended_prices().min() == pytest.approx(0.02, rel=1e-12)


def test_blended_floor_follows_a_given_mix():
    # with an output-only mix the blended price is the output price, $0.04 -> floor multiplier 0.5
    result = project_prices(
        flat_schedule("0.01", "0.04"),
        start=START,
        horizon_days=400,
        policy="cheapest_at_bar",
        tier="commodity",
        mix={"output": 1.0},
    )

    assert result.unit_prices("output")[365] == pytest.approx(0.02)
    assert result.unit_prices("input")[365] == pytest.approx(0.005)


def test_a_sku_already_below_the_floor_is_not_projected_further_down():
    schedule = flat_schedule("0.01", "0.01")

    stay = project_prices(schedule, start=START, horizon_days=400, policy="stay", scenario="aggressive")
    cheapest = project_prices(schedule, start=START, horizon_days=400, policy="cheapest_at_bar", tier="commodity")

    assert np.all(stay.multipliers == 1.0)
    assert np.all(cheapest.multipliers == 1.0)


def test_aggressive_stay_drift_is_floored_at_two_cents_blended():
    # $0.025 blended falls 25% a year: 0.025 * 0.75 ** (t / 365.25) reaches $0.02 after 0.776 years
    result = project_prices(
        flat_schedule("0.025", "0.025"), start=START, horizon_days=730, policy="stay", scenario="aggressive"
    )

    assert result.blended_prices()[100] == pytest.approx(0.025 * 0.75 ** (100 / YEAR))
    assert result.blended_prices()[400] == pytest.approx(0.02, rel=1e-12)
    assert result.blended_prices()[729] == pytest.approx(0.02, rel=1e-12)


def test_cheapest_at_bar_is_never_dearer_than_a_scheduled_cut_of_the_current_sku():
    # given an 80% cut of the current SKU on 2026-02-01 (day 31), before the frontier lag (6 months) ends
    schedule = PriceSchedule.from_steps(
        {
            "input": [(date(2025, 1, 1), Decimal("10")), (date(2026, 2, 1), Decimal("2"))],
            "output": [(date(2025, 1, 1), Decimal("40")), (date(2026, 2, 1), Decimal("8"))],
        }
    )

    result = project_prices(schedule, start=START, horizon_days=730, policy="cheapest_at_bar", tier="frontier")

    # then the SKU's own cut price applies from its date (the SKU meets its own bar)
    assert result.unit_prices("input")[30] == 10.0
    assert result.unit_prices("input")[31] == 2.0
    assert result.unit_prices("output")[31] == 8.0
    # and once the decline goes below the cut price (0.1 x today's $17.50 at month 6 + 12, against $3.50) it wins
    day = months_later(18)
    blended_today = (3 * 10 + 40) / 4
    assert result.blended_prices()[day] == pytest.approx(blended_today * 10 ** -((day / MONTH - 6) / 12))
    assert result.blended_prices()[day] < (3 * 2 + 8) / 4


def test_cheapest_at_bar_ignores_a_scheduled_increase_of_the_current_sku():
    # given a doubling of the output price on day 10: moving to the cheapest model at the bar escapes it
    schedule = PriceSchedule.from_steps(
        {
            "input": [(date(2025, 1, 1), Decimal("1"))],
            "output": [(date(2025, 1, 1), Decimal("4")), (date(2026, 1, 11), Decimal("8"))],
        }
    )

    result = project_prices(schedule, start=START, horizon_days=200, policy="cheapest_at_bar", tier="commodity")

    # then the blended price follows today's blended price ($1.75) times the decline, not the increase
    assert result.blended_prices()[100] == pytest.approx(1.75 * 10 ** (-100 / YEAR))
    assert result.reference_prices["output"][100] == 8.0


def test_project_prices_records_what_it_projected():
    result = project_prices(
        flat_schedule("3", "15"),
        start=START,
        horizon_days=30,
        policy="cheapest_at_bar",
        scenario="aggressive",
        tier="mid",
    )

    assert result.horizon_days == 30
    assert result.policy == "cheapest_at_bar"
    assert result.scenario is projection.AGGRESSIVE
    assert result.tier == "mid"
    assert dict(result.mix) == {"input": 0.75, "output": 0.25}
    assert result.unit_prices("input").shape == (30,)


# --------------------------------------------------------------------------- batch and caching


def test_batch_discount_halves_input_and_output_for_the_batch_share_only():
    assert batch_multiplier("input", 0.4) == pytest.approx(0.8)
    assert batch_multiplier("output", 1.0) == 0.5
    assert batch_multiplier("output", 0.0) == 1.0
    assert batch_multiplier("cached_input", 0.4) == 1.0
    assert batch_multiplier("cache_write", 1.0) == 1.0


def test_effective_unit_price_uses_the_cached_input_price_or_falls_back_to_input():
    with_cache = {"input": 2.0, "output": 8.0, "cached_input": 0.5}
    without_cache = {"input": 2.0, "output": 8.0}

    assert effective_unit_price("cached_input", with_cache, batch_share=0.5) == 0.5
    assert effective_unit_price("cached_input", without_cache) == 2.0
    assert effective_unit_price("cache_write", without_cache) == 2.0
    assert effective_unit_price("output", with_cache, batch_share=0.5) == 6.0
    with pytest.raises(ValueError, match="no output price"):
        effective_unit_price("output", {"input": 1.0})


def test_projected_unit_prices_apply_batch_share_and_cached_input_fallback():
    result = project_prices(flat_schedule("2", "8"), start=START, horizon_days=5, policy="stay")

    assert np.all(result.unit_prices("input", batch_share=0.5) == 1.5)
    assert np.all(result.unit_prices("output", batch_share=1.0) == 4.0)
    assert np.all(result.unit_prices("cached_input", batch_share=1.0) == 2.0)


@pytest.mark.parametrize("share", [-0.1, 1.5, math.nan])
def test_batch_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="batch_share must be between 0 and 1"):
        batch_multiplier("input", share)


def test_blended_price_weights_three_input_to_one_output_by_default():
    assert blended_price({"input": 30.0, "output": 60.0}) == 37.5  # GPT-4-0314 in Epoch's convention
    assert blended_price({"input": 1.0, "output": 5.0, "cached_input": 0.1}, {"input": 1, "cached_input": 1}) == 0.55
    assert blended_price({"input": 2.0}) == 2.0  # an input-only SKU (embeddings): output drops out of the mix
    with pytest.raises(ValueError, match="gives no weight to a priced token type"):
        blended_price({"cached_input": 1.0})


# --------------------------------------------------------------------------- demand elasticity


def test_volume_multiplier_is_a_constant_elasticity_demand_curve():
    # a 10x cheaper token with elasticity 0.3 brings 10 ** 0.3 = 1.9953x the tokens
    assert volume_multiplier(0.1, 0.3) == pytest.approx(1.9952623149688795, rel=1e-12)
    # twice the price with elasticity 0.5 keeps 1 / sqrt(2) of the tokens
    assert volume_multiplier(2.0, 0.5) == pytest.approx(0.7071067811865476)
    # elasticity 0: volume ignores price
    assert volume_multiplier(0.01, 0.0) == 1.0
    np.testing.assert_allclose(volume_multiplier(np.array([1.0, 0.5, 0.25]), 1.0), [1.0, 2.0, 4.0])


def test_projection_volume_multipliers_use_the_scenario_elasticity():
    elastic_base = dataclasses.replace(BASE, elasticity=0.5)

    result = project_prices(
        flat_schedule("3", "15"),
        start=START,
        horizon_days=400,
        policy="cheapest_at_bar",
        scenario=elastic_base,
        tier="commodity",
    )

    # a year on the price is 10 ** (-365 / 365.25) of today's, so volume is 10 ** (0.5 * 365 / 365.25) times
    assert result.price_ratios()[365] == pytest.approx(10 ** (-365 / YEAR))
    assert result.volume_multipliers()[365] == pytest.approx(10 ** (0.5 * 365 / YEAR))
    assert result.volume_multipliers()[0] == 1.0
    assert np.all(
        project_prices(flat_schedule("3", "15"), start=START, horizon_days=10, policy="stay").volume_multipliers()
        == 1.0
    )


@pytest.mark.parametrize("elasticity", [-0.1, math.inf, math.nan])
def test_negative_or_non_finite_elasticity_is_refused(elasticity):
    with pytest.raises(ValueError, match="elasticity must be a non-negative number"):
        volume_multiplier(0.5, elasticity)
    with pytest.raises(ValueError, match="elasticity must be a non-negative number"):
        dataclasses.replace(BASE, elasticity=elasticity)


def test_volume_multiplier_refuses_non_positive_price_ratios():
    with pytest.raises(ValueError, match="positive"):
        volume_multiplier(0.0, 0.3)
    with pytest.raises(ValueError, match="positive"):
        volume_multiplier(np.array([1.0, -1.0]), 0.3)


# --------------------------------------------------------------------------- rate fitting


def monthly_points(count: int, *, first: date = date(2024, 1, 1)) -> list[date]:
    months = []
    month = first
    for _ in range(count):
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def test_fit_decline_rate_recovers_an_exact_exponential():
    # given 25 monthly prices falling exactly 10x a year, with the cheapest model changing 4 times
    months = monthly_points(25)
    models = ["a"] * 5 + ["b"] * 5 + ["c"] * 5 + ["d"] * 5 + ["e"] * 5
    points = [
        (month, 30.0 * 10 ** (-(month - months[0]).days / YEAR), model)
        for month, model in zip(months, models, strict=True)
    ]

    fit = fit_decline_rate(points)

    assert fit.annual_factor == pytest.approx(10.0, rel=1e-9)
    assert fit.ols_annual_factor == pytest.approx(10.0, rel=1e-9)
    assert fit.ci90 == pytest.approx((10.0, 10.0), rel=1e-6)
    assert fit.shrinkage_applied is False
    assert fit.n_points == 25
    assert (fit.window_start, fit.window_end, fit.window_months) == (date(2024, 1, 1), date(2026, 1, 1), 24)
    assert fit.cheapest_model_changes == 4


@pytest.mark.parametrize("count", [10, 30])  # 8 residual dof (tabulated t) and 28 (expansion)
def test_fit_decline_rate_ci_matches_scipy_linregress(count):
    stats = pytest.importorskip("scipy.stats")
    # given a noisy decline of about 13x a year, the cheapest model changing every month
    months = monthly_points(count)
    rng = np.random.default_rng(7)
    years = np.array([(month - months[0]).days / YEAR for month in months])
    prices = 20.0 * np.exp(-math.log(13) * years + rng.normal(0, 0.3, count))
    points = [
        (month, float(price), f"model-{index}") for index, (month, price) in enumerate(zip(months, prices, strict=True))
    ]

    fit = fit_decline_rate(points)

    reference = stats.linregress(years, np.log(prices))
    half_width = stats.t.ppf(0.95, count - 2) * reference.stderr
    assert fit.shrinkage_applied is (count < 13)  # 10 monthly points span 9 months: shrunk
    assert fit.ols_annual_factor == pytest.approx(math.exp(-reference.slope), rel=1e-9)
    assert fit.ols_ci90[0] == pytest.approx(math.exp(-reference.slope - half_width), rel=1e-4)
    assert fit.ols_ci90[1] == pytest.approx(math.exp(-reference.slope + half_width), rel=1e-4)
    assert fit.ols_ci90[0] < 13 < fit.ols_ci90[1]


def test_fit_decline_rate_shrinks_a_short_window_toward_the_prior():
    # given six months of a steep, noisy decline (about 100x a year): a window under 12 months
    months = monthly_points(6, first=date(2025, 3, 1))
    noise = [0.2, -0.2, 0.2, -0.2, 0.2, -0.2]
    years = [(month - months[0]).days / YEAR for month in months]
    log_prices = [math.log(5.0) - math.log(100) * year + wobble for year, wobble in zip(years, noise, strict=True)]
    points = [
        (month, math.exp(value), f"m{i}") for i, (month, value) in enumerate(zip(months, log_prices, strict=True))
    ]

    fit = fit_decline_rate(points, prior_annual_factor=13.0)

    # then by hand: OLS slope and its standard error, then the precision-weighted mean with prior SD ln 3 / 1.645
    n = len(years)
    mean_x, mean_y = sum(years) / n, sum(log_prices) / n
    sxx = sum((x - mean_x) ** 2 for x in years)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(years, log_prices, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    ssr = sum((y - intercept - slope * x) ** 2 for x, y in zip(years, log_prices, strict=True))
    variance = ssr / (n - 2) / sxx
    prior_variance = (math.log(3) / 1.645) ** 2
    posterior = (-slope / variance + math.log(13) / prior_variance) / (1 / variance + 1 / prior_variance)
    posterior_sd = (1 / variance + 1 / prior_variance) ** -0.5

    assert fit.shrinkage_applied is True
    assert fit.window_months == 5
    assert fit.ols_annual_factor == pytest.approx(math.exp(-slope), rel=1e-9)
    assert fit.annual_factor == pytest.approx(math.exp(posterior), rel=1e-9)
    assert 13.0 < fit.annual_factor < fit.ols_annual_factor
    assert fit.ci90 == pytest.approx(
        (math.exp(posterior - 1.6448536 * posterior_sd), math.exp(posterior + 1.6448536 * posterior_sd)), rel=1e-6
    )


def test_fit_decline_rate_shrinks_when_the_cheapest_model_rarely_changed():
    # two years of noisy points, but one model throughout: only its price cuts moved the minimum
    months = monthly_points(24)
    rng = np.random.default_rng(3)
    points = [
        (month, 10.0 * 20 ** (-(month - months[0]).days / YEAR) * math.exp(rng.normal(0, 0.2)), "only-model")
        for month in months
    ]

    fit = fit_decline_rate(points, prior_annual_factor=10.0)

    assert fit.cheapest_model_changes == 0
    assert fit.window_months == 23
    assert fit.shrinkage_applied is True
    assert min(10.0, fit.ols_annual_factor) < fit.annual_factor < max(10.0, fit.ols_annual_factor)


def test_fit_decline_rate_counts_price_changes_when_points_carry_no_model():
    points = [(date(2024, 1, 1), 8.0), (date(2024, 2, 1), 8.0), (date(2024, 3, 1), 4.0), (date(2024, 4, 1), 4.0)]

    assert fit_decline_rate(points).cheapest_model_changes == 1


def test_fit_decline_rate_on_two_points_returns_the_prior():
    # two points fit exactly and carry no standard error: the prior decides
    fit = fit_decline_rate([(date(2025, 1, 1), 10.0), (date(2025, 7, 1), 1.0)], prior_annual_factor=13.0)

    assert fit.shrinkage_applied is True
    assert fit.annual_factor == pytest.approx(13.0)
    assert fit.ols_ci90 == (0.0, math.inf)
    assert fit.ci90 == pytest.approx((13.0 / 3.0, 13.0 * 3.0), rel=1e-3)  # prior SD ln 3 / 1.645


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(date(2025, 1, 1), 1.0)], "at least 2 points"),
        ([(date(2025, 1, 1), 1.0), (date(2025, 1, 1), 2.0)], "at least two dates"),
        ([(date(2025, 1, 1), 1.0), (date(2025, 2, 1), 0.0)], "positive"),
        ([(date(2025, 1, 1), 1.0), (date(2025, 2, 1), -3.0)], "positive"),
        ([("2025-01-01", 1.0), (date(2025, 2, 1), 1.0)], "must be a date"),
    ],
)
def test_fit_decline_rate_refuses_unusable_points(points, message):
    with pytest.raises(ValueError, match=message):
        fit_decline_rate(points)


def test_cheapest_at_bar_series_takes_the_monthly_minimum_among_models_at_the_bar():
    # given three models at the bar, one below it and one unscored
    prices = [
        ("openai", "big", date(2024, 1, 10), 30, 60),  # blended 37.5
        ("anthropic", "mid", date(2024, 3, 1), 3, 15),  # blended 6
        ("google", "flash", date(2024, 3, 20), 1, 5),  # blended 2, from 20 March
        ("google", "flash", date(2024, 5, 15), 0.5, 1),  # a cut in mid May: blended 0.625
        ("google", "flash", date(2024, 6, 10), 2, 4),  # an increase in mid June: blended 2.5
        ("tiny", "weak", date(2024, 1, 1), 0.01, 0.01),  # below the bar
        ("tiny", "unscored", date(2024, 1, 1), 0.01, 0.01),  # no score
    ]
    scores = [("big", 1300.0), ("mid", 1290.0), ("flash", 1295.0), ("weak", 1100.0)]

    series = cheapest_at_bar_series(prices, scores, 1290.0, through=date(2024, 7, 31))

    assert [(point.month, point.usd_per_million, point.model) for point in series] == [
        (date(2024, 1, 1), 37.5, "big"),
        (date(2024, 2, 1), 37.5, "big"),
        (date(2024, 3, 1), 2.0, "flash"),  # flash launched mid-month: the month's minimum counts it
        (date(2024, 4, 1), 2.0, "flash"),
        (date(2024, 5, 1), 0.625, "flash"),
        (date(2024, 6, 1), 0.625, "flash"),  # the lowest price in force during June was before the increase
        (date(2024, 7, 1), 2.5, "flash"),
    ]
    assert series[0] == CheapestPricePoint(month=date(2024, 1, 1), usd_per_million=37.5, provider="openai", model="big")


def test_cheapest_at_bar_series_honours_the_mix_the_providers_and_the_bar():
    prices = [
        ModelPriceRecord("openai", "a", date(2024, 1, 1), 4.0, 4.0, cached_input_usd_per_million=1.0),
        ModelPriceRecord("google", "b", date(2024, 1, 1), 1.5, 8.0),
    ]
    scores = {"a": 10.0, "b": 10.0}

    # a cache-heavy mix prefers a (cached input $1 against b's input $1.5, as b lists no cached price);
    # the default 3:1 mix prefers b ($3.125 against $4)
    by_cache = cheapest_at_bar_series(prices, scores, 10.0, mix={"cached_input": 1.0})
    by_default = cheapest_at_bar_series(prices, scores, 10.0)
    only_openai = cheapest_at_bar_series(prices, scores, 10.0, providers=["openai"])
    above_everyone = cheapest_at_bar_series(prices, scores, 10.5)

    assert [(point.model, point.usd_per_million) for point in by_cache] == [("a", 1.0)]
    assert [(point.model, point.usd_per_million) for point in by_default] == [("b", 3.125)]
    assert [point.model for point in only_openai] == ["a"]
    assert above_everyone == []


def test_cheapest_at_bar_series_feeds_the_fit():
    # given a new cheapest model every 3 months, each 10 ** 0.25 cheaper: exactly 10x a year in steps
    prices = [
        ("p", f"m{index}", month, 8.0 * 10 ** (-index / 4), 8.0 * 10 ** (-index / 4))
        for index, month in enumerate(monthly_points(25)[::3])
    ]
    scores = [(f"m{index}", 1.0) for index in range(9)]

    fit = fit_decline_rate(cheapest_at_bar_series(prices, scores, 1.0))

    assert fit.n_points == 25
    assert fit.cheapest_model_changes == 8
    assert fit.shrinkage_applied is False
    assert 8.0 < fit.annual_factor < 12.5  # a staircase fits close to its 10x trend


def test_cheapest_at_bar_series_refuses_bad_records_and_scores():
    with pytest.raises(ValueError, match="input price must be >= 0"):
        cheapest_at_bar_series([("p", "m", date(2024, 1, 1), -1, 1)], [("m", 1.0)], 0.0)
    with pytest.raises(ValueError, match="two scores"):
        cheapest_at_bar_series([], [("m", 1.0), ("m", 2.0)], 0.0)
    with pytest.raises(ValueError, match="two prices on 2024-01-01"):
        cheapest_at_bar_series(
            [("p", "m", date(2024, 1, 1), 1, 1), ("p", "m", date(2024, 1, 1), 2, 2)], [("m", 1.0)], 0.0
        )


# --------------------------------------------------------------------------- Monte Carlo


def test_sample_price_paths_is_reproducible_with_a_seed():
    schedule = flat_schedule("3", "15")

    first = sample_price_paths(
        schedule, start=START, horizon_days=60, policy="cheapest_at_bar", tier="mid", seed=11, n_samples=50
    )
    again = sample_price_paths(
        schedule,
        start=START,
        horizon_days=60,
        policy="cheapest_at_bar",
        tier="mid",
        seed=np.random.default_rng(11),
        n_samples=50,
    )
    other = sample_price_paths(
        schedule, start=START, horizon_days=60, policy="cheapest_at_bar", tier="mid", seed=12, n_samples=50
    )

    assert first.shape == (50, 60)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.all(first[:, 0] == 1.0)


def test_cheapest_at_bar_paths_centre_on_base_with_conservative_and_aggressive_as_the_90_percent_band():
    # commodity: no lag, ln f ~ Normal(ln 10, (ln 20 - ln 5) / 3.29), symmetric in log space
    paths = sample_price_paths(
        flat_schedule("3", "15"),
        start=START,
        horizon_days=366,
        policy="cheapest_at_bar",
        tier="commodity",
        seed=1,
        n_samples=4000,
    )

    low, median, high = np.quantile(paths[:, 365], [0.05, 0.5, 0.95])
    years = 365 / YEAR
    assert median == pytest.approx(10**-years, rel=0.03)  # base
    assert low == pytest.approx(20**-years, rel=0.05)  # aggressive
    assert high == pytest.approx(5**-years, rel=0.05)  # conservative


def test_mid_tier_paths_have_a_median_close_to_the_base_path():
    schedule = flat_schedule("3", "15")
    base = project_prices(schedule, start=START, horizon_days=730, policy="cheapest_at_bar", tier="mid").multipliers

    paths = sample_price_paths(
        schedule, start=START, horizon_days=730, policy="cheapest_at_bar", tier="mid", seed=5, n_samples=3000
    )

    for day in (90, 182, 365, 540):
        assert np.median(paths[:, day]) == pytest.approx(base[day], rel=0.06)


@pytest.mark.parametrize(("policy", "conservative", "aggressive"), [("stay", 1.05, 0.75), ("follow_tier", 1.2, 0.6)])
def test_drift_paths_put_conservative_and_aggressive_at_the_95_and_5_percent_quantiles(
    policy, conservative, aggressive
):
    paths = sample_price_paths(
        flat_schedule("3", "15"), start=START, horizon_days=366, policy=policy, seed=2, n_samples=4000
    )

    low, high = np.quantile(paths[:, 365], [0.05, 0.95])
    years = 365 / YEAR
    assert low == pytest.approx(aggressive**years, rel=0.02)
    assert high == pytest.approx(conservative**years, rel=0.02)


def test_monte_carlo_applies_the_cap_and_the_blended_floor_per_path():
    # mid tier: extreme draws (hundreds of x a year) still stop at 100x within 24 months
    capped = sample_price_paths(
        flat_schedule("3", "15"),
        start=START,
        horizon_days=730,
        policy="cheapest_at_bar",
        tier="mid",
        seed=3,
        n_samples=2000,
    )
    assert capped.min() == pytest.approx(0.01)
    assert capped.max() <= 1.0
    # a $0.05 blended SKU never goes below $0.02 blended: multiplier 0.4
    floored = sample_price_paths(
        flat_schedule("0.05", "0.05"),
        start=START,
        horizon_days=730,
        policy="cheapest_at_bar",
        tier="mid",
        seed=3,
        n_samples=2000,
    )
    assert floored.min() == pytest.approx(0.4)
    assert np.mean(np.isclose(floored[:, -1], 0.4)) > 0.5


def test_monte_carlo_multipliers_apply_to_the_scheduled_reference():
    # given a scheduled 50% cut on day 100; aggressive paths under stay multiply the scheduled price
    schedule = PriceSchedule.from_steps(
        {"input": [(date(2025, 1, 1), Decimal("2")), (START + timedelta(days=100), Decimal("1"))]}
    )

    paths = sample_price_paths(schedule, start=START, horizon_days=200, policy="stay", seed=4, n_samples=100)
    reference = schedule.reference_prices(start=START, horizon_days=200)["input"]

    assert reference[99] == 2.0
    assert reference[100] == 1.0
    # multipliers are smooth drifts: no jump at the cut (the reference carries it)
    assert np.max(np.abs(paths[:, 100] / paths[:, 99] - 1)) < 0.01


# --------------------------------------------------------------------------- property


@settings(max_examples=60, deadline=None)
@given(
    input_price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100"), places=3),
    output_price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("400"), places=3),
    scheduled_day=st.integers(min_value=1, max_value=700),
    scheduled_factor=st.sampled_from([Decimal("0.2"), Decimal("0.5"), Decimal("1.5"), Decimal("3")]),
    horizon=st.integers(min_value=1, max_value=730),
    case=st.sampled_from(
        [
            ("cheapest_at_bar", "base", "commodity"),
            ("cheapest_at_bar", "base", "mid"),
            ("cheapest_at_bar", "base", "frontier"),
            ("cheapest_at_bar", "aggressive", "commodity"),
            ("cheapest_at_bar", "aggressive", "mid"),
            ("cheapest_at_bar", "aggressive", "frontier"),
            ("stay", "aggressive", None),
        ]
    ),
)
def test_declining_projections_stay_between_the_floor_and_the_stay_price(
    input_price, output_price, scheduled_day, scheduled_factor, horizon, case
):
    policy, scenario, tier = case
    scheduled = START + timedelta(days=scheduled_day)
    schedule = PriceSchedule.from_steps(
        {
            "input": [(date(2025, 1, 1), input_price), (scheduled, input_price * scheduled_factor)],
            "output": [(date(2025, 1, 1), output_price), (scheduled, output_price * scheduled_factor)],
        }
    )

    projected = project_prices(schedule, start=START, horizon_days=horizon, policy=policy, scenario=scenario, tier=tier)
    stay = project_prices(schedule, start=START, horizon_days=horizon, policy="stay", scenario="base")

    # never above the stay price, token type by token type
    for token_type in ("input", "output"):
        assert np.all(projected.unit_prices(token_type) <= stay.unit_prices(token_type) * (1 + 1e-12))
    # never below the blended floor: $0.02, or today's price when the SKU is already below it (it is not
    # projected further down), or the SKU's own scheduled price when that is lower still
    stay_blended = stay.blended_prices()
    blended = projected.blended_prices()
    floor = np.minimum(stay_blended, min(0.02, stay_blended[0]))
    assert np.all(blended >= floor * (1 - 1e-9))
    # and within the first 24 months never more than 100x below today's price (unless the SKU itself is)
    assert np.all(blended >= np.minimum(stay_blended, stay_blended[0] / 100) * (1 - 1e-9))


# --------------------------------------------------------------------------- validation


def test_unknown_names_are_refused_with_the_expected_choices():
    schedule = flat_schedule("1", "2")
    with pytest.raises(
        ValueError, match="unknown scenario 'optimistic'; expected one of conservative, base, aggressive"
    ):
        get_scenario("optimistic")
    with pytest.raises(
        ValueError, match="unknown policy 'migrate'; expected one of stay, follow_tier, cheapest_at_bar"
    ):
        project_prices(schedule, start=START, horizon_days=10, policy="migrate")
    with pytest.raises(ValueError, match="unknown tier 'budget'; expected one of commodity, mid, frontier"):
        project_prices(schedule, start=START, horizon_days=10, policy="cheapest_at_bar", tier="budget")
    with pytest.raises(ValueError, match="cheapest_at_bar policy needs a tier"):
        sample_price_paths(schedule, start=START, horizon_days=10, policy="cheapest_at_bar", seed=0)
    with pytest.raises(ValueError, match="unknown scenario"):
        price_multiplier(1, policy="stay", scenario="pessimistic")


@pytest.mark.parametrize("horizon", [0, -5, 1.5, True])
def test_horizon_must_be_a_positive_integer(horizon):
    with pytest.raises(ValueError, match="horizon_days must be a positive integer"):
        project_prices(flat_schedule("1", "2"), start=START, horizon_days=horizon, policy="stay")


def test_invalid_day_offsets_samples_and_scenario_parameters_are_refused():
    with pytest.raises(ValueError, match="day offsets must be finite and non-negative"):
        price_multipliers(np.array([0, -1]), policy="stay")
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        sample_price_paths(flat_schedule("1", "2"), start=START, horizon_days=10, policy="stay", seed=0, n_samples=0)
    with pytest.raises(ValueError, match="annual_factor must be >= 1"):
        projection.DeclineCurve(lag_months=0, annual_factor=0.5)
    with pytest.raises(ValueError, match="lag_months must be a non-negative number"):
        projection.DeclineCurve(lag_months=-1, annual_factor=2)
    with pytest.raises(ValueError, match="stay annual drift must be a number above -1"):
        dataclasses.replace(BASE, stay_annual_drift=-1.0)
    with pytest.raises(ValueError, match="decline curve, not a drift"):
        BASE.annual_drift("cheapest_at_bar")
