"""`manage.py user_create` and the ``user_upsert`` service: users created or updated, passwords from the
environment, API tokens that work against the API, and bad arguments refused without a write."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from finops.models import Membership, Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

NO_PASSWORD = "no password: the user cannot sign in with one (set $TOKENCAST_PASSWORD and run again to give one)\n"


@pytest.fixture(autouse=True)
def no_password_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENCAST_PASSWORD", raising=False)


def user_create(*arguments: str) -> str:
    out = StringIO()
    call_command("user_create", *arguments, stdout=out)
    return out.getvalue()


def test_creates_a_member_without_a_usable_password(organization: Organization) -> None:
    output = user_create("dana", "--org", "acme", "--role", "analyst", "--email", "Dana@Example.COM")

    assert output == "created user dana: analyst in acme\n" + NO_PASSWORD
    user = User.objects.get(username="dana")
    assert user.email == "Dana@example.com"
    assert not user.has_usable_password()
    assert list(Membership.objects.filter(user=user).values_list("organization__slug", "role")) == [
        ("acme", Role.ANALYST)
    ]


def test_an_existing_user_gets_the_new_role_and_keeps_their_password(organization: Organization) -> None:
    # given a user who is a viewer of acme and an admin elsewhere, with a password
    MembershipFactory(organization=organization, role=Role.VIEWER, user__username="erin")
    user = User.objects.get(username="erin")
    MembershipFactory(organization=OrganizationFactory(slug="other"), user=user, role=Role.ADMIN)

    # when they are "created" again as an admin of acme, then with a new e-mail
    first = user_create("erin", "--org", "acme", "--role", "admin")
    second = user_create("erin", "--org", "acme", "--role", "admin", "--email", "erin@new.example")

    # then only acme's role and the e-mail changed
    assert first == second == "updated user erin: admin in acme\n"
    user.refresh_from_db()
    assert user.email == "erin@new.example"
    assert user.check_password("pw-for-tests")
    assert dict(Membership.objects.filter(user=user).values_list("organization__slug", "role")) == {
        "acme": Role.ADMIN,
        "other": Role.ADMIN,
    }
    assert User.objects.filter(username="erin").count() == 1


def test_the_password_comes_from_the_environment(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENCAST_PASSWORD", "correct horse battery")

    output = user_create("frank", "--org", "acme", "--role", "viewer")

    assert output == "created user frank: viewer in acme\npassword set from $TOKENCAST_PASSWORD\n"
    user = User.objects.get(username="frank")
    assert user.check_password("correct horse battery")
    assert "correct horse battery" not in output


def test_a_short_password_is_refused(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENCAST_PASSWORD", "short")

    with pytest.raises(CommandError) as caught:
        user_create("gina", "--org", "acme", "--role", "viewer")

    assert str(caught.value) == (
        "the password is refused: This password is too short. It must contain at least 8 characters."
    )
    assert not User.objects.filter(username="gina").exists()


def test_token_prints_an_api_token_that_authenticates(organization: Organization) -> None:
    # given a new user whose token is asked for, twice
    OrganizationFactory(slug="elsewhere")
    output = user_create("hal", "--org", "acme", "--role", "viewer", "--token")
    again = user_create("hal", "--org", "acme", "--role", "viewer", "--token")
    token = output.splitlines()[-1]

    # when the API is called with it
    client = APIClient()
    response = client.get("/api/v1/organizations/", HTTP_AUTHORIZATION=f"Token {token}")

    # then the token is the same each time and lists the user's one organization
    assert output == "created user hal: viewer in acme\n" + NO_PASSWORD + token + "\n"
    assert again.splitlines()[-1] == token
    assert len(token) == 40
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == ["acme"]
    assert client.get("/api/v1/organizations/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--role", "owner"), "unknown role 'owner'; expected one of viewer, analyst, admin"),
        (("--role", "viewer", "--email", "not-mail"), "'not-mail' is not an e-mail address"),
        (
            ("--role", "boss", "--email", "a@b@c"),
            "unknown role 'boss'; expected one of viewer, analyst, admin; 'a@b@c' is not an e-mail address",
        ),
    ],
)
def test_a_bad_role_or_email_is_refused_and_nothing_written(
    organization: Organization, arguments: tuple[str, ...], message: str
) -> None:
    UserFactory(username="ivy", email="ivy@example.com")
    user = User.objects.get(username="ivy")

    with pytest.raises(CommandError) as caught:
        user_create("ivy", "--org", "acme", *arguments)
    with pytest.raises(CommandError) as new_user:
        user_create("jack", "--org", "acme", *arguments)

    assert str(caught.value) == str(new_user.value) == message
    assert caught.value.returncode == 1
    user.refresh_from_db()
    assert user.email == "ivy@example.com"
    assert not Membership.objects.exists()
    assert not User.objects.filter(username="jack").exists()


def test_a_bad_username_or_organization_is_refused(organization: Organization) -> None:
    with pytest.raises(CommandError) as caught:
        user_create("no spaces", "--org", "acme", "--role", "viewer")
    with pytest.raises(CommandError, match="no organization 'nope'"):
        user_create("kim", "--org", "nope", "--role", "viewer")

    assert str(caught.value).startswith("invalid username 'no spaces': Enter a valid username.")
    assert not User.objects.filter(username__in=["no spaces", "kim"]).exists()
