"""The admin obeys the organization's roles and tenancy exactly as the API does (issue #13 defects).

Every user here is ordinary staff holding *every* Django model permission, which is how a company gives
its finance team the admin; only the role in the row's organization may decide what they can do.
"""

from __future__ import annotations

import io
import logging
from datetime import date

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.exceptions import ValidationError

from finops.models import AllocationRule, Membership, ModelPrice, PriceOverride, Role
from finops.selectors import OrganizationAccessDenied
from finops.services import membership_add, membership_remove, membership_role_change, price_override_save
from ingest.allocation import allocation_rule_preview, allocation_rule_save
from ingest.models import LedgerEntry, LedgerLine, Upload
from ingest.services import upload_create, upload_ingest
from tests.factories import OrganizationFactory, TeamFactory, UserFactory, staff_member
from tests.ingest.test_services import HEADER, usage_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(organization):
    return organization


@pytest.fixture
def globex():
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def acme_team(acme):
    return TeamFactory(organization=acme, name="Search")


@pytest.fixture
def globex_team(globex):
    return TeamFactory(organization=globex, name="Globex Secret Team")


def logged_in(client, user):
    client.force_login(user)
    return client


def load(organization, *rows: str) -> Upload:
    content = (HEADER + "\n" + "\n".join(rows) + "\n").encode()
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename="usage.csv")
    return upload_ingest(upload_id=upload.pk)


# Cross-organization team choice ------------------------------------------------------------------------


def test_allocation_rule_form_lists_only_your_organizations_teams(client, acme, acme_team, globex_team) -> None:
    analyst = staff_member(acme, Role.ANALYST, "ana")

    page = logged_in(client, analyst).get("/admin/finops/allocationrule/add/").content.decode()

    assert "Search" in page
    assert "Globex Secret Team" not in page
    assert "Globex" not in page


def test_a_rule_cannot_point_at_another_organizations_team(client, acme, acme_team, globex_team) -> None:
    load(acme, usage_row("proj_search"))
    analyst = staff_member(acme, Role.ANALYST, "ana")

    response = logged_in(client, analyst).post(
        "/admin/finops/allocationrule/add/",
        {
            "organization": acme.pk,
            "team": globex_team.pk,
            "dimension": "project",
            "value": "proj_search",
            "priority": 1,
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert AllocationRule.objects.count() == 0
    assert not LedgerEntry.objects.filter(team=globex_team).exists()
    with pytest.raises(ValidationError) as error:
        allocation_rule_save(
            rule=AllocationRule(organization=acme, team=globex_team, dimension="project", value="proj_search"),
            user=None,
        )
    assert "team" in error.value.message_dict
    assert not LedgerLine.objects.filter(team=globex_team).exists()


def test_preview_says_what_a_rule_would_move_before_it_is_saved(acme, acme_team) -> None:
    load(acme, usage_row("proj_search"), usage_row("proj_other"))
    rule = AllocationRule(organization=acme, team=acme_team, dimension="project", value="proj_search", priority=1)

    preview = allocation_rule_preview(rule=rule)

    assert preview.rows == 1
    searched = LedgerEntry.objects.filter(project="proj_search").exclude(token_type="other")
    assert preview.tokens == sum(searched.values_list("quantity", flat=True)) > 0
    assert [(move.from_team, move.to_team, move.rows) for move in preview.moves] == [(None, "Search", 1)]
    assert AllocationRule.objects.count() == 0
    assert not LedgerEntry.objects.filter(team=acme_team).exists()


# Membership editing -----------------------------------------------------------------------------------


def test_organization_page_lists_no_user_of_another_organization(client, acme, globex) -> None:
    admin_user = staff_member(acme, Role.ADMIN, "boss")
    staff_member(globex, Role.ADMIN, "globex-boss")

    page = logged_in(client, admin_user).get(f"/admin/finops/organization/{acme.pk}/change/").content.decode()
    add_page = client.get("/admin/finops/membership/add/").content.decode()

    assert "boss" in page
    assert "globex-boss" not in page
    assert "globex-boss" not in add_page


def test_a_viewer_cannot_make_themselves_admin(client, acme) -> None:
    viewer = staff_member(acme, Role.VIEWER, "viewer1")
    staff_member(acme, Role.ADMIN, "boss")
    membership = Membership.objects.get(user=viewer)
    client = logged_in(client, viewer)

    change = client.post(f"/admin/finops/membership/{membership.pk}/change/", {"role": Role.ADMIN})
    inline = client.post(
        f"/admin/finops/organization/{acme.pk}/change/",
        {
            "slug": acme.slug,
            "name": acme.name,
            "reporting_currency": "USD",
            "holiday_country": "",
            "teams-TOTAL_FORMS": "0",
            "teams-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-organization": acme.pk,
            "memberships-0-user": viewer.pk,
            "memberships-0-role": Role.ADMIN,
        },
    )

    assert change.status_code == 403
    assert inline.status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER
    with pytest.raises(OrganizationAccessDenied):
        membership_role_change(membership=membership, actor=viewer, role=Role.ADMIN)


def test_an_admin_invites_by_email_and_keeps_one_admin(client, acme, globex) -> None:
    boss = staff_member(acme, Role.ADMIN, "boss")
    outsider = staff_member(globex, Role.VIEWER, "stranger")

    response = logged_in(client, boss).post(
        "/admin/finops/membership/add/", {"organization": acme.pk, "email": "new.analyst@acme.test", "role": "analyst"}
    )
    with pytest.raises(ValidationError):  # not a user of boss's organizations: invite by e-mail instead
        membership_add(organization=acme, actor=boss, role=Role.VIEWER, username=outsider.username)
    with pytest.raises(ValidationError):  # the last admin stays an admin
        membership_role_change(membership=Membership.objects.get(user=boss), actor=boss, role=Role.VIEWER)
    with pytest.raises(ValidationError):
        membership_remove(membership=Membership.objects.get(user=boss), actor=boss)

    assert response.status_code == 302
    invited = Membership.objects.get(organization=acme, user__email="new.analyst@acme.test")
    assert invited.role == Role.ANALYST
    assert not invited.user.has_usable_password()


# Roles in the admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "rule_add", "override_add", "budget_add"),
    [(Role.VIEWER, 403, 403, 403), (Role.ANALYST, 200, 403, 403), (Role.ADMIN, 200, 200, 200)],
)
def test_each_role_may_open_what_it_may_do(client, acme, role, rule_add, override_add, budget_add) -> None:
    client = logged_in(client, staff_member(acme, role, f"user-{role}"))

    assert client.get("/admin/finops/allocationrule/").status_code == 200  # everyone reads
    assert client.get("/admin/finops/allocationrule/add/").status_code == rule_add
    assert client.get("/admin/finops/priceoverride/add/").status_code == override_add
    assert client.get("/admin/planning/budget/add/").status_code == budget_add


def test_a_viewer_cannot_upload_and_an_analyst_cannot_delete_an_upload(client, acme) -> None:
    upload = load(acme, usage_row("proj_a"))
    viewer_page = logged_in(client, staff_member(acme, Role.VIEWER, "v")).get("/admin/ingest/upload/upload/")
    analyst_client = logged_in(client, staff_member(acme, Role.ANALYST, "a"))

    delete = analyst_client.post(f"/admin/ingest/upload/{upload.pk}/delete/", {"post": "yes"})

    assert "acme" not in viewer_page.content.decode().split('name="organization"', 1)[-1].split("</select>")[0]
    assert delete.status_code == 403
    assert LedgerLine.objects.filter(upload=upload).exists()


def test_deleting_an_upload_is_an_admin_action_that_removes_its_lines_and_is_logged(client, acme, caplog) -> None:
    upload = load(acme, usage_row("proj_a"), usage_row("proj_b"))
    boss = staff_member(acme, Role.ADMIN, "boss")

    with caplog.at_level(logging.WARNING, logger="ingest.services"):
        response = logged_in(client, boss).post(f"/admin/ingest/upload/{upload.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not LedgerLine.objects.filter(upload_id=upload.pk).exists()
    assert "deleted by boss: 2 ledger lines removed" in caplog.text
    assert LogEntry.objects.filter(action_flag=DELETION, user=boss, object_id=str(upload.pk)).exists()


def test_another_organizations_rows_are_not_reachable_by_url(client, acme, globex, globex_team) -> None:
    rule = AllocationRule.objects.create(organization=globex, team=globex_team, dimension="project", value="x")
    client = logged_in(client, staff_member(acme, Role.ADMIN, "boss"))

    assert client.get(f"/admin/finops/allocationrule/{rule.pk}/change/").status_code == 302  # "does not exist"
    assert client.post(f"/admin/finops/allocationrule/{rule.pk}/delete/", {"post": "yes"}).status_code == 302
    assert AllocationRule.objects.filter(pk=rule.pk).exists()


def test_the_organization_is_chosen_for_a_member_of_one(client, acme) -> None:
    page = logged_in(client, staff_member(acme, Role.ANALYST, "ana")).get("/admin/finops/allocationrule/add/")

    assert f'<option value="{acme.pk}" selected>' in page.content.decode()


# Shared data and tokens -------------------------------------------------------------------------------


def test_shared_price_data_is_read_only_for_organization_admins(client, acme) -> None:
    price = ModelPrice.objects.first()
    client = logged_in(client, staff_member(acme, Role.ADMIN, "boss"))

    assert client.get("/admin/finops/modelprice/").status_code == 200
    assert client.get("/admin/finops/modelprice/add/").status_code == 403
    for url in ("/admin/finops/fxrate/add/", "/admin/finops/fxrate/import/", "/admin/finops/pricemultiplier/add/"):
        assert client.get(url).status_code == 403, url
    response = client.post(
        f"/admin/finops/modelprice/{price.pk}/change/",
        {"provider": price.provider, "model": price.model, "usd_per_million": "0.01"},
    )
    assert response.status_code == 403
    price.refresh_from_db()
    assert str(price.usd_per_million) != "0.010000"


def test_no_admin_page_shows_api_tokens_or_every_account(client, acme) -> None:
    client = logged_in(client, staff_member(acme, Role.ADMIN, "boss"))

    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert client.get("/admin/auth/user/").status_code == 403
    assert "tokenproxy" not in client.get("/admin/").content.decode()


def test_price_override_service_needs_an_admin(acme) -> None:
    analyst = staff_member(acme, Role.ANALYST, "ana")
    override = PriceOverride(organization=acme, provider="openai", discount_percent=10, effective_from=date(2026, 1, 1))

    with pytest.raises(OrganizationAccessDenied):
        price_override_save(override=override, user=analyst)
    assert not PriceOverride.objects.exists()


def test_an_invited_member_sets_a_password_through_the_emailed_link(
    client, acme, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    boss = staff_member(acme, Role.ADMIN, "boss")

    with django_capture_on_commit_callbacks(execute=True):
        membership_add(organization=acme, actor=boss, role=Role.VIEWER, email="Finance.Lead@acme.test")
    link = next(line for line in mailoutbox[0].body.splitlines() if "/admin/reset/" in line)
    set_password_page = client.get(link.split("127.0.0.1:8000", 1)[1], follow=True)
    client.post(
        set_password_page.redirect_chain[-1][0],
        {"new_password1": "a-long-new-password", "new_password2": "a-long-new-password"},
    )

    assert mailoutbox[0].to == ["Finance.Lead@acme.test"]
    assert "boss invited you to Acme on Tokencast as viewer" in mailoutbox[0].body
    assert client.login(username="finance.lead@acme.test", password="a-long-new-password")


def test_inviting_an_address_that_is_another_users_username_makes_a_new_account(acme) -> None:
    boss = staff_member(acme, Role.ADMIN, "boss")
    UserFactory(username="lee@acme.test", email="lee.old@elsewhere.test")

    membership = membership_add(organization=acme, actor=boss, role=Role.VIEWER, email="lee@acme.test")

    assert membership.user.username == "lee@acme.test-2"
    assert membership.user.email == "lee@acme.test"
