"""Fixtures for the API tests: a user per role in "acme", a second organization with data of its own, a ledger
ingested through the real upload path, a forecast run with stored months, and throttle counts cleared per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from finops.models import AllocationRule, Organization, Role, Team
from forecasting.models import ForecastMonth, ForecastPoint, ForecastRun, PriceScenario
from ingest.models import Upload
from ingest.services import upload_create
from planning.models import Alert, Budget, Recommendation, Webhook
from planning.services import budget_save
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ANTHROPIC_COST = FIXTURES / "anthropic" / "claude_api_cost_2026_02_08_to_2026_02_15.csv"
OPENAI_USAGE = FIXTURES / "openai" / "completions_usage_2026-08-01_2026-08-31.csv"


@pytest.fixture
def admin(organization) -> User:
    return MembershipFactory(organization=organization, role=Role.ADMIN).user


@pytest.fixture
def search(organization) -> Team:
    return TeamFactory(organization=organization, name="Search", slug="search")


def ingest_file(organization: Organization, path: Path, user: User | None = None) -> Upload:
    """A file ingested through the upload service (tasks run eagerly in tests), as the API does it."""
    with path.open("rb") as handle, TestCase.captureOnCommitCallbacks(execute=True):
        upload = upload_create(
            organization=organization,
            source=SimpleUploadedFile(path.name, handle.read()),
            filename=path.name,
            user=user,
        )
    upload.refresh_from_db()
    return upload


def stored_forecast(organization: Organization, *, teams: tuple[str, ...] = ("Search",)) -> ForecastRun:
    """A succeeded run with months at the organization and team levels and a few daily points (no fitting)."""
    run = ForecastRun.objects.create(
        organization=organization,
        status=ForecastRun.Status.SUCCEEDED,
        horizon_days=60,
        history_start=date(2026, 1, 1),
        history_end=date(2026, 3, 31),
        history_days=90,
        cost_per_million_tokens=Decimal("2.500000"),
        finished_at=timezone.now(),
    )
    months = [date(2026, 4, 1), date(2026, 5, 1)]
    rows = []
    for level, keys in ((ForecastMonth.Level.ORGANIZATION, ("",)), (ForecastMonth.Level.TEAM, teams)):
        for key in keys:
            for index, month in enumerate(months):
                cost = Decimal("1495.84") + index
                rows.append(
                    ForecastMonth(
                        run=run,
                        level=level,
                        key=key,
                        month=month,
                        days=30,
                        tokens=1_000_000 + index,
                        tokens_by_type={"input": 800_000, "output": 200_000 + index},
                        tokens_intervals={"80": [900_000, 1_100_000]},
                        cost=cost,
                        cost_intervals={"80": [str(cost - 100), str(cost + 100)]},
                    )
                )
    ForecastMonth.objects.bulk_create(rows)
    ForecastPoint.objects.bulk_create(
        ForecastPoint(
            run=run,
            date=date(2026, 4, day),
            tokens=33_000,
            tokens_lower=30_000,
            tokens_upper=36_000,
            cost=Decimal("49.86"),
            cost_lower=Decimal("45.00"),
            cost_upper=Decimal("55.00"),
        )
        for day in (1, 2, 3)
    )
    return run


@dataclass
class Tenant:
    """One organization's data, as the API tests need it."""

    organization: Organization
    team: Team
    upload: Upload
    rule: AllocationRule
    run: ForecastRun
    budget: Budget
    recommendation: Recommendation
    scenario: PriceScenario
    alert: Alert
    webhook: Webhook


def tenant_data(organization: Organization, team_name: str) -> Tenant:
    team = TeamFactory(organization=organization, name=team_name, slug=team_name.lower())
    upload = ingest_file(organization, OPENAI_USAGE)
    rule = AllocationRule.objects.create(organization=organization, team=team, dimension="model", value="gpt-4o")
    run = stored_forecast(organization, teams=(team_name,))
    budget = budget_save(
        organization=organization,
        data={"name": f"{team_name} monthly", "team": team.slug, "starts_on": "2026-01-01", "amount": "300"},
    )
    recommendation = Recommendation.objects.create(
        organization=organization,
        kind=Recommendation.Kind.MODEL_SWITCH,
        title="Move to a cheaper model",
        team=team_name,
        provider="openai",
        model="gpt-4o",
        to_model="gpt-4.1-mini",
        monthly_savings=Decimal("120.50"),
        twelve_month_savings=Decimal("1446.00"),
        forecast_run=run,
    )
    scenario = PriceScenario.objects.create(organization=organization, name=f"{team_name.lower()}-flat")
    alert = Alert.objects.create(
        organization=organization,
        budget=budget,
        kind=Alert.Kind.THRESHOLD,
        period_start=date(2026, 1, 1),
        level=0.8,
        message=f"{budget.name} passed 80%",
        opened_at=timezone.now(),
    )
    webhook = Webhook.objects.create(
        organization=organization, name="ops", url="https://hooks.example.com/ops", secret="s3cret"
    )
    return Tenant(organization, team, upload, rule, run, budget, recommendation, scenario, alert, webhook)


@pytest.fixture
def acme_data(organization) -> Tenant:
    return tenant_data(organization, "Search")


@pytest.fixture
def other_data() -> Tenant:
    """Another organization with data of its own (its admin belongs only there)."""
    other = OrganizationFactory(slug="other", name="Other")
    MembershipFactory(organization=other, role=Role.ADMIN)
    return tenant_data(other, "Ads")
