"""The admin driven end to end in headless chromium against a live server: log in, upload, forecast chart, scoping."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Sum
from playwright.sync_api import Page, expect

from finops.models import Role
from forecasting.models import ForecastRun
from forecasting.services import forecast_run_create
from ingest.models import LedgerEntry, Upload
from ingest.parsers import IngestError, detect_format
from tests.conftest import OPENAI_USAGE_SAMPLE
from tests.factories import (
    LedgerEntryFactory,
    MembershipFactory,
    OrganizationFactory,
    UploadFactory,
    UserFactory,
)

# serialized_rollback: the live server needs committed data, and the flush after each test would
# otherwise also wipe the price catalog the migrations seeded.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT_PASSWORD = "root-pw-for-tests"
FACTORY_PASSWORD = "pw-for-tests"
HISTORY_START = date(2026, 1, 1)
HISTORY_DAYS = 120  # 2026-01-01 .. 2026-04-30
WEEKDAY_FACTOR = (1.0, 1.1, 1.15, 1.1, 1.0, 0.45, 0.4)


def _superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", ROOT_PASSWORD)


def _log_in(page: Page, username: str, password: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form input[type=submit]")
    expect(page.locator("#user-tools strong")).to_have_text(username)


def _media_files() -> set[Path]:
    return {path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()}


def test_superuser_logs_in_and_sees_the_tokencast_header(page: Page, live_server) -> None:
    # given
    _superuser()

    # when
    response = page.goto("/admin/login/")

    # then
    assert response is not None
    assert response.status == 200
    expect(page).to_have_title("Log in | Tokencast")
    expect(page.locator("#site-name")).to_have_text("Tokencast")

    # when
    page.fill("#id_username", "root")
    page.fill("#id_password", ROOT_PASSWORD)
    page.click("#login-form input[type=submit]")

    # then
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page).to_have_title("Token FinOps | Tokencast")
    expect(page.locator("#site-name a")).to_have_text("Tokencast")
    expect(page.locator("#user-tools strong")).to_have_text("root")


def test_upload_through_the_admin_form_lands_in_the_ledger(page: Page, live_server) -> None:
    # given
    _superuser()
    organization = OrganizationFactory(slug="acme", name="Acme")
    _log_in(page, "root", ROOT_PASSWORD)
    page.goto("/admin/ingest/upload/upload/")

    # when
    page.select_option("#id_organization", value="acme")
    page.set_input_files("#id_file", OPENAI_USAGE_SAMPLE)
    page.click("#upload-form input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/ingest/upload/\d+/change/$"))

    # then
    upload = Upload.objects.get()
    assert page.url == f"{live_server.url}/admin/ingest/upload/{upload.pk}/change/"
    assert upload.organization == organization
    assert upload.original_name == OPENAI_USAGE_SAMPLE.name
    assert upload.status == Upload.Status.SUCCEEDED
    expect(page.locator(".field-status .readonly")).to_have_text("Succeeded")
    expect(page.locator(".messagelist li.success")).to_have_text(
        f"Upload #{upload.pk} {OPENAI_USAGE_SAMPLE.name}: Succeeded."
    )
    totals = dict(
        LedgerEntry.objects.filter(organization=organization)
        .values_list("token_type")
        .annotate(total=Sum("quantity"))
        .order_by("token_type")
    )
    assert totals == {"input": 31422, "output": 29}
    assert set(LedgerEntry.objects.values_list("upload_id", flat=True)) == {upload.pk}


def test_upload_with_an_unknown_header_re_renders_the_form_with_the_error(
    page: Page, live_server, tmp_path: Path
) -> None:
    # given
    _superuser()
    OrganizationFactory(slug="acme", name="Acme")
    unknown = tmp_path / "spend.csv"
    unknown.write_text("date,amount\n2025-01-01,3\n", encoding="utf-8")
    with pytest.raises(IngestError) as rejected:
        detect_format(unknown)
    expected_error = "; ".join(str(error) for error in rejected.value.errors)
    media_before = _media_files()
    _log_in(page, "root", ROOT_PASSWORD)
    page.goto("/admin/ingest/upload/upload/")

    # when
    page.select_option("#id_organization", value="acme")
    page.set_input_files("#id_file", unknown)
    page.click("#upload-form input[type=submit]")
    page.wait_for_load_state()

    # then
    expect(page).to_have_url(f"{live_server.url}/admin/ingest/upload/upload/")
    errors = page.locator("#error-file li")
    expect(errors).to_have_text([expected_error])
    assert expected_error.startswith("row 1: the header matches no known export format. Closest: ")
    expect(page.locator("#id_organization")).to_have_value("acme")
    assert Upload.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert _media_files() == media_before


def test_forecast_run_page_draws_the_chart_and_one_row_per_forecast_month(
    page: Page, live_server, tmp_path: Path
) -> None:
    # given
    _superuser()
    organization = OrganizationFactory(slug="acme", name="Acme")
    upload = UploadFactory(organization=organization)
    for offset in range(HISTORY_DAYS):
        day = HISTORY_START + timedelta(days=offset)
        quantity = round((200_000 + 900 * offset) * WEEKDAY_FACTOR[day.weekday()]) + (offset * 7919) % 5000
        LedgerEntryFactory(organization=organization, upload=upload, date=day, token_type="input", quantity=quantity)
    run = forecast_run_create(organization=organization, horizon_days=92)
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.SUCCEEDED, run.error
    assert run.history_end == date(2026, 4, 30)
    assert [point.date for point in run.points.order_by("date")] == [
        date(2026, 5, 1) + timedelta(days=offset) for offset in range(92)
    ]
    _log_in(page, "root", ROOT_PASSWORD)

    # when
    page.goto(f"/admin/forecasting/forecastrun/{run.pk}/change/")

    # then
    expect(page.locator("#forecast-chart svg")).to_be_visible()
    rows = page.locator("#forecast-monthly tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td:nth-child(1)")).to_have_text(["2026-05", "2026-06", "2026-07"])
    expect(rows.locator("td:nth-child(2)")).to_have_text(["31", "30", "31"])
    # The fitted workload first, then the leaf it is split into.
    series = page.locator("#forecast-series tbody tr")
    expect(series).to_have_count(2)
    expect(series.locator("td:nth-child(1)")).to_have_text(["workload", "leaf"])
    expect(series.locator("td:nth-child(4)")).to_have_text(["all models", run.series.get(kind="leaf").model])
    screenshot = tmp_path / "forecast-chart.png"
    page.locator("#forecast-chart").screenshot(path=screenshot)
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10 * 1024


def test_staff_viewer_sees_only_the_uploads_of_their_organization(page: Page, live_server) -> None:
    # given
    acme = OrganizationFactory(slug="acme", name="Acme")
    globex = OrganizationFactory(slug="globex", name="Globex")
    user = UserFactory(username="vera", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="ingest", codename="view_upload"))
    MembershipFactory(user=user, organization=acme, role=Role.VIEWER)
    UploadFactory(organization=acme, original_name="acme-2026-08.csv")
    hidden = UploadFactory(organization=globex, original_name="globex-2026-08.csv")
    _log_in(page, "vera", FACTORY_PASSWORD)

    # when
    page.goto("/admin/ingest/upload/")

    # then
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.field-original_name")).to_have_text(["acme-2026-08.csv"])
    expect(rows.locator("td.field-organization")).to_have_text(["acme"])
    expect(page.locator("#result_list")).not_to_contain_text("globex")
    expect(page.locator("#changelist-filter")).to_contain_text("Acme")
    expect(page.locator("#changelist-filter")).not_to_contain_text("Globex")
    expect(page.locator("p.paginator")).to_contain_text("1 upload")

    # when
    page.goto(f"/admin/ingest/upload/{hidden.pk}/change/")

    # then
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator(".messagelist li.warning")).to_have_text(
        f"Upload with ID \u201c{hidden.pk}\u201d doesn\u2019t exist. Perhaps it was deleted?"
    )
