"""Cached answers (finops/api/caching.py): the same bytes while the data stands, a new answer as soon as it
changes, never another caller's answer, and never for exports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planning.models import Recommendation
from planning.services import budget_save

pytestmark = pytest.mark.django_db


def test_recommendations_are_answered_from_the_cache_until_one_changes(
    analyst, api_client_for, acme_data, django_assert_max_num_queries
) -> None:
    client = api_client_for(analyst)
    first = client.get("/api/v1/recommendations/")

    with django_assert_max_num_queries(6):  # authentication, membership scope and the version; no serializing
        again = client.get("/api/v1/recommendations/")
    Recommendation.objects.filter(pk=acme_data.recommendation.pk).update(title="Move Search to gpt-4.1-mini")
    acme_data.recommendation.refresh_from_db()
    acme_data.recommendation.save()  # a change the service makes bumps updated_at
    after = client.get("/api/v1/recommendations/")

    assert first.status_code == again.status_code == after.status_code == 200
    assert again.content == first.content
    assert after.json()["results"][0]["title"] == "Move Search to gpt-4.1-mini"


def test_a_budget_status_follows_a_changed_amount(analyst, api_client_for, acme_data) -> None:
    client = api_client_for(analyst)
    url = f"/api/v1/budgets/{acme_data.budget.pk}/status/?period=2026-01-15"
    before = client.get(url).json()

    budget_save(
        organization=acme_data.organization,
        data={"name": acme_data.budget.name, "team": "search", "starts_on": "2026-01-01", "amount": "600"},
        budget=acme_data.budget,
    )
    changed = client.get(url).json()

    assert Decimal(before["amount"]) == 300
    assert Decimal(changed["amount"]) == 600


def test_the_latest_forecast_is_cached_per_caller_and_exports_are_not(
    analyst, viewer, outsider, api_client_for, acme_data, other_data
) -> None:
    mine = api_client_for(analyst).get("/api/v1/forecasts/latest/").json()
    theirs = api_client_for(outsider).get("/api/v1/forecasts/latest/").json()
    exported = api_client_for(viewer).get("/api/v1/recommendations/?format=csv")

    assert mine["id"] == acme_data.run.pk
    assert theirs["id"] == other_data.run.pk
    assert exported["Content-Type"].startswith("text/csv")
