"""Forecast endpoints: create validates the documented scenario and policy choices; money at the currency's
minor unit; months per level."""

from __future__ import annotations

import pytest

from forecasting.models import ForecastRun
from tests.api.shape import invalid

pytestmark = pytest.mark.django_db
FORECASTS = "/api/v1/forecasts/"


def test_create_queues_a_run_with_a_built_in_scenario_and_a_policy(api_client_for, analyst, organization) -> None:
    response = api_client_for(analyst).post(
        FORECASTS, {"scenario": "aggressive", "policy": "follow_tier", "horizon_days": 30}, format="json"
    )

    assert response.status_code == 202
    assert (response.json()["scenario"], response.json()["policy"], response.json()["status"]) == (
        "aggressive",
        "follow_tier",
        "queued",
    )


def test_an_unknown_scenario_or_policy_is_400(api_client_for, analyst, organization) -> None:
    client = api_client_for(analyst)

    scenario = client.post(FORECASTS, {"scenario": "rosy"}, format="json")
    policy = client.post(FORECASTS, {"policy": "cheapest"}, format="json")

    assert scenario.json() == invalid(None, "unknown scenario 'rosy'; expected one of conservative, base, aggressive")
    assert policy.json() == invalid("policy", '"cheapest" is not a valid choice.', "invalid_choice")
    assert not ForecastRun.objects.exists()


def test_the_schema_documents_the_scenarios_and_policies(api_client_for, viewer) -> None:
    schema = api_client_for(viewer).get("/api/schema/", {"format": "json"}).json()

    components = schema["components"]["schemas"]
    properties = components["ForecastInput"]["properties"]
    policy = components[properties["policy"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert policy["enum"] == ["stay", "follow_tier", "cheapest_at_bar"]
    assert "conservative, base, aggressive" in properties["scenario"]["description"]
    assert properties["scenario"]["maxLength"] == 32


def test_a_viewer_cannot_queue_a_forecast(api_client_for, viewer, organization) -> None:
    response = api_client_for(viewer).post(FORECASTS, {}, format="json")

    assert response.status_code == 403


def test_a_run_s_money_is_rounded_to_cents(api_client_for, viewer, acme_data) -> None:
    body = api_client_for(viewer).get(f"{FORECASTS}{acme_data.run.pk}/").json()

    assert [month["cost"] for month in body["monthly"]] == ["1495.84", "1496.84"]
    assert body["levels"]["team"]["Search"][0]["cost_lower"] == "1395.84"
    assert body["points"][0]["cost"] == "49.86"


def test_compare_gives_both_runs_costs(api_client_for, viewer, acme_data) -> None:
    run = acme_data.run
    body = api_client_for(viewer).get(f"{FORECASTS}{run.pk}/compare/", {"with": run.pk, "level": "team"}).json()

    assert (body["a"], body["b"], body["level"]) == (run.pk, run.pk, "team")
    assert [(row["key"], row["cost_a"], row["cost_change"]) for row in body["months"]] == [
        ("Search", "1495.84", "0.00"),
        ("Search", "1496.84", "0.00"),
    ]


def test_an_unknown_level_is_400(api_client_for, viewer, acme_data) -> None:
    response = api_client_for(viewer).get(f"{FORECASTS}{acme_data.run.pk}/months/", {"level": "galaxy"})

    assert response.json() == invalid(
        "level", "unknown level 'galaxy'; use organization, provider, team, model, team_model"
    )
