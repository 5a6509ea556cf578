"""The rules of budgets (pure): periods, month starts, period outlooks from sampled paths, breach dates, alert
thresholds and children that outgrow their parent."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from planning.budget_math import (
    PERIOD_KINDS,
    PERIOD_MONTHS,
    PeriodOutlook,
    breach_date,
    children_excess,
    highest_threshold_crossed,
    month_starts,
    period_bounds,
    period_outlook,
    thresholds_crossed,
    validate_thresholds,
)

MARCH_START = date(2026, 3, 1)
MARCH_END = date(2026, 3, 31)


# --- period kinds ---------------------------------------------------------------------------------------------------


def test_period_kinds_and_their_lengths_in_months() -> None:
    assert PERIOD_KINDS == ("month", "quarter", "year")
    assert PERIOD_MONTHS == {"month": 1, "quarter": 3, "year": 12}


# --- period_bounds --------------------------------------------------------------------------------------------------


def test_monthly_period_is_the_calendar_month_of_the_day() -> None:
    # given a monthly budget from January 2026, when asked about 14 March, then the period is all of March
    assert period_bounds(starts_on=date(2026, 1, 1), kind="month", on=date(2026, 3, 14)) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )


def test_monthly_period_on_its_last_day_in_a_leap_february() -> None:
    # 2028 is a leap year: February has 29 days, and 29 February is the period's last day
    assert period_bounds(starts_on=date(2026, 1, 1), kind="month", on=date(2028, 2, 29)) == (
        date(2028, 2, 1),
        date(2028, 2, 29),
    )


def test_quarterly_period_counts_quarters_from_the_start_month() -> None:
    # given quarters from April (Apr-Jun, Jul-Sep, Oct-Dec, ...), then 15 November is in October-December
    assert period_bounds(starts_on=date(2026, 4, 1), kind="quarter", on=date(2026, 11, 15)) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
    )


def test_quarterly_period_on_its_first_and_last_day() -> None:
    # given quarters from April: 1 July opens the second quarter, 30 June closes the first one
    assert period_bounds(starts_on=date(2026, 4, 1), kind="quarter", on=date(2026, 7, 1)) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
    )
    assert period_bounds(starts_on=date(2026, 4, 1), kind="quarter", on=date(2026, 6, 30)) == (
        date(2026, 4, 1),
        date(2026, 6, 30),
    )


def test_quarters_from_november_cross_the_year_end() -> None:
    # given quarters from November 2025 (Nov-Jan, Feb-Apr, ...), then 31 January 2026 closes the first quarter
    assert period_bounds(starts_on=date(2025, 11, 1), kind="quarter", on=date(2026, 1, 31)) == (
        date(2025, 11, 1),
        date(2026, 1, 31),
    )


def test_fiscal_year_starting_in_april() -> None:
    # given a yearly budget from April 2025: 31 March 2026 is the last day of the first fiscal year, 1 April 2026
    # the first day of the second
    assert period_bounds(starts_on=date(2025, 4, 1), kind="year", on=date(2026, 3, 31)) == (
        date(2025, 4, 1),
        date(2026, 3, 31),
    )
    assert period_bounds(starts_on=date(2025, 4, 1), kind="year", on=date(2026, 4, 1)) == (
        date(2026, 4, 1),
        date(2027, 3, 31),
    )


def test_calendar_year_on_the_start_day() -> None:
    assert period_bounds(starts_on=date(2026, 1, 1), kind="year", on=date(2026, 1, 1)) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )


def test_ends_on_does_not_cut_the_period_short() -> None:
    # given a quarterly budget that ends on 15 November, when asked about that very day, then the whole quarter
    # (October-December) is its period
    assert period_bounds(
        starts_on=date(2026, 1, 1), kind="quarter", on=date(2026, 11, 15), ends_on=date(2026, 11, 15)
    ) == (date(2026, 10, 1), date(2026, 12, 31))


def test_a_day_before_the_start_has_no_period() -> None:
    with pytest.raises(ValueError, match=r"2026-03-31 is before the budget starts on 2026-04-01"):
        period_bounds(starts_on=date(2026, 4, 1), kind="month", on=date(2026, 3, 31))


def test_a_day_after_the_end_has_no_period() -> None:
    with pytest.raises(ValueError, match=r"2026-12-01 is after the budget ends on 2026-11-30"):
        period_bounds(starts_on=date(2026, 1, 1), kind="month", on=date(2026, 12, 1), ends_on=date(2026, 11, 30))


def test_a_budget_must_start_on_the_first_of_a_month() -> None:
    with pytest.raises(ValueError, match=r"first day of a month, not on 2026-01-15"):
        period_bounds(starts_on=date(2026, 1, 15), kind="month", on=date(2026, 2, 1))


def test_an_unknown_period_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown period kind 'week'"):
        period_bounds(starts_on=date(2026, 1, 1), kind="week", on=date(2026, 2, 1))


def test_a_budget_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"ends on 2025-12-31, before it starts on 2026-01-01"):
        period_bounds(starts_on=date(2026, 1, 1), kind="month", on=date(2026, 1, 1), ends_on=date(2025, 12, 31))


# --- month_starts ---------------------------------------------------------------------------------------------------


def test_month_starts_span_from_the_first_days_month_through_the_last_days_month() -> None:
    # given 15 November 2026 to 3 February 2027, then November, December, January and February
    assert month_starts(date(2026, 11, 15), date(2027, 2, 3)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]


def test_month_starts_within_one_month_and_backwards() -> None:
    assert month_starts(date(2026, 3, 31), date(2026, 3, 1)) == [date(2026, 3, 1)]
    assert month_starts(date(2026, 4, 1), date(2026, 3, 31)) == []


# --- period_outlook -------------------------------------------------------------------------------------------------


def test_outlook_from_ten_paths() -> None:
    # given 100 spent, an amount of 150 and remaining paths 10, 20, ..., 100
    paths = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0])

    # when
    outlook = period_outlook(actual=100.0, amount=150.0, remaining_paths=paths)

    # then: mean of the paths = 550 / 10 = 55, so the forecast is 100 + 55 = 155;
    # quantile 0.1 sits at position 0.1 * 9 = 0.9, between 10 and 20: 10 + 0.9 * 10 = 19 -> lower 100 + 19 = 119;
    # quantile 0.9 sits at position 0.9 * 9 = 8.1, between 90 and 100: 90 + 0.1 * 10 = 91 -> upper 100 + 91 = 191;
    # overrun when 100 + p > 150, i.e. p > 50: 60, 70, 80, 90, 100 -> 5 of 10 = 0.5
    assert outlook == PeriodOutlook(
        actual=100.0,
        forecast=155.0,
        lower=119.0,
        upper=191.0,
        overrun_probability=0.5,
        paths=10,
    )


def test_a_path_that_ends_exactly_on_the_amount_does_not_overrun() -> None:
    # given 100 spent, an amount of 150 and paths 40, 50, 60, 70
    outlook = period_outlook(actual=100.0, amount=150.0, remaining_paths=np.array([40.0, 50.0, 60.0, 70.0]))

    # then: 100 + 50 = 150 is not above 150, so only 60 and 70 overrun -> 2 of 4 = 0.5;
    # mean (40 + 50 + 60 + 70) / 4 = 55 -> forecast 155;
    # quantile 0.1 at position 0.1 * 3 = 0.3: 40 + 0.3 * 10 = 43 -> lower 143;
    # quantile 0.9 at position 0.9 * 3 = 2.7: 60 + 0.7 * 10 = 67 -> upper 167
    assert outlook == PeriodOutlook(
        actual=100.0, forecast=155.0, lower=143.0, upper=167.0, overrun_probability=0.5, paths=4
    )


def test_the_interval_is_widened_to_contain_the_mean() -> None:
    # given nothing spent and 19 paths of 0 with one of 1000 (a rare spike)
    paths = np.array([0.0] * 19 + [1000.0])

    # when
    outlook = period_outlook(actual=0.0, amount=1000.0, remaining_paths=paths)

    # then: the mean is 1000 / 20 = 50; quantiles 0.1 (position 1.9) and 0.9 (position 17.1) both fall among the
    # zeros -> 0 and 0; the upper bound is widened to the point, 50; no path ends above 1000 (1000 is not > 1000)
    assert outlook == PeriodOutlook(actual=0.0, forecast=50.0, lower=0.0, upper=50.0, overrun_probability=0.0, paths=20)


def test_a_wider_interval_uses_wider_quantiles() -> None:
    # given paths 0, 10, ..., 100 (11 paths) and a 90% interval: quantiles 0.05 and 0.95 at positions 0.5 and 9.5
    # -> 0 + 0.5 * 10 = 5 and 90 + 0.5 * 10 = 95 (approx: the tail 0.05 is computed as (1 - 0.9) / 2)
    outlook = period_outlook(actual=0.0, amount=1000.0, remaining_paths=np.arange(0.0, 101.0, 10.0), width=0.9)

    assert outlook.lower == pytest.approx(5.0)
    assert outlook.upper == pytest.approx(95.0)
    assert outlook.forecast == pytest.approx(50.0)  # 550 / 11 = 50


def test_a_period_entirely_past_is_its_actual_cost() -> None:
    # given no remaining paths and 200 spent of 150, then it is certain to have overrun
    assert period_outlook(actual=200.0, amount=150.0, remaining_paths=None) == PeriodOutlook(
        actual=200.0, forecast=200.0, lower=200.0, upper=200.0, overrun_probability=1.0, paths=0
    )


def test_an_empty_array_of_paths_is_like_none_and_equal_to_the_amount_is_no_overrun() -> None:
    # given exactly the amount spent and nothing left: 150 is not above 150
    assert period_outlook(actual=150.0, amount=150.0, remaining_paths=np.array([])) == PeriodOutlook(
        actual=150.0, forecast=150.0, lower=150.0, upper=150.0, overrun_probability=0.0, paths=0
    )


@pytest.mark.parametrize(
    ("actual", "amount", "paths", "width", "message"),
    [
        (0.0, -1.0, None, 0.8, "must not be negative"),
        (math.nan, 100.0, None, 0.8, "actual must be a finite number"),
        (0.0, math.nan, None, 0.8, "amount must be a finite number"),
        (0.0, 100.0, np.array([1.0, math.nan]), 0.8, "finite numbers only"),
        (0.0, 100.0, np.ones((2, 3)), 0.8, r"must be 1-D .* shape \(2, 3\)"),
        (0.0, 100.0, np.ones(3), 1.0, "width must be between 0 and 1"),
    ],
)
def test_outlook_refuses_bad_input(
    actual: float, amount: float, paths: np.ndarray | None, width: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        period_outlook(actual=actual, amount=amount, remaining_paths=paths, width=width)


# --- breach_date ----------------------------------------------------------------------------------------------------


def test_breach_on_a_forecast_day() -> None:
    # given 30 a day actually spent on 1-3 March (90) and a forecast of 5 a day from 4 March, amount 100
    actual = [(date(2026, 3, 1), 30.0), (date(2026, 3, 2), 30.0), (date(2026, 3, 3), 30.0)]

    # when
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=actual,
        forecast_start=date(2026, 3, 4),
        forecast_daily=[5.0, 5.0, 5.0, 5.0],
        period_end=MARCH_END,
    )

    # then: running totals 30, 60, 90, 95 (4th), 100 (5th: not above 100), 105 (6th) -> 6 March
    assert day == date(2026, 3, 6)


def test_breach_already_in_the_actual_days() -> None:
    # given 60 on 1 March and 50 on 2 March: 110 > 100 on 2 March, whatever the forecast says
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=[(date(2026, 3, 1), 60.0), (date(2026, 3, 2), 50.0)],
        forecast_start=date(2026, 3, 3),
        forecast_daily=[1000.0],
        period_end=MARCH_END,
    )

    assert day == date(2026, 3, 2)


def test_no_breach_when_the_period_ends_exactly_on_the_amount() -> None:
    # given 50 actually spent and a forecast of 10 a day for 5 days: 50 + 5 * 10 = 100, never above 100
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=[(date(2026, 3, 1), 50.0)],
        forecast_start=date(2026, 3, 2),
        forecast_daily=[10.0] * 5,
        period_end=MARCH_END,
    )

    assert day is None


def test_forecast_days_after_the_period_end_are_ignored() -> None:
    # given 40 + 40 actually spent on 29-30 March and a forecast of 10, 50, 50 from 31 March: inside March only
    # the 10 counts (90 <= 100); 1 and 2 April belong to the next period
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=[(date(2026, 3, 29), 40.0), (date(2026, 3, 30), 40.0)],
        forecast_start=date(2026, 3, 31),
        forecast_daily=[10.0, 50.0, 50.0],
        period_end=MARCH_END,
    )

    assert day is None


def test_actual_days_are_sorted_clipped_to_the_period_and_replaced_by_the_forecast_from_its_start() -> None:
    # given unsorted actual days, one in February (outside the period) and one on the forecast's first day
    actual = [
        (date(2026, 3, 2), 30.0),
        (date(2026, 2, 28), 500.0),  # before the period: ignored
        (date(2026, 3, 1), 60.0),
        (date(2026, 3, 3), 1000.0),  # on forecast_start: the forecast's value is used instead
    ]

    # when
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=actual,
        forecast_start=date(2026, 3, 3),
        forecast_daily=[5.0, 10.0],
        period_end=MARCH_END,
    )

    # then: 60 (1st), 90 (2nd), 95 (3rd, forecast), 105 (4th) -> 4 March
    assert day == date(2026, 3, 4)


def test_forecast_days_before_the_period_start_are_ignored() -> None:
    # given a forecast from 27 February: 500 (27 Feb) and 500 (28 Feb) are outside March; 100 on 1 March is not
    # above 100; 100 + 60 = 160 on 2 March is
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=[],
        forecast_start=date(2026, 2, 27),
        forecast_daily=[500.0, 500.0, 100.0, 60.0],
        period_end=MARCH_END,
    )

    assert day == date(2026, 3, 2)


def test_without_a_forecast_only_actual_days_count() -> None:
    # given 70 + 40 actually spent: 110 > 100 on 10 March
    day = breach_date(
        amount=100.0,
        period_start=MARCH_START,
        actual_daily=[(date(2026, 3, 5), 70.0), (date(2026, 3, 10), 40.0)],
        forecast_start=None,
        forecast_daily=[],
        period_end=MARCH_END,
    )

    assert day == date(2026, 3, 10)


def test_a_zero_amount_is_breached_by_the_first_day_with_a_cost() -> None:
    # given nothing spent on 1 March and 0.5 on 2 March, then 2 March; with no cost at all, never
    actual = [(date(2026, 3, 1), 0.0), (date(2026, 3, 2), 0.5)]
    breached = breach_date(
        amount=0.0,
        period_start=MARCH_START,
        actual_daily=actual,
        forecast_start=None,
        forecast_daily=[],
        period_end=MARCH_END,
    )
    never = breach_date(
        amount=0.0,
        period_start=MARCH_START,
        actual_daily=[(date(2026, 3, 1), 0.0)],
        forecast_start=date(2026, 3, 2),
        forecast_daily=[0.0, 0.0],
        period_end=MARCH_END,
    )

    assert breached == date(2026, 3, 2)
    assert never is None


# --- thresholds -----------------------------------------------------------------------------------------------------


def test_thresholds_crossed_are_those_at_or_below_the_actual_share_ascending() -> None:
    # given 180 spent of 200: 0.5 * 200 = 100, 0.8 * 200 = 160 and 0.9 * 200 = 180 are reached (>=); 1.0 * 200 =
    # 200 is not
    crossed = thresholds_crossed(actual=180.0, amount=200.0, thresholds=[1.0, 0.9, 0.5, 0.8, 0.8])

    assert crossed == [0.5, 0.8, 0.9]
    assert highest_threshold_crossed(actual=180.0, amount=200.0, thresholds=[1.0, 0.9, 0.5, 0.8]) == 0.9


def test_no_threshold_crossed() -> None:
    # given 50 spent of 200: 0.8 * 200 = 160 is not reached
    assert thresholds_crossed(actual=50.0, amount=200.0, thresholds=[0.8, 1.0]) == []
    assert highest_threshold_crossed(actual=50.0, amount=200.0, thresholds=[0.8, 1.0]) is None


def test_validate_thresholds_sorts_and_deduplicates_and_accepts_ten() -> None:
    assert validate_thresholds([1, 0.8, 0.8, 10]) == [0.8, 1.0, 10.0]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([0.8, 0], r"threshold 0 is out of range"),
        ([10.5], r"threshold 10.5 is out of range"),
        ([-0.5], r"threshold -0.5 is out of range"),
        (["x"], r"threshold 'x' is not a number"),
        (["0.8"], r"threshold '0.8' is not a number"),
        ([True], r"threshold True is not a number"),
        ([math.nan], r"threshold nan is not a finite number"),
        ([math.inf], r"threshold inf is not a finite number"),
        ([], r"at least one threshold"),
    ],
)
def test_validate_thresholds_refuses_bad_values(thresholds: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_thresholds(thresholds)


# --- children_excess ------------------------------------------------------------------------------------------------


def test_children_that_add_up_to_more_than_the_parent() -> None:
    # 60 + 50 - 100 = 10; 30.5 + 80.25 - 100 = 10.75
    assert children_excess(parent_amount=100.0, child_amounts=[60.0, 50.0]) == 10.0
    assert children_excess(parent_amount=100.0, child_amounts=[30.5, 80.25]) == 10.75


def test_children_within_the_parent_have_no_excess() -> None:
    # 60 + 40 = 100 fits exactly; no children fit trivially
    assert children_excess(parent_amount=100.0, child_amounts=[60.0, 40.0]) is None
    assert children_excess(parent_amount=100.0, child_amounts=[]) is None


def test_period_outlook_takes_the_forecasts_own_point_when_given() -> None:
    # Given the 10 paths above and the run's point of 50 for the remaining cost (not the paths' mean of 55)
    paths = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # When
    outlook = period_outlook(actual=100, amount=150, remaining_paths=paths, point=50)
    # Then the forecast is 100 + 50; the interval (119-191) and probability (0.5) still come from the paths
    assert outlook == PeriodOutlook(actual=100, forecast=150, lower=119, upper=191, overrun_probability=0.5, paths=10)
