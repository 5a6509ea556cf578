"""The monthly forecast e-mail's HTML part in headless chromium, as a mail client without remote content shows it:
every picture is one of the message's own (inlined here as data: URIs, as the admin preview does), nothing is
fetched from anywhere, no script runs; a screenshot is kept as a test artifact
(``var/test-artifacts/monthly-email/email.png``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request

from planning.monthly_email import forecast_email_compose, forecast_email_preview_html
from planning.monthly_report import MonthFigures, forecast_email_recipient
from tests.planning.forecast_email_world import MONTH, forecast_email_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_the_email_html_renders_with_its_charts_and_fetches_nothing(
    browser: Browser, organization, artifacts_dir: Path
) -> None:
    # Given finance@'s May e-mail (two budgets, two charts), its HTML part with the charts inlined
    world = forecast_email_world(organization)
    recipient = forecast_email_recipient(organization=world.organization, month=MONTH, address="finance@example.com")
    assert recipient is not None
    email = forecast_email_compose(
        recipient=recipient, figures=MonthFigures(organization=world.organization, month=MONTH)
    )
    html = forecast_email_preview_html(email=email)

    # When chromium opens it at a mail client's width, with JavaScript off
    context = browser.new_context(viewport={"width": 720, "height": 900}, java_script_enabled=False)
    requests: list[Request] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request))
        page.set_content(html, wait_until="load")
        widths = [image.evaluate("element => element.naturalWidth") for image in page.locator("img").all()]
        visible = page.locator("text=Your forecast for May 2026").is_visible()
        folder = artifacts_dir / "monthly-email"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=folder / "email.png", full_page=True)
    finally:
        context.close()

    # Then both charts decoded and drew, the heading shows, and nothing was requested from the network
    assert len(widths) == 2 and all(width > 0 for width in widths)
    assert visible
    assert [request.url for request in requests if not request.url.startswith(("data:", "about:"))] == []
    assert (folder / "email.png").stat().st_size > 10_000
