"""Budget status on a run with known sampled paths: actual, forecast, 80% interval, overrun probability, breach
date, currency conversion, a period cut mid-month by the actuals, and the hierarchy of team budgets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.models import FxRate
from planning.selectors import budget_status
from planning.services import budget_save
from tests.factories import TeamFactory
from tests.planning.helpers import ledger_days

pytestmark = pytest.mark.django_db


def _budget(organization, amount: str, **extra):
    data = {"name": f"Search {amount}", "team": "search", "starts_on": "2026-01-01", "amount": amount, **extra}
    return budget_save(organization=organization, data=data)


def test_status_reads_actual_forecast_interval_and_probability_off_the_paths(organization, known_run) -> None:
    budget = _budget(organization, "500")
    # When
    status = budget_status(budget=budget, on=date(2026, 3, 15))
    # Then actual 10 x 20 = 200; forecast 200 + 210 (the run's point); 80%: 200 + q10/q90 of 100..1000 = 190/910;
    # overrun when 200 + p > 500, i.e. p in {400..1000}: 7 of 10.
    assert (status.period_start, status.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert status.actual == Decimal("200.00")
    assert status.actual_through == date(2026, 3, 10)
    assert status.forecast == Decimal("410.00")
    assert (status.forecast_lower, status.forecast_upper) == (Decimal("390.00"), Decimal("1110.00"))
    assert status.overrun_probability == 0.7
    assert status.sampled_paths == 10
    assert status.variance == Decimal("-90.00")
    assert status.projected_breach_date is None
    assert status.forecast_run == known_run.pk


def test_breach_date_is_the_day_the_running_total_passes_the_amount(organization, known_run) -> None:
    budget = _budget(organization, "300")
    # When
    status = budget_status(budget=budget, on=date(2026, 3, 31))
    # Then 200 by March 10, +10 a day: 200 + 10 x 11 = 310 > 300 on March 21; p > 100: 9 of 10 paths
    assert status.projected_breach_date == date(2026, 3, 21)
    assert status.overrun_probability == 0.9
    assert status.state == "at_risk"


def test_actuals_that_reach_past_the_run_cut_the_month_path_by_path(organization, known_run, search) -> None:
    # Given another team's actuals reaching March 15: the Search scope's actuals end there too (nothing more)
    ledger_days(organization, None, date(2026, 3, 15), [1.0])
    budget = _budget(organization, "500")
    # When
    status = budget_status(budget=budget, on=date(2026, 3, 20))
    # Then the rest of March is March 16-31: 16 of the 21 forecast days, 160 of 210 of the mean, so each path is
    # scaled by 160/210: the forecast is 200 + 160 = 360; overrun when p x 160/210 > 300, p > 393.75: 7 of 10.
    assert status.forecast == Decimal("360.00")
    assert status.overrun_probability == 0.7
    # 80%: 200 + 190 x 160/210 = 344.76, 200 + 910 x 160/210 = 893.33
    assert (status.forecast_lower, status.forecast_upper) == (Decimal("344.76"), Decimal("893.33"))


def test_a_budget_in_another_currency_is_converted_at_the_dated_rate(organization, known_run) -> None:
    FxRate.objects.create(from_currency="USD", to_currency="EUR", rate=Decimal("0.5"), rate_date=date(2026, 1, 1))
    budget = _budget(organization, "250", currency="EUR")
    # When
    status = budget_status(budget=budget, on=date(2026, 3, 15))
    # Then every USD figure is halved: actual 100, forecast 205; overrun when 100 + p/2 > 250, p > 300: 7 of 10
    assert (status.actual, status.forecast, status.currency) == (Decimal("100.00"), Decimal("205.00"), "EUR")
    assert status.overrun_probability == 0.7
    assert Decimal(status.fx["rate"]) == Decimal("0.5")


def test_a_quarter_sums_its_months_paths(organization, known_run) -> None:
    budget = _budget(organization, "700", period="quarter", name="Search Q")
    # When: Q2 (April-June) is all forecast; only April's 19 days are covered by the run
    status = budget_status(budget=budget, on=date(2026, 4, 2))
    # Then actual 0 (nothing in April), forecast = 19 x 20 = 380, every path 50 -> no overrun; the note says where
    # the forecast ends
    assert (status.period_start, status.period_end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert status.actual == Decimal("0.00")
    assert status.forecast == Decimal("380.00")
    assert status.overrun_probability == 0.0
    assert any("ends on 2026-04-19" in note for note in status.notes)


def test_team_budgets_adding_up_to_more_than_the_organization_budget_are_reported(organization, search) -> None:
    other = TeamFactory(organization=organization, name="Ads", slug="ads")
    parent = budget_save(organization=organization, data={"name": "All", "starts_on": "2026-01-01", "amount": "1000"})
    child = budget_save(
        organization=organization, data={"name": "S", "team": search, "starts_on": "2026-01-01", "amount": "700"}
    )
    budget_save(
        organization=organization, data={"name": "A", "team": other, "starts_on": "2026-03-01", "amount": "450"}
    )
    # When
    status = budget_status(budget=parent, on=date(2026, 3, 5))
    child_status = budget_status(budget=child, on=date(2026, 3, 5))
    # Then 700 + 450 = 1150, 150 above the parent; the child knows its parent
    assert status.children["total"] == Decimal("1150.00")
    assert status.children["exceeds_parent_by"] == Decimal("150.00")
    assert child_status.parent == parent.pk
