"""The finance pages in headless chromium, as a member of acme while globex's workspace is in the same database:
the dashboard on the admin index, the multi-file upload page, the team, budget and model pages with their charts,
the allocation rule preview and the forecast start page. Nothing of globex may appear on any of them; a screenshot
of each page is kept as a test artifact (``var/test-artifacts/dashboard/``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from finops.models import Role
from forecasting.models import ForecastRun
from ingest.models import Upload
from tests.conftest import FIXTURES, OPENAI_USAGE_SAMPLE
from tests.e2e.workspace import LEAK_MARKER, PASSWORD, OrganizationWorld, two_organizations
from tests.factories import staff_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ANTHROPIC_TOKENS_SAMPLE = FIXTURES / "anthropic" / "claude_api_tokens_2026_03.csv"
BAD_ROW_ERROR = "row 3, column 'usage_input_tokens_no_cache': 'three hundred' is not a number; expected a token count"


@pytest.fixture
def acme() -> OrganizationWorld:
    acme, _globex = two_organizations()
    return acme


@pytest.fixture
def screenshots(artifacts_dir: Path) -> Path:
    folder = artifacts_dir / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_in_as_analyst(page: Page, world: OrganizationWorld) -> None:
    staff_member(world.organization, Role.ANALYST, "ann")
    page.goto("/admin/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    expect(page.locator("#user-tools strong")).to_have_text("ann")


def _nothing_of_globex(page: Page) -> None:
    assert LEAK_MARKER not in page.content().lower()


def test_the_dashboard_shows_acmes_spend_budgets_recommendations_alerts_and_uploads_only(
    page: Page, live_server, acme: OrganizationWorld, screenshots: Path
) -> None:
    # given
    _log_in_as_analyst(page, acme)

    # when
    page.goto("/admin/")

    # then
    dashboard = page.locator("#tokencast-dashboard")
    expect(dashboard.locator("#dashboard-organization-name")).to_have_text("Acme")
    expect(dashboard.locator("#dashboard-chart svg")).to_be_visible()
    expect(dashboard.locator("#dashboard-team option")).to_have_text(["All teams", "Search"])
    expect(dashboard.locator("#dashboard-model option")).to_have_text(["All models", "gpt-4o"])
    expect(dashboard.locator("#dashboard-budgets tbody tr td:first-child")).to_have_text(["Acme monthly"])
    expect(dashboard.locator("#dashboard-recommendations tbody tr td:first-child")).to_have_text(
        ["Move Search from gpt-4o to gpt-4o-mini"]
    )
    expect(dashboard.locator("#dashboard-alerts tbody tr")).to_have_count(1)
    expect(dashboard.locator("#dashboard-alerts")).to_contain_text("Acme monthly is forecast to overrun")
    expect(dashboard.locator("#dashboard-uploads tbody tr td:first-child")).to_have_text(["acme-usage-export.csv"])
    expect(dashboard.locator("#dashboard-budgets .budget-state")).to_have_count(1)
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "dashboard.png", full_page=True)

    # when: globex asked for by name, and its team as a filter
    page.goto("/admin/?organization=globex&team=Globex+Research")

    # then: still acme's, unfiltered
    expect(dashboard.locator("#dashboard-organization-name")).to_have_text("Acme")
    expect(dashboard.locator("#dashboard-team")).to_have_value("")
    expect(dashboard.locator("#dashboard-budgets tbody tr td:first-child")).to_have_text(["Acme monthly"])
    _nothing_of_globex(page)

    # when: filtered by acme's team and a shorter period
    page.select_option("#dashboard-team", "Search")
    page.select_option("#dashboard-period", "3m")
    page.click("#dashboard-filters input[type=submit]")

    # then
    expect(page).to_have_url(f"{live_server.url}/admin/?organization=acme&team=Search&provider=&model=&period=3m")
    expect(dashboard.locator("#dashboard-chart svg")).to_be_visible()
    expect(dashboard.locator("a", has_text="Team page of Search")).to_have_attribute(
        "href", f"/admin/finops/team/{acme.team.pk}/change/"
    )
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "dashboard-filtered.png", full_page=True)


def test_several_files_upload_at_once_with_each_summary_and_a_bad_files_row_error(
    page: Page, acme: OrganizationWorld, screenshots: Path, tmp_path: Path
) -> None:
    # given: a token export with a word for a number on its row 3
    lines = ANTHROPIC_TOKENS_SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",300,", ",three hundred,", 1)
    bad = tmp_path / "claude_tokens_bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _log_in_as_analyst(page, acme)
    page.goto("/admin/ingest/upload/upload/")
    expect(page.locator("#id_organization")).to_have_value("acme")
    expect(page.locator("#id_organization option")).to_have_text(["---------", "acme"])

    # when: two real exports through the file input, the bad file dropped on the drop zone
    page.set_input_files("#id_file", [OPENAI_USAGE_SAMPLE, ANTHROPIC_TOKENS_SAMPLE])
    drop = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "text/csv"}));
            return transfer;
        }""",
        [bad.name, bad.read_text(encoding="utf-8")],
    )
    page.dispatch_event("#upload-dropzone", "drop", {"dataTransfer": drop})
    expect(page.locator("#upload-chosen")).to_have_text(
        f"Chosen: {OPENAI_USAGE_SAMPLE.name}, {ANTHROPIC_TOKENS_SAMPLE.name}, {bad.name}"
    )
    page.click("#upload-submit")

    # then
    rows = page.locator("#upload-list li.upload-file")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_have_attribute("data-status", "failed", timeout=60_000)
    expect(rows.locator(".upload-name")).to_have_text(
        [OPENAI_USAGE_SAMPLE.name, ANTHROPIC_TOKENS_SAMPLE.name, bad.name]
    )
    expect(rows.locator(".upload-status")).to_have_text(["Succeeded", "Succeeded", "Failed"])
    expect(rows.nth(0).locator(".upload-summary")).to_contain_text("2 records")
    expect(rows.nth(0).locator(".upload-summary")).to_contain_text("31,451 tokens (input 31,422, output 29)")
    expect(rows.nth(1).locator(".upload-summary")).to_contain_text("Anthropic Console token export")
    expect(rows.nth(2).locator(".upload-error")).to_have_text([BAD_ROW_ERROR])
    uploads = Upload.objects.filter(organization=acme.organization).exclude(pk=acme.upload.pk).order_by("pk")
    assert [(upload.original_name, upload.status) for upload in uploads] == [
        (OPENAI_USAGE_SAMPLE.name, Upload.Status.SUCCEEDED),
        (ANTHROPIC_TOKENS_SAMPLE.name, Upload.Status.SUCCEEDED),
        (bad.name, Upload.Status.FAILED),
    ]
    expect(rows.nth(0).locator("a.upload-link")).to_have_attribute(
        "href", f"/admin/ingest/upload/{uploads[0].pk}/change/"
    )
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "upload.png", full_page=True)


def test_the_team_budget_and_model_pages_draw_their_spend_charts(
    page: Page, acme: OrganizationWorld, screenshots: Path
) -> None:
    # given
    _log_in_as_analyst(page, acme)

    # when
    page.goto(f"/admin/finops/team/{acme.team.pk}/change/")

    # then
    expect(page.locator("#team-spend .spend-chart svg")).to_be_visible()
    expect(page.locator("#team-spend .spend-months tbody tr").first.locator("td").first).to_have_text("2026-10")
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "team.png", full_page=True)

    # when
    page.goto(f"/admin/planning/budget/{acme.budget.pk}/change/")

    # then
    expect(page.locator("#budget-spend .spend-chart svg")).to_be_visible()
    expect(page.locator("#budget-status .budget-state")).to_have_count(1)
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "budget.png", full_page=True)

    # when
    page.goto("/admin/ingest/ledgerentry/")
    page.click("text=Models by spend")

    # then
    expect(page.locator("#model-spend tbody tr td:first-child")).to_have_text(["gpt-4o"])
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "models.png", full_page=True)

    # when
    page.click("#model-spend a:text('gpt-4o')")

    # then
    expect(page).to_have_title("Model gpt-4o | Tokencast")
    expect(page.locator("#model-spend-panel .spend-chart svg")).to_be_visible()
    expect(page.locator("#model-by-team tbody td:first-child")).to_have_text(["Search"])
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "model.png", full_page=True)

    # when: globex's model, asked for by name
    response = page.goto("/admin/ingest/ledgerentry/models/gpt-4.1/?organization=globex")

    # then
    assert response is not None and response.status == 404


def test_the_allocation_rule_preview_shows_what_saving_would_move(
    page: Page, acme: OrganizationWorld, screenshots: Path
) -> None:
    # given: a new rule sending acme's gpt-4o rows to a second team
    from tests.factories import TeamFactory

    TeamFactory(organization=acme.organization, name="Platform", slug="platform")
    _log_in_as_analyst(page, acme)
    page.goto("/admin/finops/allocationrule/add/")
    page.select_option("#id_dimension", "model")
    page.fill("#id_value", "gpt-4o")
    page.select_option("#id_team", label="Platform")
    page.fill("#id_priority", "1")

    # when
    page.click("#allocation-preview-button")

    # then
    result = page.locator("#allocation-preview-result")
    expect(result.locator("#allocation-preview-totals")).to_contain_text("45 rows")
    expect(result.locator("#allocation-preview-moves tbody td:nth-child(-n+2)")).to_have_text(["Search", "Platform"])
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "allocation-preview.png", full_page=True)


def test_the_forecast_start_page_starts_a_run_with_the_chosen_scenario(
    page: Page, live_server, acme: OrganizationWorld, screenshots: Path
) -> None:
    # given
    _log_in_as_analyst(page, acme)
    page.goto("/admin/forecasting/forecastrun/")
    page.click("#forecast-start-link")
    expect(page.locator("#id_scenario optgroup")).to_have_count(2)
    expect(page.locator("#id_scenario option")).to_have_text(["conservative", "base", "aggressive", "acme-scenario"])
    _nothing_of_globex(page)
    page.screenshot(path=screenshots / "forecast-start.png", full_page=True)

    # when
    page.select_option("#id_scenario", "acme-scenario")
    page.select_option("#id_policy", "follow_tier")
    page.fill("#id_horizon_days", "30")
    page.click("#forecast-start-form input[type=submit]")

    # then
    run = ForecastRun.objects.filter(organization=acme.organization, created_by__username="ann").get()
    expect(page).to_have_url(f"{live_server.url}/admin/forecasting/forecastrun/{run.pk}/change/")
    assert (run.scenario, run.policy, run.horizon_days) == ("acme-scenario", "follow_tier", 30)
    expect(page.locator(".messagelist li.success")).to_contain_text(
        f"Forecast run #{run.pk} for Acme (acme-scenario scenario, follow_tier policy, 30 days)"
    )
    page.screenshot(path=screenshots / "forecast-started.png", full_page=True)
