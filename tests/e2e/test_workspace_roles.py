"""The finance workspace in headless chromium as a viewer, an analyst and an admin of "acme", next to
"globex"'s data: what each role sees and may do, that nothing of globex appears on any page (lists,
filters, choices, charts), and a screenshot of every page, saved as a test artifact."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from finops.models import Role
from tests.e2e.workspace import LEAK_MARKER, PASSWORD, ROLES, two_organizations
from tests.factories import staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Every page of the workspace: (name, path); "{budget}", "{team}", "{upload}" are acme's objects.
PAGES = [
    ("organizations", "/admin/finops/organization/"),
    ("organization", "/admin/finops/organization/{organization}/change/"),
    ("teams", "/admin/finops/team/"),
    ("team", "/admin/finops/team/{team}/change/"),
    ("members", "/admin/finops/membership/"),
    ("allocation-rules", "/admin/finops/allocationrule/"),
    ("model-aliases", "/admin/finops/modelalias/"),
    ("price-overrides", "/admin/finops/priceoverride/"),
    ("list-prices", "/admin/finops/modelprice/"),
    ("uploads", "/admin/ingest/upload/"),
    ("upload", "/admin/ingest/upload/{upload}/change/"),
    ("ledger", "/admin/ingest/ledgerentry/"),
    ("forecast-runs", "/admin/forecasting/forecastrun/"),
    ("scenarios", "/admin/forecasting/pricescenario/"),
    ("budgets", "/admin/planning/budget/"),
    ("budget", "/admin/planning/budget/{budget}/change/"),
    ("alerts", "/admin/planning/alert/"),
    ("recommendations", "/admin/planning/recommendation/"),
    ("dashboard", "/admin/"),
]

# What each role may open: path -> the roles that get the page (the others get 403).
WRITE_PAGES = {
    "/admin/finops/allocationrule/add/": {Role.ANALYST, Role.ADMIN},
    "/admin/finops/modelalias/add/": {Role.ANALYST, Role.ADMIN},
    "/admin/forecasting/pricescenario/add/": {Role.ANALYST, Role.ADMIN},
    "/admin/ingest/upload/upload/": {Role.ANALYST, Role.ADMIN},
    "/admin/finops/priceoverride/add/": {Role.ADMIN},
    "/admin/finops/membership/add/": {Role.ADMIN},
    "/admin/finops/team/add/": {Role.ADMIN},
    "/admin/planning/budget/add/": {Role.ADMIN},
    "/admin/planning/webhook/add/": {Role.ADMIN},
    "/admin/finops/modelprice/add/": set(),
    "/admin/finops/fxrate/add/": set(),
}


def log_in(page: Page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    page.goto("/admin/password_change/")
    expect(page.locator("#user-tools strong")).to_have_text(username)


def leaked(page: Page) -> list[str]:
    """globex's names anywhere in the page: its text, its markup (option values, chart labels, links)."""
    html = page.content().lower()
    return sorted({match.group(0) for match in re.finditer(rf".{{0,40}}{LEAK_MARKER}.{{0,40}}", html)})


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_acme_and_may_do_what_its_role_allows(page: Page, role: str, artifacts_dir) -> None:
    acme, _globex = two_organizations()
    user = staff_member(acme.organization, role, f"acme-{role}")
    log_in(page, user.username)
    ids = {
        "organization": acme.organization.pk,
        "team": acme.team.pk,
        "upload": acme.upload.pk,
        "budget": acme.budget.pk,
    }

    for name, path in PAGES:
        response = page.goto(path.format(**ids))
        assert response is not None and response.status == 200, (name, response and response.status)
        assert leaked(page) == [], name
        page.screenshot(path=artifacts_dir / "workspace" / role / f"{name}.png", full_page=True)

    budgets = page.goto("/admin/planning/budget/")
    assert budgets is not None
    expect(page.locator("#result_list")).to_contain_text("Acme monthly")
    expect(page.locator("#result_list .budget-state")).to_have_count(1)
    for path, allowed in WRITE_PAGES.items():
        response = page.goto(path)
        assert response is not None
        assert response.status == (200 if role in allowed else 403), (path, response.status)
        if response.status == 200:
            assert leaked(page) == [], path
            page.screenshot(path=artifacts_dir / "workspace" / role / f"write{path.replace('/', '_')}.png")


def test_a_viewer_sees_no_button_that_changes_anything(page: Page) -> None:
    acme, _globex = two_organizations()
    log_in(page, staff_member(acme.organization, Role.VIEWER, "acme-viewer").username)

    for path in ("/admin/finops/allocationrule/", "/admin/planning/budget/", "/admin/finops/membership/"):
        page.goto(path)
        expect(page.locator(".object-tools a.addlink")).to_have_count(0)
    page.goto(f"/admin/planning/budget/{acme.budget.pk}/change/")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    page.goto(f"/admin/ingest/upload/{acme.upload.pk}/change/")
    expect(page.locator("a.deletelink")).to_have_count(0)


def test_an_admin_changes_a_members_role_but_an_analyst_cannot(page: Page) -> None:
    acme, _globex = two_organizations()
    staff_member(acme.organization, Role.ADMIN, "acme-admin")
    analyst = staff_member(acme.organization, Role.ANALYST, "acme-analyst")
    membership = analyst.memberships.get()

    log_in(page, "acme-analyst")
    page.goto("/admin/finops/membership/")
    expect(page.locator("#result_list tbody tr")).to_have_count(0)  # members are listed to admins only
    page.goto(f"/admin/finops/membership/{membership.pk}/change/")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    page.context.clear_cookies()
    log_in(page, "acme-admin")
    page.goto(f"/admin/finops/membership/{membership.pk}/change/")
    page.select_option("#id_role", "viewer")
    page.click("input[name=_save]")

    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
