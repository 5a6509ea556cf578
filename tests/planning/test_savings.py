"""The savings rules (pure): the forecast window, monthly tokens, each kind's unit savings and eligibility, the choice
of a switch target at the quality bar, and the evidence shape. Every figure is worked out by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from planning.savings import (
    BATCH_ELIGIBLE_SHARE,
    CACHE_HIT_RATE,
    FORMULA,
    QUALITY_TOLERANCE,
    MonthTokens,
    Price,
    Quality,
    Savings,
    SwitchOption,
    batch_unit_savings,
    caching_check,
    caching_unit_saving,
    choose_switch,
    evidence,
    full_months,
    money,
    month_tokens,
    savings,
    switch_unit_savings,
    token_totals,
    weekly_shape,
)

SNAPSHOT = ("lmarena_text_elo", date(2026, 6, 1))
JANUARY = MonthTokens(date(2027, 1, 1), 31, {"input": 31_000_000, "output": 6_200_000, "cached_input": 310_000})
FEBRUARY = MonthTokens(date(2027, 2, 1), 28, {"input": 28_000_000, "output": 5_600_000, "cached_input": 280_000})


def price(usd: str, note: str = "") -> Price:
    return Price(Decimal(usd), date(2026, 1, 1), "test list", note=note)


def quality(score: str, snapshot: tuple[str, date] = SNAPSHOT, model: str = "m") -> Quality:
    return Quality(snapshot[0], snapshot[1], Decimal(score), model, "test board")


# --- the window -----------------------------------------------------------------------------------------------------


def test_the_window_is_the_first_twelve_full_calendar_months() -> None:
    months = full_months(start=date(2027, 1, 1), days=365)

    assert [month for month, _ in months] == [date(2027, month, 1) for month in range(1, 13)]
    assert [days for _, days in months] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_a_forecast_starting_mid_month_skips_that_month_and_a_short_horizon_gives_fewer_months() -> None:
    # 2027-01-15 + 365 days ends 2028-01-14: February to December 2027 are whole, January 2028 is not.
    assert len(full_months(start=date(2027, 1, 15), days=365)) == 11
    assert full_months(start=date(2027, 1, 15), days=365)[0] == (date(2027, 2, 1), 28)
    # 60 days from 2027-01-01 end on 2027-03-01: January and February only.
    assert full_months(start=date(2027, 1, 1), days=60) == [(date(2027, 1, 1), 31), (date(2027, 2, 1), 28)]
    assert full_months(start=date(2027, 1, 2), days=30) == []
    assert len(full_months(start=date(2027, 1, 1), days=730)) == 12


def test_monthly_tokens_sum_the_daily_means_and_round_each_month_once() -> None:
    # Starts on the last day of January: only February (28 days) is whole.
    daily = {"input": [10.0] + [1.5] * 28, "output": [0.0] + [0.4] * 28}

    (february,) = month_tokens(
        start=date(2027, 1, 31), daily=daily, months=full_months(start=date(2027, 1, 31), days=29)
    )

    assert february == MonthTokens(date(2027, 2, 1), 28, {"input": 42, "output": 11})  # 28 x 0.4 = 11.2 -> 11
    assert token_totals([JANUARY, FEBRUARY]) == {"input": 59_000_000, "output": 11_800_000, "cached_input": 590_000}


# --- savings over the window ----------------------------------------------------------------------------------------


def test_savings_are_tokens_times_unit_savings_rounded_half_up_only_at_the_end() -> None:
    unit = {"input": Decimal(8), "output": Decimal(22), "cached_input": Decimal("0.5")}

    result = savings([JANUARY, FEBRUARY], unit)

    # January: 31 x 8 + 6.2 x 22 + 0.31 x 0.5 = 248 + 136.4 + 0.155 = 384.555
    # February: 28 x 8 + 5.6 x 22 + 0.28 x 0.5 = 224 + 123.2 + 0.14 = 347.34
    assert result.per_month == (Decimal("384.555"), Decimal("347.34"))
    assert result.monthly_month == date(2027, 1, 1)
    assert result.months_counted == 2
    assert result.monthly == Decimal("384.56")
    assert result.twelve_month == Decimal("731.90")  # 384.555 + 347.34 = 731.895


def test_rounding_happens_once_on_the_sum_not_per_month() -> None:
    # Two months of 0.004 each: 0.00 + 0.00 if rounded per month, 0.01 when rounded once (0.008).
    months = [MonthTokens(date(2027, 1, 1), 31, {"input": 1_000}), MonthTokens(date(2027, 2, 1), 28, {"input": 1_000})]

    result = savings(months, {"input": Decimal(4)})

    assert result.monthly == Decimal("0.00")
    assert result.twelve_month == Decimal("0.01")


def test_savings_from_a_later_month_count_only_the_months_from_then_on() -> None:
    unit = {"input": Decimal(8), "output": Decimal(22), "cached_input": Decimal("0.5")}

    result = savings([JANUARY, FEBRUARY], unit, applies_from=date(2027, 2, 1))

    assert result == Savings((Decimal(0), Decimal("347.34")), date(2027, 2, 1), 1, Decimal("347.34"), Decimal("347.34"))
    assert savings([JANUARY], unit, applies_from=date(2027, 3, 1)) == Savings((Decimal(0),), None, 0, None, None)


def test_money_rounds_halves_away_from_zero() -> None:
    assert money(Decimal("0.005")) == Decimal("0.01")
    assert money(Decimal("-0.005")) == Decimal("-0.01")
    assert money(Decimal("2.344999")) == Decimal("2.34")


# --- unit savings per kind ------------------------------------------------------------------------------------------


def test_a_switch_saves_the_price_difference_of_each_token_type_priced_on_both_sides() -> None:
    prices_from = {"input": price("10"), "output": price("30"), "cached_input": price("1")}
    prices_to = {"input": price("2"), "output": price("8")}

    assert switch_unit_savings(prices_from, prices_to) == {"input": Decimal(8), "output": Decimal(22)}
    # A dearer type on the target gives a negative unit saving.
    assert switch_unit_savings({"output": price("8")}, {"output": price("10")}) == {"output": Decimal(-2)}


def test_caching_reads_the_hit_rate_at_the_cached_price_and_writes_the_rest() -> None:
    # 10 - (0.5 x 1 + 0.5 x 12.5) = 10 - 6.75 = 3.25
    assert caching_unit_saving(input_price=price("10"), cached_price=price("1"), write_price=price("12.5")) == Decimal(
        "3.25"
    )
    # Without a cache-write price the rest stays at the input price: 10 - (0.5 + 5) = 4.5
    assert caching_unit_saving(input_price=price("10"), cached_price=price("1"), write_price=None) == Decimal("4.5")
    # Claude-like prices: 3 - (0.5 x 0.3 + 0.5 x 3.75) = 3 - 2.025 = 0.975
    assert caching_unit_saving(input_price=price("3"), cached_price=price("0.3"), write_price=price("3.75")) == Decimal(
        "0.975"
    )
    assert Decimal("0.5") == CACHE_HIT_RATE


def test_caching_needs_mostly_uncached_input_and_little_cached_input() -> None:
    mostly_input = caching_check({"input": 1_000, "output": 210, "cached_input": 10})
    assert mostly_input.eligible
    assert mostly_input.as_evidence() == {"input_share": 0.8197, "cached_share": 0.0099, "eligible": True}
    assert caching_check({"input": 500, "output": 500}).eligible  # exactly half is enough
    assert not caching_check({"input": 499, "output": 501}).eligible
    assert not caching_check({"input": 800, "cached_input": 200}).eligible  # 20% cached already
    assert not caching_check({"output": 100}).eligible
    assert not caching_check({}).eligible


def test_batch_discounts_the_eligible_share_of_input_and_output() -> None:
    prices = {"input": price("10"), "output": price("30"), "cached_input": price("1")}
    halves = {"input": Decimal("0.5"), "output": Decimal("0.5")}

    # 0.3 x (1 - 0.5) x 10 = 1.5; 0.3 x 0.5 x 30 = 4.5; cached input is never batch-discounted.
    assert batch_unit_savings(prices=prices, multipliers=halves) == {"input": Decimal("1.5"), "output": Decimal("4.5")}
    assert batch_unit_savings(prices=prices, multipliers={"input": Decimal("0.5")}) == {"input": Decimal("1.5")}
    assert Decimal("0.3") == BATCH_ELIGIBLE_SHARE


def test_traffic_that_runs_at_weekends_tolerates_batch_delay() -> None:
    monday = date(2026, 11, 2)
    steady = [60.0 if day % 7 in (5, 6) else 100.0 for day in range(14)]

    shape = weekly_shape(start=monday, values=steady)

    assert (shape.days, shape.weekday_mean, shape.weekend_mean, shape.weekend_ratio) == (14, 100.0, 60.0, 0.6)
    assert shape.tolerates_delay
    assert shape.as_evidence()["first_day"] == "2026-11-02" and shape.as_evidence()["last_day"] == "2026-11-15"
    office_hours = [50.0 if day % 7 in (5, 6) else 100.0 for day in range(14)]
    assert not weekly_shape(start=monday, values=office_hours).tolerates_delay
    assert not weekly_shape(start=monday, values=steady[:13]).tolerates_delay  # under two weeks of history


def test_the_weekly_shape_reads_only_the_last_eight_weeks() -> None:
    monday = date(2026, 9, 7)
    # Two weeks of office hours (weekends empty), then eight weeks running every day.
    values = [0.0 if day % 7 in (5, 6) else 100.0 for day in range(14)] + [100.0] * 56

    shape = weekly_shape(start=monday, values=values)

    assert shape.first_day == date(2026, 9, 21) and shape.days == 56
    assert shape.weekend_ratio == 1.0 and shape.tolerates_delay


# --- choosing a switch target ---------------------------------------------------------------------------------------

CURRENT_PRICES = {"input": price("10"), "output": price("30")}
TEAM_MIX = {"input": 1_000_000, "output": 200_000}  # current cost: 10 + 6 = 16 USD


def option(model: str, input_usd: str, output_usd: str, score: str | None, snapshot=SNAPSHOT) -> SwitchOption:
    prices = {"input": price(input_usd), "output": price(output_usd)}
    return SwitchOption(model, prices, quality(score, snapshot, model) if score is not None else None)


def test_the_cheapest_option_within_the_tolerance_is_chosen_and_a_lower_score_is_said() -> None:
    options = [
        option("mid", "2", "8", "1299"),  # costs 2 + 1.6 = 3.6: saves 12.4, scores 1 point lower
        option("plus", "5", "15", "1310"),  # costs 5 + 3 = 8: saves 8, scores higher
        option("small", "0.5", "1.5", "1250"),  # cheapest, but 50 points lower
        option("unscored", "0.1", "0.1", None),
        option("old-board", "0.1", "0.1", "1400", ("lmarena_text_elo", date(2025, 1, 1))),
        option("dearer", "20", "60", "1400"),
    ]

    choice = choose_switch(prices_from=CURRENT_PRICES, quality_from=quality("1300"), options=options, totals=TEAM_MIX)

    assert choice is not None
    assert choice.option.model == "mid"
    assert choice.unit_savings == {"input": Decimal(8), "output": Decimal(22)}
    assert choice.saving == Decimal(12_400_000)  # tokens x USD per million: 12.4 USD
    assert (choice.quality_gap, choice.lower_quality, choice.confidence) == (Decimal(1), True, "medium")
    assert choice.counts == {
        "considered": 6,
        "unscored": 2,
        "not_cheaper": 1,
        "below_quality_bar": 1,
        "eligible": 2,
    }
    assert Decimal("2.0") == QUALITY_TOLERANCE


def test_without_tolerance_only_an_option_scoring_as_well_is_kept_and_confidence_is_high() -> None:
    options = [option("mid", "2", "8", "1299"), option("plus", "5", "15", "1310")]

    choice = choose_switch(
        prices_from=CURRENT_PRICES, quality_from=quality("1300"), options=options, totals=TEAM_MIX, tolerance=Decimal(0)
    )

    assert choice is not None and choice.option.model == "plus"
    assert (choice.quality_gap, choice.lower_quality, choice.confidence) == (Decimal(-10), False, "high")


def test_equal_savings_go_to_the_better_score_then_the_name() -> None:
    options = [option("b", "2", "8", "1300"), option("a", "2", "8", "1300"), option("c", "2", "8", "1301")]

    choice = choose_switch(prices_from=CURRENT_PRICES, quality_from=quality("1300"), options=options, totals=TEAM_MIX)

    assert choice is not None and choice.option.model == "c"
    choice = choose_switch(
        prices_from=CURRENT_PRICES, quality_from=quality("1300"), options=options[:2], totals=TEAM_MIX
    )
    assert choice is not None and choice.option.model == "a"


def test_no_choice_when_nothing_is_cheaper_on_the_teams_mix() -> None:
    # Cheaper input but dearer output: on this output-heavy mix it costs more (1 x 9 + 2 x 40 = 89 > 1 x 10 + 2 x 30).
    options = [option("input-cheap", "9", "40", "1300")]

    choice = choose_switch(
        prices_from=CURRENT_PRICES,
        quality_from=quality("1300"),
        options=options,
        totals={"input": 1_000_000, "output": 2_000_000},
    )

    assert choice is None


# --- evidence -------------------------------------------------------------------------------------------------------


def test_evidence_holds_every_number_needed_to_recompute_the_savings() -> None:
    unit = {"input": Decimal(8), "output": Decimal(22), "cached_input": Decimal("0.5")}
    result = savings([JANUARY, FEBRUARY], unit)
    prices_from = {"input": price("10"), "output": price("30"), "cached_input": price("1")}
    prices_to = {"input": price("2"), "output": price("8"), "cached_input": price("2", note="input stands in")}

    found = evidence(
        months=[JANUARY, FEBRUARY],
        result=result,
        unit_savings=unit,
        prices_from=prices_from,
        prices_to=prices_to,
        assumptions={"quality_tolerance_points": 2.0},
        notes=["a note"],
        extra_key="kept",
    )

    assert found["months"][0] == {
        "month": "2027-01-01",
        "days": 31,
        "tokens": {"cached_input": 310_000, "input": 31_000_000, "output": 6_200_000},
    }
    assert found["window"] == (
        "the first 2 full calendar months of the forecast (the horizon covers only 2; the twelve-month figure sums "
        "those)"
    )
    assert (found["monthly_month"], found["months_counted"]) == ("2027-01-01", 2)
    assert found["prices_from"]["input"] == {
        "usd_per_million": "10",
        "effective_from": "2026-01-01",
        "source": "test list",
    }
    assert found["prices_to"]["cached_input"]["note"] == "input stands in"
    assert found["unit_savings_usd_per_million"] == {"cached_input": "0.5", "input": "8", "output": "22"}
    assert found["assumptions"] == {"quality_tolerance_points": 2.0}
    assert found["formula"] == FORMULA
    assert found["monthly_savings_by_month"] == ["384.555", "347.34"]
    assert (found["monthly_savings"], found["twelve_month_savings"]) == ("384.56", "731.90")
    assert found["notes"] == ["a note"] and found["extra_key"] == "kept"


def test_a_full_window_says_twelve_months_without_a_caveat() -> None:
    window = [MonthTokens(date(2027, index + 1, 1), 30, {"input": 1}) for index in range(12)]

    found = evidence(
        months=window,
        result=savings(window, {}),
        unit_savings={},
        prices_from={},
        prices_to={},
        assumptions={},
    )

    assert found["window"] == "the first 12 full calendar months of the forecast"
