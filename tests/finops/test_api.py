"""Price endpoints: prices in force (list and as an organization pays them), history, access, the schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.api.shape import invalid
from tests.factories import PriceOverrideFactory

pytestmark = pytest.mark.django_db

SONNET_SOURCE = (
    "pydantic/genai-prices@6e8648564a prices/providers/anthropic.yml id 'claude-sonnet-4-5' (git commit date "
    "2025-09-29; first listed)"
)


def test_prices_in_force_on_a_date_with_the_organization_price(api_client_for, viewer, organization) -> None:
    PriceOverrideFactory(organization=organization, provider="anthropic", discount_percent=Decimal("10"))

    response = api_client_for(viewer).get(
        "/api/v1/prices/",
        {"model": "claude-sonnet-4-5", "provider": "anthropic", "on": "2026-03-01", "organization": "acme"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["on"], body["organization"]) == ("claude-sonnet-4-5", "2026-03-01", "acme")
    assert body["results"][0] == {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "token_type": "input",
        "cache_ttl": "",
        "priced_provider": "anthropic",
        "priced_model": "claude-sonnet-4-5",
        "usd_per_million": "3.000000",
        "effective_from": "2025-09-29",
        "effective_to": None,
        "source": SONNET_SOURCE,
        "organization_usd_per_million": "2.700000",
        "organization_adjustment": "10% off anthropic from 2025-01-01",
    }
    assert [(r["token_type"], r["cache_ttl"], r["usd_per_million"]) for r in body["results"]] == [
        ("input", "", "3.000000"),
        ("output", "", "15.000000"),
        ("cached_input", "", "0.300000"),
        ("cache_write", "5m", "3.750000"),
        ("cache_write", "1h", "6.000000"),
    ]


def test_prices_without_organization_give_list_prices_only(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/v1/prices/", {"model": "claude-sonnet-5", "on": "2026-09-01"})

    rows = response.json()["results"]
    assert {(r["provider"], r["token_type"], r["usd_per_million"]) for r in rows if r["token_type"] == "input"} == {
        ("anthropic", "input", "3.000000"),
        ("aws_bedrock", "input", "3.000000"),
    }
    assert {r["organization_usd_per_million"] for r in rows} == {None}


def test_an_organization_you_do_not_belong_to_is_not_found(api_client_for, outsider, organization) -> None:
    response = api_client_for(outsider).get("/api/v1/prices/", {"model": "gpt-4o", "organization": "acme"})

    assert response.status_code == 404


def test_model_is_required_and_dates_are_checked(api_client_for, viewer) -> None:
    client = api_client_for(viewer)

    assert client.get("/api/v1/prices/").json() == invalid("model", "This field is required.", "required")
    assert client.get("/api/v1/prices/", {"model": "gpt-4o", "on": "yesterday"}).status_code == 400


def test_price_history_lists_the_steps(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/v1/prices/history/", {"model": "gpt-4o", "provider": "openai"})

    steps = [
        (r["token_type"], r["effective_from"], r["usd_per_million"])
        for r in response.json()["results"]
        if r["model"] == "gpt-4o" and r["token_type"] in ("input", "output")
    ]
    assert steps == [
        ("input", "2024-05-14", "5.000000"),
        ("input", "2024-10-16", "2.500000"),
        ("output", "2024-05-14", "15.000000"),
        ("output", "2024-10-16", "10.000000"),
    ]


def test_prices_need_authentication(client) -> None:
    assert client.get("/api/v1/prices/", {"model": "gpt-4o"}).status_code in (401, 403)


def test_schema_documents_the_price_and_reconciliation_endpoints(api_client_for, analyst) -> None:
    response = api_client_for(analyst).get("/api/schema/")

    assert response.status_code == 200
    for route in (b"/api/v1/prices/:", b"/api/v1/prices/history/:", b"/api/v1/reconciliation/:"):
        assert route in response.content


def test_today_is_the_default_day(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/v1/prices/", {"model": "gpt-4o", "provider": "openai"})

    assert response.json()["on"] == timezone.now().date().isoformat()


def test_organizations_lists_only_the_callers_with_their_settings(
    api_client_for, viewer, organization, outsider
) -> None:
    organization.holiday_country = "DE"
    organization.save()

    response = api_client_for(viewer).get("/api/v1/organizations/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["slug"], row["reporting_currency"], row["holiday_country"]) for row in rows] == [("acme", "USD", "DE")]
