"""Team endpoints: members read their organizations' teams, admins create, change and delete them."""

from __future__ import annotations

import pytest

from finops.models import Team
from tests.api.shape import invalid, refused
from tests.factories import OrganizationFactory, TeamFactory

pytestmark = pytest.mark.django_db
TEAMS = "/api/v1/teams/"


def test_members_list_their_organizations_teams_only(api_client_for, viewer, organization) -> None:
    TeamFactory(organization=organization, name="Search", slug="search")
    TeamFactory(organization=OrganizationFactory(slug="other"), name="Ads", slug="ads")

    response = api_client_for(viewer).get(TEAMS)

    assert response.status_code == 200
    assert [(team["organization"], team["slug"]) for team in response.json()["results"]] == [("acme", "search")]


def test_an_admin_creates_a_team_with_a_slug_made_from_the_name(api_client_for, admin, organization) -> None:
    response = api_client_for(admin).post(
        TEAMS, {"organization": "acme", "name": "Data Science", "owner_email": "lead@x.io"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["organization"], body["slug"], body["name"], body["owner_email"]) == (
        "acme",
        "data-science",
        "Data Science",
        "lead@x.io",
    )
    assert Team.objects.filter(organization=organization, slug="data-science").exists()


def test_a_duplicate_slug_is_400(api_client_for, admin, organization) -> None:
    TeamFactory(organization=organization, name="Search", slug="search")

    response = api_client_for(admin).post(TEAMS, {"organization": "acme", "name": "Search"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid("slug", "acme already has a team 'search'")


@pytest.mark.parametrize("role_fixture", ["viewer", "analyst"])
def test_below_admin_cannot_create_rename_or_delete(api_client_for, organization, request, role_fixture) -> None:
    team = TeamFactory(organization=organization, name="Search", slug="search")
    client = api_client_for(request.getfixturevalue(role_fixture))

    created = client.post(TEAMS, {"organization": "acme", "name": "Ads"}, format="json")
    renamed = client.patch(f"{TEAMS}{team.pk}/", {"name": "Find"}, format="json")
    deleted = client.delete(f"{TEAMS}{team.pk}/")

    needs = f"your role in 'acme' is {role_fixture}; this needs admin or higher"
    assert [created.json(), renamed.json(), deleted.json()] == [refused(needs, "permission_denied")] * 3
    assert list(Team.objects.values_list("name", flat=True)) == ["Search"]


def test_an_admin_renames_and_deletes_a_team(api_client_for, admin, organization) -> None:
    team = TeamFactory(organization=organization, name="Search", slug="search")
    client = api_client_for(admin)

    renamed = client.patch(f"{TEAMS}{team.pk}/", {"name": "Find"}, format="json")
    deleted = client.delete(f"{TEAMS}{team.pk}/")

    assert (renamed.status_code, renamed.json()["name"], renamed.json()["slug"]) == (200, "Find", "search")
    assert deleted.status_code == 204
    assert not Team.objects.exists()


def test_teams_filter_and_order(api_client_for, viewer, organization) -> None:
    for name in ("Beta", "Alpha", "Gamma"):
        TeamFactory(organization=organization, name=name, slug=name.lower())
    client = api_client_for(viewer)

    ordered = client.get(TEAMS, {"ordering": "-name"}).json()["results"]
    filtered = client.get(TEAMS, {"slug": "beta"}).json()["results"]

    assert [team["name"] for team in ordered] == ["Gamma", "Beta", "Alpha"]
    assert [team["name"] for team in filtered] == ["Beta"]
