"""Cached answers (finops/api/caching.py): the same bytes while the data stands, a new answer as soon as it
changes, never another caller's answer (an organization's members share its usage answers), never for exports;
the polled answers in three queries, and an uncached answer built once however many ask at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


def test_usage_answers_are_shared_within_an_organization_and_never_across(
    analyst, viewer, outsider, api_client_for, acme_data, other_data
) -> None:
    url = "/api/v1/usage/summary/?by=team"  # the same path for all three: each one's only organization
    analysts = api_client_for(analyst).get(url)
    viewers = api_client_for(viewer).get(url)
    outsiders = api_client_for(outsider).get(url)

    assert analysts.status_code == viewers.status_code == outsiders.status_code == 200
    assert viewers.content == analysts.content  # one answer for the organization, built once
    assert analysts.json()["organization"] == acme_data.organization.slug
    assert outsiders.json()["organization"] == other_data.organization.slug
    assert {row["team"] for row in outsiders.json()["results"]} <= {"Ads", "unallocated"}


@pytest.mark.parametrize(
    "url",
    ["/api/v1/usage/summary/?by=month,team", "/api/v1/forecasts/latest/", "/api/v1/budgets/{budget}/status/"],
)
def test_a_polled_answer_costs_three_queries_once_cached(
    url, analyst, api_client_for, acme_data, django_assert_max_num_queries
) -> None:
    client = api_client_for(analyst)
    url = url.format(budget=acme_data.budget.pk)
    first = client.get(url)

    with django_assert_max_num_queries(3):  # the token, the organization (or the budget), the data's version
        again = client.get(url)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content


def test_one_thread_builds_an_uncached_answer_while_the_others_wait(analyst) -> None:
    from rest_framework.renderers import JSONRenderer
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory

    from finops.api.caching import cached_answer

    builds: list[int] = []
    started = threading.Event()

    def build() -> Response:
        builds.append(1)
        started.set()
        time.sleep(0.2)  # the others arrive while the first builds
        return Response({"total": 42})

    def ask() -> bytes:
        request = Request(APIRequestFactory().get("/api/v1/usage/summary/"))
        request.user = analyst
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
        return bytes(cached_answer(request, version="v1", build=build).content)

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda _: ask(), range(5)))

    assert started.is_set()
    assert len(builds) == 1
    assert answers == [b'{"total":42}'] * 5


def test_a_budget_status_follows_a_newer_run_and_new_usage(analyst, api_client_for, acme_data) -> None:
    from ingest.rollup import usage_version_bump
    from planning.models import Budget
    from tests.api.conftest import stored_forecast

    client = api_client_for(analyst)
    url = f"/api/v1/budgets/{acme_data.budget.pk}/status/?period=2026-01-15"

    def amount_after_a_change_behind_the_services_back(amount: str) -> Decimal:
        Budget.objects.filter(pk=acme_data.budget.pk).update(amount=Decimal(amount))  # updated_at stays
        return Decimal(client.get(url).json()["amount"])

    assert Decimal(client.get(url).json()["amount"]) == 300
    assert amount_after_a_change_behind_the_services_back("450") == 300  # answered from the cache
    stored_forecast(acme_data.organization)  # a newer run: a new version
    assert Decimal(client.get(url).json()["amount"]) == 450
    assert amount_after_a_change_behind_the_services_back("500") == 450
    usage_version_bump(organization_id=acme_data.organization.pk)  # new usage (or a team or rate changed)
    assert Decimal(client.get(url).json()["amount"]) == 500


def test_a_version_query_must_filter_on_the_id_it_is_given() -> None:
    from finops.api.caching import version_row
    from finops.models import Organization

    def every_organization(organization_id: int):  # type: ignore[no-untyped-def]
        return Organization.objects.values_list("pk")

    with pytest.raises(ValueError, match="does not filter on the id"):
        version_row(every_organization, 1)


def test_a_large_cached_answer_is_sent_gzipped_to_clients_that_accept_it(analyst, api_client_for, acme_data) -> None:
    import gzip

    client = api_client_for(analyst)
    plain = client.get("/api/v1/forecasts/latest/")
    zipped = client.get("/api/v1/forecasts/latest/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    plain_again = client.get("/api/v1/forecasts/latest/", HTTP_ACCEPT_ENCODING="identity")

    assert plain.status_code == zipped.status_code == plain_again.status_code == 200
    assert "Content-Encoding" not in plain and "Content-Encoding" not in plain_again
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"] and "Accept-Encoding" in plain["Vary"]
    assert len(zipped.content) < len(plain.content)
    assert gzip.decompress(zipped.content) == plain.content == plain_again.content
