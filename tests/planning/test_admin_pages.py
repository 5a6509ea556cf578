"""The finance pages of the admin (planning.admin_pages and the tags they render), through the Django test client: the
dashboard on the index, the team and budget pages' charts and the model pages, each of the member's organization
only."""

from __future__ import annotations

from datetime import date

import pytest

from finops.models import Role
from ingest.rollup import usage_rollup_refresh
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory
from tests.planning.helpers import ledger_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_client(client, organization, search, known_run):
    """A staff viewer of acme, whose Search team has March's usage and a run; globex has its own team and usage."""
    usage_rollup_refresh(organization=organization)
    globex = OrganizationFactory(slug="globex", name="Globex")
    research = TeamFactory(organization=globex, name="Globex Research", slug="research")
    ledger_days(globex, research, date(2026, 3, 1), [7.0] * 5, model="globex-tuned-model")
    usage_rollup_refresh(organization=globex)
    user = MembershipFactory(organization=organization, role=Role.VIEWER, user__is_staff=True).user
    client.force_login(user)
    return client


def test_the_index_shows_the_dashboard_of_the_members_organization_only(acme_client) -> None:
    # when
    page = acme_client.get("/admin/?organization=globex").content.decode()

    # then
    assert 'id="tokencast-dashboard"' in page
    assert '<strong id="dashboard-organization-name">Acme</strong>' in page
    assert '<div class="finance-chart" id="dashboard-chart"><svg' in page
    assert "globex" not in page.lower()


def test_the_team_page_draws_the_teams_monthly_spend(acme_client, search) -> None:
    # when
    page = acme_client.get(f"/admin/finops/team/{search.pk}/change/").content.decode()

    # then
    assert '<div class="module" id="team-spend">' in page
    assert '<div class="finance-chart spend-chart"><svg' in page
    assert "<td>2026-03</td>" in page


def test_the_models_page_lists_the_organizations_models_and_links_each(acme_client) -> None:
    # when
    page = acme_client.get("/admin/ingest/ledgerentry/models/").content.decode()

    # then
    assert '<a href="/admin/ingest/ledgerentry/models/gpt-4o/?organization=acme&amp;period=12m">gpt-4o</a>' in page
    assert "globex" not in page.lower()


def test_a_model_page_draws_its_chart_and_another_organizations_model_is_not_found(acme_client) -> None:
    # when
    mine = acme_client.get("/admin/ingest/ledgerentry/models/gpt-4o/")
    theirs = acme_client.get("/admin/ingest/ledgerentry/models/globex-tuned-model/?organization=globex")

    # then
    assert mine.status_code == 200
    assert '<div class="module" id="model-spend-panel">' in mine.content.decode()
    assert theirs.status_code == 404


def test_a_member_of_two_organizations_picks_one_on_the_index(client, organization, search, known_run) -> None:
    # given
    usage_rollup_refresh(organization=organization)
    user = MembershipFactory(organization=organization, role=Role.VIEWER, user__is_staff=True).user
    MembershipFactory(organization=OrganizationFactory(slug="globex", name="Globex"), user=user, role=Role.VIEWER)
    client.force_login(user)

    # when
    first = client.get("/admin/").content.decode()
    chosen = client.get("/admin/?organization=globex").content.decode()

    # then
    assert '<option value="acme" selected>Acme</option><option value="globex">Globex</option>' in first
    assert '<option value="acme">Acme</option><option value="globex" selected>Globex</option>' in chosen
    assert "No spend in this selection yet." in chosen
