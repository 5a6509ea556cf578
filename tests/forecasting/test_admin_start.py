"""The admin's "Start a forecast run" page (forecasting.admin_start): analysts choose the organization, scenario
(built in or their organization's own), policy and horizon; viewers are told they may not."""

from __future__ import annotations

import pytest

from finops.models import Role
from forecasting.models import ForecastRun, PriceScenario
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

START = "/admin/forecasting/forecastrun/start/"


def _staff_client(client, organization, role: str):
    client.force_login(MembershipFactory(organization=organization, role=role, user__is_staff=True).user)
    return client


def test_a_viewer_is_told_starting_a_run_needs_the_analyst_role(client, organization) -> None:
    # given
    viewer_client = _staff_client(client, organization, Role.VIEWER)

    # when
    page = viewer_client.get(START).content.decode()

    # then
    assert 'id="forecast-start-denied"' in page
    assert 'id="forecast-start-form"' not in page


def test_the_scenarios_offered_are_the_built_in_ones_and_the_organizations_own(client, organization) -> None:
    # given
    PriceScenario.objects.create(organization=organization, name="acme-cheap")
    PriceScenario.objects.create(organization=OrganizationFactory(slug="globex"), name="globex-cheap")
    analyst_client = _staff_client(client, organization, Role.ANALYST)

    # when
    page = analyst_client.get(START).content.decode()

    # then
    assert '<option value="aggressive">aggressive</option>' in page
    assert '<optgroup label="Acme&#x27;s scenarios">' in page
    assert "acme-cheap" in page
    assert "globex" not in page


def test_another_organizations_scenario_is_refused_and_no_run_starts(client, organization) -> None:
    # given
    PriceScenario.objects.create(organization=OrganizationFactory(slug="globex"), name="globex-cheap")
    analyst_client = _staff_client(client, organization, Role.ANALYST)

    # when
    response = analyst_client.post(
        START,
        {
            "organization": "acme",
            "scenario": "globex-cheap",
            "policy": "stay",
            "horizon_days": "30",
            "interval_width": "0.8",
        },
    )

    # then
    assert response.status_code == 200
    assert "Select a valid choice. globex-cheap is not one of the available choices." in response.content.decode()
    assert not ForecastRun.objects.exists()


def test_an_analyst_starts_a_run_with_the_chosen_scenario_and_policy(client, organization) -> None:
    # given
    PriceScenario.objects.create(organization=organization, name="acme-cheap")
    analyst_client = _staff_client(client, organization, Role.ANALYST)

    # when
    response = analyst_client.post(
        START,
        {
            "organization": "acme",
            "scenario": "acme-cheap",
            "policy": "cheapest_at_bar",
            "horizon_days": "60",
            "interval_width": "0.9",
        },
    )

    # then
    run = ForecastRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/forecasting/forecastrun/{run.pk}/change/"
    assert (run.organization, run.scenario, run.policy, run.horizon_days, run.interval_width) == (
        organization,
        "acme-cheap",
        "cheapest_at_bar",
        60,
        0.9,
    )
    assert run.created_by is not None and run.created_by.memberships.get().role == Role.ANALYST
