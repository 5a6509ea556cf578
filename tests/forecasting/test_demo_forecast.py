"""The demo's forecast, as ``make demo`` makes it (18 months of four providers' exports through the real ingest
path, then a forecast run): it continues the history's growth, every point lies inside its own intervals at every
level and month, and every level adds up to the organization."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import call_command

from forecasting.models import ForecastMonth, ForecastRun
from ingest.selectors import usage_summary

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_run(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[ForecastRun]:
    from django.conf import settings
    from django.contrib.auth.models import User

    with django_db_blocker.unblock():
        original = settings.VAR_DIR
        settings.VAR_DIR = tmp_path_factory.mktemp("demo-var")
        try:
            call_command("demo_setup", months=18, horizon=183, stdout=io.StringIO())
        finally:
            settings.VAR_DIR = original
        run = ForecastRun.objects.filter(organization__slug="demo").latest("id")
        yield run
        # Module-scoped data outlives the test transactions: remove it.
        from finops.models import Organization

        Organization.objects.filter(slug="demo").delete()
        User.objects.filter(username="admin").delete()


def test_the_demo_forecast_continues_the_history_growth(demo_run) -> None:
    assert demo_run.status == ForecastRun.Status.SUCCEEDED, demo_run.error
    organization = demo_run.organization
    months = usage_summary(organization=organization, by=["month", "day"])
    daily_by_month: dict[str, list[int]] = defaultdict(list)
    for row in months:
        daily_by_month[row["month"]].append(row["tokens"])
    full = [month for month, days in daily_by_month.items() if len(days) >= 28]
    per_day = [sum(daily_by_month[month]) / len(daily_by_month[month]) for month in full]
    # The history grows: the last full month's daily average is well above that of a year before it.
    assert per_day[-1] > 1.3 * per_day[-13]
    forecast = list(ForecastMonth.objects.filter(run=demo_run, level="organization").order_by("month"))
    full_forecast = [month for month in forecast if month.days >= 28]
    forecast_per_day = [month.tokens / month.days for month in full_forecast]
    # The forecast goes on growing: five months ahead is above the first forecast month, which is above the
    # last actual month (per day; holiday-free months are compared so December's dips do not decide it).
    assert forecast_per_day[-1] > forecast_per_day[0] > per_day[-1] * 0.98
    assert forecast_per_day[-1] > 1.08 * per_day[-1]


def test_every_point_lies_inside_its_intervals_at_every_level_and_month(demo_run) -> None:
    rows = list(ForecastMonth.objects.filter(run=demo_run))
    assert {row.level for row in rows} == {"organization", "provider", "team", "model", "team_model"}
    for row in rows:
        low50, high50 = row.tokens_intervals["50"]
        low80, high80 = row.tokens_intervals["80"]
        low95, high95 = row.tokens_intervals["95"]
        assert low95 <= low80 <= low50 <= row.tokens <= high50 <= high80 <= high95, (row.level, row.key, row.month)
        if row.cost is not None:
            cost_low, cost_high = (Decimal(value) for value in row.cost_intervals["80"])
            assert cost_low <= row.cost <= cost_high, (row.level, row.key, row.month)


def test_every_level_adds_up_to_the_organization(demo_run) -> None:
    rows = list(ForecastMonth.objects.filter(run=demo_run))
    organization = {row.month: row for row in rows if row.level == "organization"}
    for level in ("provider", "team", "model", "team_model"):
        sums: dict[object, int] = defaultdict(int)
        cost_sums: dict[object, Decimal] = defaultdict(Decimal)
        keys: dict[object, int] = defaultdict(int)
        for row in rows:
            if row.level == level:
                sums[row.month] += row.tokens
                cost_sums[row.month] += row.cost or Decimal(0)
                keys[row.month] += 1
        assert set(sums) == set(organization), level
        for month, total in sums.items():
            # Each stored value is rounded to a whole token (a cent) once: the sum is off by at most one per key.
            assert abs(total - organization[month].tokens) <= keys[month], (level, month)
            assert abs(cost_sums[month] - organization[month].cost) <= Decimal("0.01") * keys[month], (level, month)
            assert sum(organization[month].tokens_by_type.values()) == pytest.approx(organization[month].tokens, abs=5)
