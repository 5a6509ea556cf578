"""Lists page with limit and offset, at most 1000 items a page, and order by the documented fields."""

from __future__ import annotations

import pytest

from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_a_page_is_at_most_1000_items(api_client_for, viewer, organization) -> None:
    TeamFactory.create_batch(1002, organization=organization)

    page = api_client_for(viewer).get("/api/v1/teams/", {"limit": 5000}).json()

    assert (page["count"], len(page["results"])) == (1002, 1000)
    assert page["next"].endswith("limit=1000&offset=1000")


def test_an_unknown_ordering_field_is_ignored(api_client_for, viewer, organization) -> None:
    TeamFactory(organization=organization, name="B", slug="b")
    TeamFactory(organization=organization, name="A", slug="a")

    response = api_client_for(viewer).get("/api/v1/teams/", {"ordering": "owner_email,organization__name"})

    assert response.status_code == 200
    assert [team["slug"] for team in response.json()["results"]] == ["a", "b"]
