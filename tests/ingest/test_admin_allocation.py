"""The allocation rule preview of the admin (ingest.admin_allocation): what saving the form's rule, or deleting a
rule, would move between teams, for analysts of the rule's organization only."""

from __future__ import annotations

from datetime import date

import pytest

from finops.models import AllocationRule, Role
from ingest.services import ledger_reallocate
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory
from tests.planning.helpers import ledger_days

pytestmark = pytest.mark.django_db

PREVIEW = "/admin/finops/allocationrule/preview/"


@pytest.fixture
def platform(organization):
    """Acme's Platform team; acme's Search team has ten days of gpt-4o usage."""
    search = TeamFactory(organization=organization, name="Search", slug="search")
    ledger_days(organization, search, date(2026, 3, 1), [2.0] * 10, model="gpt-4o")
    return TeamFactory(organization=organization, name="Platform", slug="platform")


def _staff_client(client, organization, role: str):
    client.force_login(MembershipFactory(organization=organization, role=role, user__is_staff=True).user)
    return client


def _form(organization, team, **extra) -> dict[str, str]:
    return {
        "organization": str(organization.pk),
        "dimension": "model",
        "value": "gpt-4o",
        "team": str(team.pk),
        "priority": "1",
        "_preview": "save",
    } | extra


def test_the_preview_of_a_new_rule_lists_the_rows_it_would_move(client, organization, platform) -> None:
    # given
    analyst_client = _staff_client(client, organization, Role.ANALYST)

    # when
    response = analyst_client.post(PREVIEW, _form(organization, platform), HTTP_X_TOKENCAST_FRAGMENT="1")

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "<strong>10</strong> rows, <strong>10,000</strong> tokens, cost <strong>20.00</strong>" in page
    assert '<tr><td>Search</td><td>Platform</td><td style="text-align:right">10</td>' in page
    assert not AllocationRule.objects.exists()


def test_the_preview_of_deleting_a_rule_moves_its_rows_to_no_team(client, organization, platform) -> None:
    # given
    rule = AllocationRule.objects.create(organization=organization, team=platform, dimension="model", value="gpt-4o")
    assert ledger_reallocate(organization=organization) == 10
    analyst_client = _staff_client(client, organization, Role.ANALYST)

    # when
    response = analyst_client.post(
        f"{PREVIEW}?rule={rule.pk}", _form(organization, platform, _preview="delete"), HTTP_X_TOKENCAST_FRAGMENT="1"
    )

    # then
    page = response.content.decode()
    assert "Deleting this rule would re-allocate" in page
    assert "<tr><td>Platform</td><td>unallocated</td>" in page
    assert AllocationRule.objects.filter(pk=rule.pk).exists()


def test_a_viewer_may_not_preview_and_another_organizations_rule_is_not_found(client, organization, platform) -> None:
    # given
    globex = OrganizationFactory(slug="globex")
    theirs = AllocationRule.objects.create(
        organization=globex, team=TeamFactory(organization=globex), dimension="model", value="gpt-4o"
    )
    viewer_client = _staff_client(client, organization, Role.VIEWER)

    # when
    as_viewer = viewer_client.post(PREVIEW, _form(organization, platform))
    other = viewer_client.post(f"{PREVIEW}?rule={theirs.pk}", _form(organization, platform))
    read = viewer_client.get(PREVIEW)

    # then
    assert (as_viewer.status_code, other.status_code, read.status_code) == (403, 404, 405)
