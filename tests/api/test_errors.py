"""One error shape everywhere: serializer errors, service errors (Django's ValidationError and PermissionDenied),
objects still in use, unknown API paths and server errors, also when an export was asked for."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from finops.api.errors import server_error
from finops.models import Membership, Role
from tests.api.shape import invalid, refused
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_serializer_error_names_the_field(api_client_for, admin, organization) -> None:
    response = api_client_for(admin).post("/api/v1/teams/", {"organization": "acme"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid("name", "This field is required.", "required")


def test_nested_errors_get_a_dotted_path(api_client_for, admin, organization) -> None:
    response = api_client_for(admin).post(
        "/api/v1/scenarios/", {"name": "flat", "mid_annual_factor": 0.5, "elasticity": -1}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "mid_annual_factor",
            "message": "Ensure this value is greater than or equal to 1.",
            "code": "min_value",
        },
        {"field": "elasticity", "message": "Ensure this value is greater than or equal to 0.", "code": "min_value"},
    ]
    assert response.json()["detail"] == (
        "mid_annual_factor: Ensure this value is greater than or equal to 1.; "
        "elasticity: Ensure this value is greater than or equal to 0."
    )


def test_a_django_validation_error_from_a_service_is_400(api_client_for, admin, organization) -> None:
    # Given acme's only admin, who tries to make themself a viewer (the service refuses: the last admin stays)
    membership = Membership.objects.get(user=admin)

    response = api_client_for(admin).patch(f"/api/v1/members/{membership.pk}/", {"role": "viewer"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(
        "role", "the organization needs at least one admin; make another member admin first"
    )


def test_a_role_too_low_is_403_in_the_shape(api_client_for, viewer, organization) -> None:
    response = api_client_for(viewer).post("/api/v1/teams/", {"organization": "acme", "name": "Ads"}, format="json")

    assert response.status_code == 403
    assert response.json() == refused("your role in 'acme' is viewer; this needs admin or higher", "permission_denied")


def test_a_missing_object_is_404_in_the_shape(api_client_for, viewer, organization) -> None:
    response = api_client_for(viewer).get("/api/v1/teams/999999/")

    assert response.status_code == 404
    assert response.json() == refused("No Team matches the given query.", "not_found")


def test_an_unknown_api_path_is_a_json_404(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == refused("no such endpoint: /api/v1/nothing-here/", "not_found")


def test_not_signed_in_is_401_in_the_shape(client) -> None:
    response = client.get("/api/v1/teams/")

    assert response.status_code == 401
    assert response.json() == refused("Authentication credentials were not provided.", "not_authenticated")


def test_a_server_error_under_the_api_is_json_and_elsewhere_a_page() -> None:
    api = server_error(RequestFactory().get("/api/v1/teams/"))
    page = server_error(RequestFactory().get("/admin/"))

    assert (api.status_code, api["Content-Type"]) == (500, "application/json")
    assert json.loads(api.content) == refused("the server failed to answer; the error was logged", "server_error")
    assert (page.status_code, page["Content-Type"]) == (500, "text/html; charset=utf-8")


def test_deleting_a_team_with_budgets_is_409(api_client_for, admin, acme_data) -> None:
    response = api_client_for(admin).delete(f"/api/v1/teams/{acme_data.team.pk}/")

    assert response.status_code == 409
    assert response.json() == refused(
        "still in use by 1 budgets (Search monthly); change or delete those first", "conflict"
    )


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_an_export_that_fails_answers_json(api_client_for, viewer, organization, export) -> None:
    response = api_client_for(viewer).get("/api/v1/teams/999999/", {"format": export})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response
    assert response.json()["code"] == "not_found"


def test_an_outsider_gets_404_not_403_for_another_organization(api_client_for, outsider, acme_data) -> None:
    client = api_client_for(outsider)

    assert client.get(f"/api/v1/teams/{acme_data.team.pk}/").status_code == 404
    assert client.post("/api/v1/teams/", {"organization": "acme", "name": "X"}, format="json").status_code == 404


def test_an_admin_of_another_organization_cannot_add_members_here(api_client_for, organization) -> None:
    # Given an admin of "other" who is only a viewer in acme
    other_admin = MembershipFactory(role=Role.ADMIN).user
    MembershipFactory(user=other_admin, organization=organization, role=Role.VIEWER)

    response = api_client_for(other_admin).post(
        "/api/v1/members/", {"organization": "acme", "email": "new@example.com"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
