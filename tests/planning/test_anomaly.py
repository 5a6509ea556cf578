"""Anomalies (pure): a day's deviation from its forecast band, whether it is worth an alert, which (team, model)
cells drove it, and the sentence that tells people about it."""

from __future__ import annotations

import math
from datetime import date

import pytest

from planning.anomaly import DayBand, Deviation, Driver, attribute, describe, deviation, is_anomalous

BAND = DayBand(expected=400.0, lower=300.0, upper=520.0)
DAY = date(2026, 3, 14)


# --- deviation ------------------------------------------------------------------------------------------------------


def test_a_day_above_its_band() -> None:
    # given 1234 against a band 300-520 around 400
    dev = deviation(measure="cost", actual=1234.0, band=BAND)

    # then: excess 1234 - 520 = 714; ratio 1234 / 400 = 3.085
    assert dev == Deviation(
        measure="cost",
        actual=1234.0,
        expected=400.0,
        lower=300.0,
        upper=520.0,
        excess=714.0,
        direction="above",
        ratio=3.085,
    )


def test_a_day_below_its_band() -> None:
    # given 250 against a band 300-520 around 400: excess 250 - 300 = -50; ratio 250 / 400 = 0.625
    dev = deviation(measure="tokens", actual=250.0, band=BAND)

    assert (dev.direction, dev.excess, dev.ratio) == ("below", -50.0, 0.625)


def test_the_band_bounds_are_inside() -> None:
    # given exactly the upper and the lower bound: no excess; ratios 520 / 400 = 1.3 and 300 / 400 = 0.75
    at_upper = deviation(measure="cost", actual=520.0, band=BAND)
    at_lower = deviation(measure="cost", actual=300.0, band=BAND)

    assert (at_upper.direction, at_upper.excess, at_upper.ratio) == ("inside", 0.0, 1.3)
    assert (at_lower.direction, at_lower.excess, at_lower.ratio) == ("inside", 0.0, 0.75)


def test_ratio_when_nothing_was_expected() -> None:
    # given an expected 0 with a band 0-10: 20 is infinitely many times 0 (and 10 above the band); 0 is as expected
    band = DayBand(expected=0.0, lower=0.0, upper=10.0)

    something = deviation(measure="tokens", actual=20.0, band=band)
    nothing = deviation(measure="tokens", actual=0.0, band=band)

    assert (something.ratio, something.excess, something.direction) == (math.inf, 10.0, "above")
    assert (nothing.ratio, nothing.excess, nothing.direction) == (1.0, 0.0, "inside")


@pytest.mark.parametrize(
    ("measure", "actual", "band", "message"),
    [
        ("dollars", 1.0, BAND, r"unknown measure 'dollars'"),
        ("cost", math.nan, BAND, r"actual must be a finite number"),
        ("cost", 1.0, DayBand(expected=1.0, lower=2.0, upper=1.0), r"lower bound 2.0 is above its upper bound 1.0"),
    ],
)
def test_deviation_refuses_bad_input(measure: str, actual: float, band: DayBand, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deviation(measure=measure, actual=actual, band=band)


# --- is_anomalous ---------------------------------------------------------------------------------------------------


def test_outside_the_band_is_anomalous_unless_the_excess_is_tiny() -> None:
    # given 520.004 against an upper bound of 520: an excess of about 0.004, under a cent
    barely = deviation(measure="cost", actual=520.004, band=BAND)
    far_below = deviation(measure="cost", actual=250.0, band=BAND)  # excess -50
    inside = deviation(measure="cost", actual=400.0, band=BAND)

    assert is_anomalous(barely) is True
    assert is_anomalous(barely, min_excess=0.01) is False
    assert is_anomalous(far_below, min_excess=10.0) is True  # |-50| > 10
    assert is_anomalous(far_below, min_excess=50.0) is False  # |-50| is not > 50
    assert is_anomalous(inside) is False


# --- attribute ------------------------------------------------------------------------------------------------------


def test_drivers_of_a_day_above_expectations() -> None:
    # given cells with positive and negative deltas, one cell only actual and one only expected
    actual = {
        ("Search", "gpt-4o"): 900.0,
        ("Search", "gpt-4o-mini"): 100.0,
        ("Support", "gpt-4o"): 150.0,
        ("Ads", "claude"): 300.0,  # not expected at all: delta +300
    }
    expected = {
        ("Search", "gpt-4o"): 100.0,
        ("Search", "gpt-4o-mini"): 150.0,
        ("Support", "gpt-4o"): 100.0,
        ("Labs", "o1"): 50.0,  # nothing happened: delta -50
    }

    # when
    drivers = attribute(actual_by_cell=actual, expected_by_cell=expected)

    # then: deltas +800, -50, +50, +300, -50 -> total +1050; positive deltas by size: Search/gpt-4o 800 / 1050,
    # Ads/claude 300 / 1050, Support/gpt-4o 50 / 1050; negative cells are not drivers
    assert drivers == [
        Driver(team="Search", model="gpt-4o", actual=900.0, expected=100.0, delta=800.0, share=800 / 1050),
        Driver(team="Ads", model="claude", actual=300.0, expected=0.0, delta=300.0, share=300 / 1050),
        Driver(team="Support", model="gpt-4o", actual=150.0, expected=100.0, delta=50.0, share=50 / 1050),
    ]
    # and limit keeps the strongest
    assert [(d.team, d.model) for d in attribute(actual_by_cell=actual, expected_by_cell=expected, limit=2)] == [
        ("Search", "gpt-4o"),
        ("Ads", "claude"),
    ]


def test_drivers_of_a_day_below_expectations_most_negative_first() -> None:
    # given deltas 10 - 110 = -100, 50 - 50 = 0, 100 - 60 = +40, 0 - 30 = -30 (missing in actual) -> total -90
    actual = {("A", "x"): 10.0, ("B", "y"): 50.0, ("C", "z"): 100.0}
    expected = {("A", "x"): 110.0, ("B", "y"): 50.0, ("C", "z"): 60.0, ("D", "w"): 30.0}

    drivers = attribute(actual_by_cell=actual, expected_by_cell=expected)

    # then: A/x (-100, share -100 / -90) then D/w (-30, share -30 / -90); B/y (0) and C/z (+40) do not drive it
    assert drivers == [
        Driver(team="A", model="x", actual=10.0, expected=110.0, delta=-100.0, share=-100 / -90),
        Driver(team="D", model="w", actual=0.0, expected=30.0, delta=-30.0, share=-30 / -90),
    ]


def test_equal_deltas_are_ranked_by_team_then_model() -> None:
    # given three cells each 100 above their expectation of 0 -> total 300, each a third of it
    actual = {("B", "m"): 100.0, ("A", "n"): 100.0, ("A", "m"): 100.0}

    drivers = attribute(actual_by_cell=actual, expected_by_cell={})

    assert [(d.team, d.model, d.share) for d in drivers] == [
        ("A", "m", 100 / 300),
        ("A", "n", 100 / 300),
        ("B", "m", 100 / 300),
    ]


def test_nothing_to_attribute_when_the_deltas_cancel_out_or_no_driver_is_wanted() -> None:
    # given +50 and -50 -> total 0
    actual = {("A", "x"): 150.0, ("B", "y"): 50.0}
    expected = {("A", "x"): 100.0, ("B", "y"): 100.0}

    assert attribute(actual_by_cell=actual, expected_by_cell=expected) == []
    assert attribute(actual_by_cell={("A", "x"): 150.0}, expected_by_cell=expected, limit=0) == []


# --- describe -------------------------------------------------------------------------------------------------------


def test_describe_a_costly_day_with_its_driver() -> None:
    # given 1234 against 400 (band 300-520): ratio 3.085 -> "3.1x"; Search / gpt-4o +800 with a share of 0.96
    dev = deviation(measure="cost", actual=1234.0, band=BAND)
    driver = Driver(team="Search", model="gpt-4o", actual=900.0, expected=100.0, delta=800.0, share=0.96)

    text = describe(scope="organization", day=DAY, dev=dev, drivers=[driver], unit="USD")

    assert text == (
        "2026-03-14: organization cost 1,234.00 USD is 3.1x the expected 400.00 USD (99% band 300.00-520.00 USD); "
        "driven by Search / gpt-4o (+800.00 USD, 96% of the excess)"
    )


def test_describe_a_quiet_day_in_tokens_with_two_drivers() -> None:
    # given 100,000 tokens against 500,000 (band 400,000-650,000): ratio 0.2; two negative drivers
    dev = deviation(
        measure="tokens", actual=100_000.0, band=DayBand(expected=500_000.0, lower=400_000.0, upper=650_000.0)
    )
    drivers = [
        Driver(team="Support", model="gpt-4o-mini", actual=50_000.0, expected=410_000.0, delta=-360_000.0, share=0.9),
        Driver(team="Support", model="gpt-4o", actual=50_000.0, expected=90_000.0, delta=-40_000.0, share=0.1),
    ]

    text = describe(scope="team Support", day=DAY, dev=dev, drivers=drivers, unit="")

    assert text == (
        "2026-03-14: team Support tokens 100,000 is 0.2x the expected 500,000 (99% band 400,000-650,000); "
        "driven by Support / gpt-4o-mini (-360,000, 90% of the shortfall), Support / gpt-4o (-40,000, 10% of the "
        "shortfall)"
    )


def test_describe_a_day_where_nothing_was_expected_without_drivers() -> None:
    # given 25 against an expected 0 (band 0-10): the ratio is infinite, so no "x" multiple
    dev = deviation(measure="cost", actual=25.0, band=DayBand(expected=0.0, lower=0.0, upper=10.0))

    text = describe(scope="organization", day=DAY, dev=dev, drivers=[], unit="EUR")

    assert text == "2026-03-14: organization cost 25.00 EUR against an expected 0.00 EUR (99% band 0.00-10.00 EUR)"
