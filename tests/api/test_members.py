"""Member endpoints (organization admins only): list, add an existing user or invite by e-mail, change a role,
remove; the membership services keep the last admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from finops.models import Membership, Role
from tests.api.shape import invalid
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
MEMBERS = "/api/v1/members/"


def test_an_admin_lists_the_members_of_their_organization_only(
    api_client_for, admin, viewer, outsider, organization
) -> None:
    response = api_client_for(admin).get(MEMBERS, {"ordering": "role"})

    assert response.status_code == 200
    assert [(member["username"], member["role"]) for member in response.json()["results"]] == [
        (admin.username, "admin"),
        (viewer.username, "viewer"),
    ]


def test_members_below_admin_see_no_members(api_client_for, analyst, organization) -> None:
    assert api_client_for(analyst).get(MEMBERS).json()["results"] == []


def test_an_admin_adds_a_user_who_shares_another_organization(api_client_for, admin, organization) -> None:
    # Given a user who is in "labs" with the admin, not in acme yet
    labs = OrganizationFactory(slug="labs")
    MembershipFactory(user=admin, organization=labs, role=Role.VIEWER)
    colleague = MembershipFactory(organization=labs, role=Role.VIEWER).user

    response = api_client_for(admin).post(
        MEMBERS, {"organization": "acme", "username": colleague.username, "role": "analyst"}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["username"], response.json()["role"]) == (colleague.username, "analyst")
    assert Membership.objects.get(user=colleague, organization=organization).role == Role.ANALYST


def test_a_stranger_cannot_be_added_by_username(api_client_for, admin, outsider, organization) -> None:
    response = api_client_for(admin).post(
        MEMBERS, {"organization": "acme", "username": outsider.username}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == invalid(
        "username", f"no user {outsider.username!r} in your organizations; invite them by e-mail"
    )


def test_an_admin_invites_by_email(api_client_for, admin, organization) -> None:
    response = api_client_for(admin).post(
        MEMBERS, {"organization": "acme", "email": "new.person@example.com"}, format="json"
    )

    assert response.status_code == 201
    invited = User.objects.get(email="new.person@example.com")
    assert Membership.objects.get(user=invited, organization=organization).role == Role.VIEWER


def test_an_admin_changes_a_role_and_removes_a_member(api_client_for, admin, viewer, organization) -> None:
    membership = Membership.objects.get(user=viewer)
    client = api_client_for(admin)

    changed = client.patch(f"{MEMBERS}{membership.pk}/", {"role": "analyst"}, format="json")
    removed = client.delete(f"{MEMBERS}{membership.pk}/")

    assert (changed.status_code, changed.json()["role"]) == (200, "analyst")
    assert removed.status_code == 204
    assert not Membership.objects.filter(user=viewer).exists()


def test_the_last_admin_cannot_be_removed(api_client_for, admin, organization) -> None:
    membership = Membership.objects.get(user=admin)

    response = api_client_for(admin).delete(f"{MEMBERS}{membership.pk}/")

    assert response.status_code == 400
    assert response.json() == invalid(
        "role", "the organization needs at least one admin; make another member admin first"
    )
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_non_admin_cannot_add_members(api_client_for, analyst, organization) -> None:
    response = api_client_for(analyst).post(MEMBERS, {"organization": "acme", "email": "x@example.com"}, format="json")

    assert response.status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()
