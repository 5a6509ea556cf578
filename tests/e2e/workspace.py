"""Two organizations with a finance team's whole workspace each, for the browser tests of roles and tenancy.

"acme" (the organization the users belong to) and "globex" (the other one) each get a team, a month of
priced ledger rows, an upload, a succeeded forecast run with known paths, a budget, an open alert, a
recommendation, an allocation rule, a model alias, a price override and a price scenario. Every name of
globex's contains "Globex" (or "globex"), so a page can be checked for leaks by one string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from finops.models import AllocationRule, ModelAlias, Organization, PriceOverride, Role, Team
from forecasting.models import ForecastScope, PriceScenario
from ingest.models import Upload
from planning.models import Alert, Budget, Recommendation
from planning.services import budget_save
from tests.factories import OrganizationFactory, TeamFactory
from tests.planning.helpers import banded_scope, cell, forecast_run, ledger_days, month_starts_from

PASSWORD = "pw-for-tests"  # UserFactory's
FIRST_DAY = date(2026, 10, 1)
DAYS = 45
LEAK_MARKER = "globex"


@dataclass(frozen=True)
class OrganizationWorld:
    organization: Organization
    team: Team
    upload: Upload
    budget: Budget


def _forecast(organization: Organization, team: Team, model: str) -> None:
    history_end = FIRST_DAY + timedelta(days=DAYS - 1)
    run = forecast_run(organization, history_end, 60)
    daily = [30.0] * 60
    months = len(month_starts_from(history_end + timedelta(days=1), 60))
    paths = [[500.0 + 10 * sample] + [900.0] * (months - 1) for sample in range(20)]
    cell(run, team=team.name, model=model, daily_cost=daily, monthly_paths=paths)
    band = [(20.0, 40.0)] * 60
    banded_scope(run, tokens=[1000.0] * 60, cost=daily, token_band=[(800.0, 1200.0)] * 60, cost_band=band)
    assert ForecastScope.objects.filter(run=run).count() == 2


def organization_world(slug: str, name: str, *, team_name: str, model: str) -> OrganizationWorld:
    """One organization's workspace (see the module docstring)."""
    organization = OrganizationFactory(slug=slug, name=name)
    team = TeamFactory(organization=organization, name=team_name, slug=team_name.lower().replace(" ", "-"))
    ledger_days(organization, team, FIRST_DAY, [25.0 + (day % 7) for day in range(DAYS)], model=model)
    upload = Upload.objects.filter(organization=organization).get()
    upload.original_name = f"{slug}-usage-export.csv"
    upload.save(update_fields=["original_name"])
    _refresh_rollup(organization)
    _forecast(organization, team, model)
    budget = budget_save(
        organization=organization,
        data={"name": f"{name} monthly", "period": "month", "starts_on": date(2026, 11, 1), "amount": Decimal(800)},
    )
    Alert.objects.create(
        organization=organization,
        budget=budget,
        kind=Alert.Kind.FORECAST_OVERRUN,
        period_start=date(2026, 11, 1),
        level=1.0,
        message=f"{name} monthly is forecast to overrun",
        opened_at=timezone.now(),
    )
    Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.MODEL_SWITCH,
        team=team.name,
        provider="openai",
        model=model,
        to_model="gpt-4o-mini",
        title=f"Move {team_name} from {model} to gpt-4o-mini",
        monthly_savings=Decimal("123.45"),
        twelve_month_savings=Decimal("1481.40"),
    )
    AllocationRule.objects.create(organization=organization, team=team, dimension="project", value=f"{slug}-proj")
    ModelAlias.objects.create(organization=organization, model_raw=f"{slug}-finetune", model=model)
    PriceOverride.objects.create(
        organization=organization, provider="openai", discount_percent=Decimal(5), effective_from=FIRST_DAY, note=name
    )
    PriceScenario.objects.create(organization=organization, name=f"{slug}-scenario")
    return OrganizationWorld(organization=organization, team=team, upload=upload, budget=budget)


def _refresh_rollup(organization: Organization) -> None:
    """The usage rollup the API and the dashboard read (the builders above write the ledger directly)."""
    from ingest.rollup import usage_rollup_refresh

    usage_rollup_refresh(organization=organization)


def two_organizations() -> tuple[OrganizationWorld, OrganizationWorld]:
    acme = organization_world("acme", "Acme", team_name="Search", model="gpt-4o")
    globex = organization_world("globex", "Globex", team_name="Globex Research", model="gpt-4.1")
    return acme, globex


ROLES = (Role.VIEWER, Role.ANALYST, Role.ADMIN)
