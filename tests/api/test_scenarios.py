"""Price-scenario endpoints: members read an organization's own scenarios, analysts write them; a forecast run
can name one."""

from __future__ import annotations

import pytest

from forecasting.models import ForecastRun, PriceScenario
from tests.api.shape import invalid
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
SCENARIOS = "/api/v1/scenarios/"


def test_an_analyst_creates_a_scenario_and_a_forecast_can_use_it(api_client_for, analyst, organization) -> None:
    client = api_client_for(analyst)

    created = client.post(
        SCENARIOS, {"name": "steep", "mid_annual_factor": 30, "elasticity": 0.2, "description": "fast"}, format="json"
    )
    queued = client.post("/api/v1/forecasts/", {"scenario": "steep", "policy": "cheapest_at_bar"}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert (body["organization"], body["name"], body["mid_annual_factor"], body["frontier_annual_factor"]) == (
        "acme",
        "steep",
        30.0,
        10.0,
    )
    assert queued.status_code == 202
    assert ForecastRun.objects.values_list("scenario", "policy").get() == ("steep", "cheapest_at_bar")


def test_a_built_in_name_or_a_taken_name_is_400(api_client_for, analyst, organization) -> None:
    PriceScenario.objects.create(organization=organization, name="steep")
    client = api_client_for(analyst)

    built_in = client.post(SCENARIOS, {"name": "base"}, format="json")
    taken = client.post(SCENARIOS, {"name": "steep"}, format="json")

    assert built_in.json() == invalid("name", "'base' is a built-in scenario; choose another name")
    assert taken.status_code == 400
    assert taken.json()["errors"][0]["message"] == "Price scenario with this Organization and Name already exists."


def test_values_a_forecast_cannot_use_are_400(api_client_for, analyst, organization) -> None:
    response = api_client_for(analyst).post(SCENARIOS, {"name": "x", "stay_annual_drift": -1.5}, format="json")

    assert response.json() == invalid(
        "stay_annual_drift", "Ensure this value is greater than or equal to -0.99.", "min_value"
    )


def test_a_viewer_reads_but_cannot_write(api_client_for, viewer, organization) -> None:
    scenario = PriceScenario.objects.create(organization=organization, name="steep")
    PriceScenario.objects.create(organization=OrganizationFactory(slug="other"), name="theirs")
    client = api_client_for(viewer)

    listed = client.get(SCENARIOS).json()["results"]
    changed = client.patch(f"{SCENARIOS}{scenario.pk}/", {"elasticity": 1}, format="json")
    deleted = client.delete(f"{SCENARIOS}{scenario.pk}/")

    assert [item["name"] for item in listed] == ["steep"]
    assert (changed.status_code, deleted.status_code) == (403, 403)


def test_an_analyst_changes_and_deletes_a_scenario(api_client_for, analyst, organization) -> None:
    scenario = PriceScenario.objects.create(organization=organization, name="steep")
    client = api_client_for(analyst)

    changed = client.patch(f"{SCENARIOS}{scenario.pk}/", {"elasticity": 0.5}, format="json")
    deleted = client.delete(f"{SCENARIOS}{scenario.pk}/")

    assert (changed.status_code, changed.json()["elasticity"], changed.json()["name"]) == (200, 0.5, "steep")
    assert deleted.status_code == 204
    assert not PriceScenario.objects.exists()
