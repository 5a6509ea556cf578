"""Throttles: token login, forecast create and upload create answer 429 in the error shape past their rate,
per user (or per address when anonymous); the rates come from settings."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import OPENAI_USAGE
from tests.api.shape import refused
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Small rates for the scoped throttles (the general ones stay as configured)."""

    def apply(**scoped: str) -> None:
        rest = dict(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **scoped}
        settings.REST_FRAMEWORK = rest

    return apply


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response.json() == refused(
        f"Request was throttled. Expected available in {response['Retry-After']} seconds.", "throttled"
    )
    assert 0 < int(response["Retry-After"]) <= 60


def test_token_login_past_the_rate_is_429(client, rates) -> None:
    rates(login="3/minute")
    user = UserFactory(username="finops")
    wrong = {"username": "finops", "password": "wrong"}

    answers = [client.post("/api/v1/auth/token/", wrong).status_code for _ in range(3)]
    fourth = client.post("/api/v1/auth/token/", {"username": user.username, "password": "pw-for-tests"})

    assert answers == [400, 400, 400]
    assert_throttled(fourth)


def test_token_login_answers_the_token(client) -> None:
    user = UserFactory(username="finops")

    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": "pw-for-tests"})

    assert response.status_code == 200
    assert response.json() == {"token": user.auth_token.key}


def test_forecast_create_past_the_rate_is_429_per_user(api_client_for, analyst, organization, rates) -> None:
    rates(forecast_create="2/minute")
    other_analyst = MembershipFactory(organization=organization).user
    client = api_client_for(analyst)

    answers = [client.post("/api/v1/forecasts/", {}, format="json").status_code for _ in range(2)]
    third = client.post("/api/v1/forecasts/", {}, format="json")
    someone_else = api_client_for(other_analyst).post("/api/v1/forecasts/", {}, format="json")
    reading = client.get("/api/v1/forecasts/")

    assert answers == [202, 202]
    assert_throttled(third)
    assert (someone_else.status_code, reading.status_code) == (202, 200)


def test_upload_create_past_the_rate_is_429(api_client_for, analyst, organization, rates) -> None:
    rates(upload_create="2/minute")
    client = api_client_for(analyst)

    def upload():
        return client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile(OPENAI_USAGE.name, OPENAI_USAGE.read_bytes()), "organization": "acme"},
            format="multipart",
        )

    answers = [upload().status_code for _ in range(2)]

    assert answers == [202, 202]
    assert_throttled(upload())


def test_the_general_user_rate_applies_everywhere(api_client_for, viewer, organization, rates) -> None:
    rates(user="2/minute")
    client = api_client_for(viewer)

    answers = [client.get("/api/v1/teams/").status_code for _ in range(2)]

    assert answers == [200, 200]
    assert_throttled(client.get("/api/v1/organizations/"))
