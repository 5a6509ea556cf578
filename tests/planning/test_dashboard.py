"""The finance dashboard's reads (planning.dashboard): one organization of the user's, nothing of another one in any
list, filter choice or figure; spend by month, actual then forecast with its band, in the reporting currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from finops.models import Organization, Role
from ingest.models import Upload
from ingest.rollup import usage_rollup_refresh
from planning.dashboard import (
    SpendFilters,
    budget_monthly_amount,
    dashboard_for,
    model_spend_table,
    scope_monthly_spend,
    spend_dimensions,
    spend_filters,
)
from planning.models import Alert, Budget, Recommendation
from planning.services import budget_save
from tests.factories import FxRateFactory, MembershipFactory, OrganizationFactory, TeamFactory
from tests.planning.helpers import cell, forecast_run, ledger_days

pytestmark = pytest.mark.django_db


def _workspace(slug: str, name: str, *, team_name: str, model: str):
    """An organization with a team, ten days of its usage (20 USD a day), a run, a budget, an open alert, a
    recommendation and an upload, every name carrying the organization's name."""
    organization = OrganizationFactory(slug=slug, name=name)
    team = TeamFactory(organization=organization, name=team_name, slug=slug + "-team")
    ledger_days(organization, team, date(2026, 3, 1), [20.0] * 10, model=model)
    usage_rollup_refresh(organization=organization)
    Upload.objects.filter(organization=organization).update(original_name=f"{slug}-export.csv")
    run = forecast_run(organization, date(2026, 3, 10), 40)
    cell(
        run,
        team=team_name,
        model=model,
        daily_cost=[10.0] * 21 + [20.0] * 19,
        monthly_paths=[[100.0 * (index + 1), 50.0] for index in range(10)],
    )
    budget = budget_save(
        organization=organization,
        data={"name": f"{name} monthly", "period": "month", "starts_on": date(2026, 3, 1), "amount": Decimal(900)},
    )
    Alert.objects.create(
        organization=organization,
        budget=budget,
        kind=Alert.Kind.FORECAST_OVERRUN,
        period_start=date(2026, 3, 1),
        message=f"{name} monthly is forecast to overrun",
        opened_at=timezone.now(),
    )
    Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.MODEL_SWITCH,
        team=team_name,
        provider="openai",
        model=model,
        to_model="gpt-4o-mini",
        title=f"{name}: move {team_name} to gpt-4o-mini",
        monthly_savings=Decimal("10.00"),
        twelve_month_savings=Decimal("120.00"),
    )
    return organization


@pytest.fixture
def acme_member():
    acme = _workspace("acme", "Acme", team_name="Search", model="gpt-4o")
    _workspace("globex", "Globex", team_name="Globex Research", model="gpt-4.1")
    return MembershipFactory(organization=acme, role=Role.VIEWER).user


# Scoping


def test_a_member_of_one_organization_sees_its_dashboard_and_nothing_of_another(acme_member) -> None:
    # when
    dashboard = dashboard_for(user=acme_member, params={})

    # then
    assert dashboard.organization is not None and dashboard.organization.slug == "acme"
    assert [organization.slug for organization in dashboard.organizations] == ["acme"]
    assert (dashboard.teams, dashboard.providers, dashboard.models) == (["Search"], ["openai"], ["gpt-4o"])
    assert [line.budget.name for line in dashboard.budgets] == ["Acme monthly"]
    assert [alert.message for alert in dashboard.alerts] == ["Acme monthly is forecast to overrun"]
    assert dashboard.open_alerts == 1
    assert [item.title for item in dashboard.recommendations] == ["Acme: move Search to gpt-4o-mini"]
    assert [upload.original_name for upload in dashboard.uploads] == ["acme-export.csv"]
    assert dashboard.spend is not None
    assert dashboard.spend.actual_total == Decimal("200.00")
    assert list(dashboard.team_ids) == ["Search"]


def test_another_organizations_slug_falls_back_to_the_users_own(acme_member) -> None:
    # when
    dashboard = dashboard_for(user=acme_member, organization_slug="globex", params={})

    # then
    assert dashboard.organization is not None and dashboard.organization.slug == "acme"
    assert [line.budget.name for line in dashboard.budgets] == ["Acme monthly"]


def test_a_member_of_two_organizations_gets_the_first_then_the_one_chosen(acme_member) -> None:
    # given
    globex = Organization.objects.get(slug="globex")
    MembershipFactory(user=acme_member, organization=globex, role=Role.VIEWER)

    # when
    first = dashboard_for(user=acme_member, params={})
    chosen = dashboard_for(user=acme_member, organization_slug="globex", params={})

    # then
    assert [organization.slug for organization in first.organizations] == ["acme", "globex"]
    assert first.organization is not None and first.organization.slug == "acme"
    assert chosen.organization is not None and chosen.organization.slug == "globex"
    assert [line.budget.name for line in chosen.budgets] == ["Globex monthly"]
    assert chosen.teams == ["Globex Research"]
    assert [upload.original_name for upload in chosen.uploads] == ["globex-export.csv"]


def test_a_user_of_no_organization_gets_an_empty_dashboard(acme_member) -> None:
    # given
    outsider = MembershipFactory(organization=OrganizationFactory(slug="lonely"), role=Role.VIEWER).user
    outsider.memberships.all().delete()

    # when
    dashboard = dashboard_for(user=outsider, organization_slug="acme", params={})

    # then
    assert dashboard.organization is None
    assert dashboard.organizations == []
    assert dashboard.budgets == [] and dashboard.uploads == [] and dashboard.spend is None


def test_filter_values_of_another_organization_are_dropped(acme_member) -> None:
    # given
    acme = Organization.objects.get(slug="acme")
    dimensions = spend_dimensions(organization=acme)

    # when
    filters = spend_filters(
        params={"team": "Globex Research", "provider": "openai", "model": "gpt-4.1", "period": "forever"},
        dimensions=dimensions,
    )

    # then
    assert filters == SpendFilters(team="", provider="openai", model="", period="12m")


def test_a_team_filter_narrows_budgets_alerts_and_recommendations(acme_member) -> None:
    # given
    acme = Organization.objects.get(slug="acme")
    platform = TeamFactory(organization=acme, name="Platform", slug="platform")
    ledger_days(acme, platform, date(2026, 3, 1), [5.0] * 10, model="gpt-4o")
    usage_rollup_refresh(organization=acme)
    budget_save(
        organization=acme,
        data={
            "name": "Platform monthly",
            "team": platform,
            "period": "month",
            "starts_on": date(2026, 3, 1),
            "amount": Decimal(100),
        },
    )

    # when
    dashboard = dashboard_for(user=acme_member, params={"team": "Platform"})

    # then
    assert dashboard.filters.team == "Platform"
    assert dashboard.teams == ["Platform", "Search"]
    assert [line.budget.name for line in dashboard.budgets] == ["Platform monthly"]
    assert dashboard.alerts == [] and dashboard.recommendations == []
    assert dashboard.spend is not None and dashboard.spend.actual_total == Decimal("50.00")
    assert dashboard.team_id == platform.pk


# Spend by month


def test_spend_by_month_is_the_actual_then_the_month_total_with_the_runs_band(organization, search, known_run) -> None:
    # given: 200 USD of Search actuals by March 10; the rest of March forecast at 210 (paths 100, 200, ..., 1000)
    usage_rollup_refresh(organization=organization)

    # when
    spend = scope_monthly_spend(organization=organization, team="Search")

    # then: April is left out, the run ends on April 19
    assert [(m.month, m.actual, m.forecast, m.lower, m.upper) for m in spend.months] == [
        (date(2026, 3, 1), Decimal("200.00"), Decimal("410.00"), Decimal("390.00"), Decimal("1110.00"))
    ]
    assert (spend.forecast_total, spend.forecast_lower, spend.forecast_upper) == (
        Decimal("210.00"),
        Decimal("190.00"),
        Decimal("910.00"),
    )
    assert spend.actual_total == Decimal("200.00")
    assert spend.actual_through == date(2026, 3, 10)
    assert spend.forecast_run == known_run.pk
    assert (spend.currency, spend.interval_label, spend.notes) == ("USD", "80% interval", [])


def test_spend_of_a_scope_the_run_does_not_cover_has_no_forecast(organization, search, known_run) -> None:
    # given
    usage_rollup_refresh(organization=organization)

    # when
    spend = scope_monthly_spend(organization=organization, model="claude-sonnet-4-5")

    # then
    assert spend.months == []
    assert spend.forecast_total is None


def test_spend_is_in_the_reporting_currency_forecast_converted_at_todays_rate(organization, search, known_run) -> None:
    # given: 1 USD = 0.5 EUR
    organization.reporting_currency = "EUR"
    organization.save()
    FxRateFactory(from_currency="USD", to_currency="EUR", rate=Decimal("0.5"), rate_date=date(2026, 1, 1))
    usage_rollup_refresh(organization=organization)

    # when
    spend = scope_monthly_spend(organization=organization)

    # then
    assert spend.currency == "EUR"
    assert [(m.actual, m.forecast, m.lower, m.upper) for m in spend.months] == [
        (Decimal("100.00"), Decimal("205.00"), Decimal("195.00"), Decimal("555.00"))
    ]


def test_a_dashboard_whose_costs_have_no_rate_to_the_reporting_currency_says_so(acme_member) -> None:
    # given
    acme = Organization.objects.get(slug="acme")
    acme.reporting_currency = "JPY"
    acme.save()

    # when
    dashboard = dashboard_for(user=acme_member, params={})

    # then
    assert dashboard.spend is None
    assert dashboard.problem.startswith("Spend cannot be shown in JPY: no USD->JPY exchange rate on or before ")
    assert [line.budget.name for line in dashboard.budgets] == ["Acme monthly"]


def test_a_monthly_budget_amount_is_drawn_in_the_charts_currency(organization) -> None:
    # given
    FxRateFactory(from_currency="EUR", to_currency="USD", rate=Decimal("1.10"), rate_date=date(2026, 1, 1))
    monthly = Budget(organization=organization, name="m", period="month", amount=Decimal(1000), currency="EUR")
    yearly = Budget(organization=organization, name="y", period="year", amount=Decimal(1000), currency="EUR")

    # when / then
    assert budget_monthly_amount(budget=monthly, currency="USD", on=date(2026, 3, 1)) == Decimal("1100.00")
    assert budget_monthly_amount(budget=monthly, currency="EUR", on=date(2026, 3, 1)) == Decimal(1000)
    assert budget_monthly_amount(budget=yearly, currency="USD", on=date(2026, 3, 1)) is None


def test_models_by_spend_lists_the_organizations_models_with_their_share(organization, search) -> None:
    # given
    ledger_days(organization, search, date(2026, 3, 1), [30.0] * 10, model="gpt-4o")
    ledger_days(organization, search, date(2026, 3, 1), [10.0] * 10, model="gpt-4.1", provider="azure_openai")
    usage_rollup_refresh(organization=organization)

    # when
    rows = model_spend_table(organization=organization)

    # then
    assert [(row.model, row.providers, row.tokens, row.cost, row.share) for row in rows] == [
        ("gpt-4o", ["openai"], 10_000, Decimal("300.00"), 0.75),
        ("gpt-4.1", ["azure_openai"], 10_000, Decimal("100.00"), 0.25),
    ]
