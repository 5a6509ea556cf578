"""An organization ready for its May 2026 forecast e-mails, with numbers known in advance.

Ledger (USD): Search spends 15 a day in March and 20 a day in April (600); Ads 5 a day in April (150). The run's
history ends on April 30 and it forecasts May 1 to August 31 (123 days): Search 10 a day in May (310), 12 in June
(360), 14 in July (434), 16 in August (496); Ads 5 a day. Search's May paths are 100, 200, ..., 1000; Ads' are
150..159.

Budgets (monthly, from January): "Search monthly" 450 (April 600: over by 150; May 310, 6 of 10 paths above 450),
"Ads monthly" 100 (April 150; May 155, every path above, passing 100 on May 21), "Acme total" 1000 (organization
wide). Owners: Dana (a user) and finance@ own Search; finance@ and cfo@ own the total; ads-lead@ owns Ads. So four
owners get e-mails, finance@ one covering two budgets. A member who owns no budget gets none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth.models import User

from finops.models import Organization, Role, Team
from forecasting.models import ForecastRun
from planning.models import Alert, Budget, BudgetOwner, Recommendation
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.planning.helpers import cell, forecast_run, ledger_days

MONTH = date(2026, 5, 1)
OWNERS = ["ads-lead@example.com", "cfo@example.com", "dana@example.com", "finance@example.com"]


@dataclass
class ForecastEmailWorld:
    organization: Organization
    search: Team
    ads: Team
    run: ForecastRun
    search_budget: Budget
    ads_budget: Budget
    total_budget: Budget
    dana: User
    idle_member: User
    overrun_alert: Alert
    search_recommendation: Recommendation


def _budget(organization: Organization, name: str, amount: str, owners: list[User | str], **scope: object) -> Budget:
    budget = Budget.objects.create(
        organization=organization, name=name, starts_on=date(2026, 1, 1), amount=Decimal(amount), **scope
    )
    for owner in owners:
        if isinstance(owner, str):
            BudgetOwner.objects.create(budget=budget, email=owner)
        else:
            BudgetOwner.objects.create(budget=budget, user=owner)
    return budget


def _run(organization: Organization) -> ForecastRun:
    run = forecast_run(organization, date(2026, 4, 30), 123)
    cell(
        run,
        team="Search",
        daily_cost=[10.0] * 31 + [12.0] * 30 + [14.0] * 31 + [16.0] * 31,
        monthly_paths=[[100.0 * (k + 1), 300.0 + 10 * k, 380.0 + 10 * k, 450.0 + 10 * k] for k in range(10)],
    )
    cell(
        run,
        team="Ads",
        model="gpt-4o-mini",
        daily_cost=[5.0] * 123,
        monthly_paths=[[150.0 + k, 145.0 + k, 150.0 + k, 150.0 + k] for k in range(10)],
    )
    return run


def _alerts(organization: Organization, search_budget: Budget) -> Alert:
    opened = datetime(2026, 4, 20, 6, 0, tzinfo=UTC)
    overrun = Alert.objects.create(
        organization=organization,
        budget=search_budget,
        kind=Alert.Kind.FORECAST_OVERRUN,
        period_start=date(2026, 4, 1),
        level=0.9,
        message="Budget 'Search monthly' (team Search) is forecast to overrun: 90% likely",
        opened_at=opened,
    )
    Alert.objects.create(
        organization=organization,
        kind=Alert.Kind.ANOMALY,
        period_start=date(2026, 4, 28),
        scope="Search | gpt-4o",
        message="Unusual spend in Search | gpt-4o on 2026-04-28",
        opened_at=opened,
    )
    Alert.objects.create(
        organization=organization,
        budget=search_budget,
        kind=Alert.Kind.THRESHOLD,
        period_start=date(2026, 3, 1),
        status=Alert.Status.RESOLVED,
        message="resolved: not in the e-mail",
        opened_at=opened,
    )
    return overrun


def _recommendations(organization: Organization) -> Recommendation:
    search = Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.MODEL_SWITCH,
        team="Search",
        provider="openai",
        model="gpt-4o",
        to_model="gpt-4o-mini",
        title="=Switch Search from gpt-4o to gpt-4o-mini",  # a title a spreadsheet would run, escaped in the CSV
        monthly_savings=Decimal("120.50"),
        twelve_month_savings=Decimal("1446.00"),
    )
    Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.BATCH,
        team="Ads",
        provider="openai",
        model="gpt-4o-mini",
        title="Batch the Ads classification jobs",
        monthly_savings=Decimal("30.00"),
        twelve_month_savings=Decimal("360.00"),
    )
    Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.PROMPT_CACHING,
        team="Search",
        title="Dismissed: not in the e-mail",
        monthly_savings=Decimal("999.00"),
        twelve_month_savings=Decimal("9999.00"),
        status=Recommendation.Status.DISMISSED,
    )
    return search


def forecast_email_world(organization: Organization) -> ForecastEmailWorld:
    search = TeamFactory(organization=organization, name="Search", slug="search")
    ads = TeamFactory(organization=organization, name="Ads", slug="ads")
    ledger_days(organization, search, date(2026, 3, 1), [15.0] * 31 + [20.0] * 30)
    ledger_days(organization, ads, date(2026, 4, 1), [5.0] * 30, model="gpt-4o-mini")
    run = _run(organization)
    dana = UserFactory(username="dana", email="dana@example.com", first_name="Dana", last_name="Lee")
    MembershipFactory(user=dana, organization=organization, role=Role.VIEWER)
    idle_member = MembershipFactory(
        user=UserFactory(username="idle", email="idle@example.com"), organization=organization
    ).user
    search_budget = _budget(organization, "Search monthly", "450", [dana, "finance@example.com"], team=search)
    ads_budget = _budget(organization, "Ads monthly", "100", ["ads-lead@example.com"], team=ads)
    total_budget = _budget(organization, "Acme total", "1000", ["Finance@Example.com", "cfo@example.com"])
    return ForecastEmailWorld(
        organization=organization,
        search=search,
        ads=ads,
        run=run,
        search_budget=search_budget,
        ads_budget=ads_budget,
        total_budget=total_budget,
        dana=dana,
        idle_member=idle_member,
        overrun_alert=_alerts(organization, search_budget),
        search_recommendation=_recommendations(organization),
    )
