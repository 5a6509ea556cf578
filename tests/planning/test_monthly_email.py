"""The monthly forecast e-mail, sent through a real SMTP server (aiosmtpd) and read back as it arrived: its MIME parts,
the inline charts, the CSV's rows and that they are the numbers the API and the budget page show; exactly once per
owner and month (a retried task, two senders at once, a dead worker's claim), failures recorded and skipped, owners
without budgets left out, opt-out and the unsubscribe link, the command, the hourly beat in each organization's
time zone, and the admin preview scoped to the user's organizations."""

from __future__ import annotations

import csv
import email.message
import io
import logging
import os
import re
import threading
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from finops.models import Organization, Role
from finops.money import money_str
from planning.dashboard import scope_monthly_spend
from planning.models import Budget, BudgetOwner, ForecastEmailDelivery, ForecastEmailOptOut
from planning.monthly_delivery import STALE_CLAIM_AFTER, forecast_emails_send
from planning.monthly_email import forecast_email_compose, forecast_email_message_id, forecast_email_preview_html
from planning.monthly_report import MonthFigures, forecast_email_recipient, forecast_email_recipients
from planning.tasks import send_due_forecast_emails, send_forecast_emails
from tests.factories import OrganizationFactory, staff_member
from tests.harness import free_port
from tests.planning.forecast_email_world import MONTH, OWNERS, ForecastEmailWorld, forecast_email_world

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TOKENCAST_TEST_ARTIFACTS", REPO / "var" / "test-artifacts")) / "monthly-email"
BUDGETS = "/api/v1/budgets/"


@pytest.fixture
def world(organization) -> ForecastEmailWorld:
    return forecast_email_world(organization)


def by_recipient(smtp_server) -> dict[str, email.message.EmailMessage]:
    """Each received message by its one envelope recipient (fails on a duplicate)."""
    received: dict[str, email.message.EmailMessage] = {}
    for envelope, message in zip(smtp_server.envelopes, smtp_server.messages(), strict=True):
        (recipient,) = envelope.rcpt_tos
        assert recipient not in received, f"{recipient} got two e-mails"
        received[recipient] = message
    return received


def parts(message: email.message.EmailMessage) -> dict[str, object]:
    """The message's parts by role, checking the MIME tree on the way."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert (text.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    return {
        "text": text.get_content().replace("\r\n", "\n"),  # SMTP carries CRLF line ends
        "html": html.get_content().replace("\r\n", "\n"),
        "images": images,
        "attachment": attachment,
    }


def csv_rows(attachment) -> list[dict[str, str]]:
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_disposition() == "attachment"
    return list(csv.DictReader(io.StringIO(attachment.get_content())))


def row(rows: list[dict[str, str]], section: str, **match: str) -> dict[str, str]:
    (found,) = [item for item in rows if item["section"] == section and all(item[k] == v for k, v in match.items())]
    return found


def send(organization: Organization, **options):
    return forecast_emails_send(organization=organization, month=MONTH, **options)


# What arrives.


def test_each_owner_gets_one_email_with_text_html_inline_charts_and_a_csv(world, smtp_server) -> None:
    # When the May e-mails are sent
    result = send(world.organization)

    # Then each owner got one e-mail, the member who owns no budget none
    received = by_recipient(smtp_server)
    assert sorted(received) == OWNERS
    assert result.counts() == {"sent": 4}
    message = received["finance@example.com"]
    assert message["Subject"] == "[Tokencast] Acme: your forecast for May 2026 (1 at risk)"
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
    # And its parts: text and HTML alternatives, the HTML related to one PNG per budget, a CSV attachment
    found = parts(message)
    images = found["images"]
    assert [image.get_content_type() for image in images] == ["image/png", "image/png"]
    content_ids = sorted(image["Content-ID"].strip("<>") for image in images)
    assert content_ids == sorted(
        [f"chart-{world.total_budget.pk}@tokencast", f"chart-{world.search_budget.pk}@tokencast"]
    )
    for image in images:
        assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
        assert image.get_content_disposition() == "inline"
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in found["html"]
    assert found["attachment"].get_filename() == "tokencast-forecast-acme-2026-05.csv"
    # And the HTML is self-contained: no scripts, no stylesheets to fetch, no remote images
    html = found["html"]
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert re.findall(r'<img[^>]+src="([^"]+)"', html) == [f"cid:{cid}" for cid in _in_html_order(html)]
    # And both parts name both budgets and the formatted figures
    for part in (found["text"], html):
        assert "Search monthly" in part and "Acme total" in part
        assert "600.00 USD" in part  # Search's April
        assert "310.00 USD" in part  # Search's May forecast
        assert "1,000.00 USD" in part


def _in_html_order(html: str) -> list[str]:
    return re.findall(r'src="cid:([^"]+)"', html)


def test_the_email_says_last_month_this_period_the_next_three_months_alerts_and_recommendations(
    world, smtp_server
) -> None:
    send(world.organization)

    text = parts(by_recipient(smtp_server)["dana@example.com"])["text"]

    # Then Dana's e-mail covers her one budget: April against budget, May's forecast with its interval, probability
    # and breach date, June to August, the open alerts of its scope and its scope's recommendations
    assert text.startswith("Hello Dana Lee,\n")
    assert "Last month (April 2026): actual 600.00 USD of 450.00 USD (133%), over by 150.00 USD" in text
    assert "This period (May 2026): At risk" in text
    assert "  Forecast 310.00 USD against 450.00 USD" in text
    assert "  80% interval: 190.00 USD to 910.00 USD" in text
    assert "  Overrun probability: 60%" in text
    assert "  Projected breach date: none projected" in text
    assert "  June 2026: 360.00 USD (" in text
    assert "  July 2026: 434.00 USD (" in text
    assert "  August 2026: 496.00 USD (" in text
    assert "Open alerts: 2" in text
    assert "[Forecast overrun] Search monthly (opened 2026-04-20): Budget 'Search monthly' (team Search)" in text
    assert "[Anomaly] Search | gpt-4o (opened 2026-04-20): Unusual spend in Search | gpt-4o on 2026-04-28" in text
    assert "resolved: not in the e-mail" not in text
    assert "=Switch Search from gpt-4o to gpt-4o-mini (Search / openai / gpt-4o): 120.50 USD / 1,446.00 USD" in text
    assert "Batch the Ads" not in text  # another team's
    assert "Dismissed" not in text
    # And the Ads owner's budget breaks on May 21
    ads_text = parts(by_recipient(smtp_server)["ads-lead@example.com"])["text"]
    assert "  Projected breach date: 2026-05-21" in ads_text
    assert "  Overrun probability: 100%" in ads_text


def test_the_csv_holds_the_numbers_the_api_and_the_budget_page_show(world, smtp_server, api_client_for, viewer) -> None:
    send(world.organization)
    rows = csv_rows(parts(by_recipient(smtp_server)["finance@example.com"])["attachment"])
    client = api_client_for(viewer)

    for budget in (world.search_budget, world.total_budget):
        # Then last month's row and this period's row are the API's status of those periods, figure for figure
        for section, period in (("last_month", "2026-04-30"), ("current_period", "2026-05-01")):
            api = client.get(f"{BUDGETS}{budget.pk}/status/", {"period": period}).json()
            line = row(rows, section, budget=budget.name)
            for name in ("period_start", "period_end", "currency", "amount", "actual", "forecast"):
                assert line[name] == str(api[name]), (budget.name, section, name)
            assert (line["forecast_lower"], line["forecast_upper"]) == (api["forecast_lower"], api["forecast_upper"])
            assert line["actual_through"] == (api["actual_through"] or "")
            assert float(line["overrun_probability"]) == api["overrun_probability"]
            assert line["projected_breach_date"] == (api["projected_breach_date"] or "")
        # And the next three months are the budget page's spend by month of the budget's scope
        spend = scope_monthly_spend(
            organization=world.organization, team=budget.team.name if budget.team else "", run=world.run
        )
        expected = {month.month.isoformat(): month for month in spend.months}
        for month in ("2026-06-01", "2026-07-01", "2026-08-01"):
            line = row(rows, "next_month", budget=budget.name, period_start=month)
            figures = expected[month]
            assert (line["forecast"], line["forecast_lower"], line["forecast_upper"]) == (
                money_str(figures.forecast, "USD"),
                money_str(figures.lower, "USD"),
                money_str(figures.upper, "USD"),
            )
    # The known values, to be sure the comparison compared something
    assert row(rows, "last_month", budget="Search monthly")["actual"] == "600.00"
    assert row(rows, "current_period", budget="Search monthly")["forecast"] == "310.00"
    assert row(rows, "current_period", budget="Acme total")["forecast"] == "465.00"
    assert row(rows, "next_month", budget="Search monthly", period_start="2026-06-01")["forecast"] == "360.00"
    # And the recommendations with their savings (finance@ owns the organization-wide budget: all of them); a title
    # a spreadsheet would run as a formula is escaped
    recommendations = [item for item in rows if item["section"] == "recommendation"]
    assert [(item["detail"], item["monthly_savings"], item["twelve_month_savings"]) for item in recommendations] == [
        ("'=Switch Search from gpt-4o to gpt-4o-mini", "120.50", "1446.00"),
        ("Batch the Ads classification jobs", "30.00", "360.00"),
    ]


def test_money_is_shown_in_the_reporting_currency_at_its_minor_unit(organization, smtp_server) -> None:
    # Given an organization reporting in JPY (no minor unit) with a JPY budget
    from finops.models import FxRate

    organization.reporting_currency = "JPY"
    organization.save()
    FxRate.objects.create(from_currency="USD", to_currency="JPY", rate="150", rate_date=date(2026, 1, 1))
    world = forecast_email_world(organization)
    Budget.objects.filter(pk=world.search_budget.pk).update(currency="JPY", amount="70000")

    send(organization)

    text = parts(by_recipient(smtp_server)["dana@example.com"])["text"]
    # Then April's 600 USD is 90,000 JPY and the forecast 310 USD is 46,500 JPY, with no decimals
    assert "actual 90,000 JPY of 70,000 JPY" in text
    assert "Forecast 46,500 JPY against 70,000 JPY" in text
    assert "June 2026: 54,000 JPY" in text
    assert "18,075 JPY / 216,900 JPY" in text  # the recommendation's savings, converted from USD


# Exactly once.


def test_a_retried_task_sends_nothing_twice(world, smtp_server) -> None:
    # When the task runs, and runs again (a retry, a redelivered message, a second beat)
    first = send_forecast_emails.delay(world.organization.pk, MONTH.isoformat()).get()
    second = send_forecast_emails.delay(world.organization.pk, MONTH.isoformat()).get()

    # Then each owner got one e-mail, and the second run knew they had
    assert first == {"sent": 4}
    assert second == {"already sent": 4}
    assert sorted(by_recipient(smtp_server)) == OWNERS
    deliveries = ForecastEmailDelivery.objects.filter(organization=world.organization, month=MONTH)
    assert sorted(deliveries.values_list("address", "status", "attempts")) == [
        (address, "sent", 1) for address in OWNERS
    ]
    dana = deliveries.get(address="dana@example.com")
    assert (dana.user, dana.budgets) == (world.dana, 1)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_send_each_owner_exactly_once(organization, smtp_server) -> None:
    # Given the world committed (each sender has its own database connection), and four senders started together
    world = forecast_email_world(organization)
    start = threading.Barrier(4)
    outcomes: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            start.wait()
            result = send(Organization.objects.get(pk=world.organization.pk))
            outcomes.extend((item.address, item.outcome) for item in result.outcomes)
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connection.close()

    # When they all send the same month at the same moment
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then every owner got exactly one e-mail: one sender sent it, the others found it claimed
    assert errors == []
    assert Counter(recipient for envelope in smtp_server.envelopes for recipient in envelope.rcpt_tos) == dict.fromkeys(
        OWNERS, 1
    )
    sent = Counter(address for address, outcome in outcomes if outcome == "sent")
    assert sent == dict.fromkeys(OWNERS, 1)
    assert {outcome for _, outcome in outcomes} <= {"sent", "in progress", "already sent"}
    assert sorted(ForecastEmailDelivery.objects.values_list("address", "status", "attempts")) == [
        (address, "sent", 1) for address in OWNERS
    ]


def test_a_claim_left_by_a_dead_worker_is_taken_over_when_stale_and_not_before(world, smtp_server) -> None:
    # Given a worker died while sending Dana's e-mail 16 minutes ago, and another is sending cfo's right now
    now = timezone.now()
    for address, claimed_at in (
        ("dana@example.com", now - STALE_CLAIM_AFTER - timedelta(minutes=1)),
        ("cfo@example.com", now),
    ):
        ForecastEmailDelivery.objects.create(
            organization=world.organization,
            month=MONTH,
            address=address,
            claim_token="00000000-0000-0000-0000-000000000001",
            claimed_at=claimed_at,
            message_id=forecast_email_message_id(organization=world.organization, month=MONTH, address=address),
        )

    # When the next run comes
    result = send(world.organization)

    # Then Dana's stale claim is taken over and sent (attempt 2, the same Message-ID a crashed send would have
    # had), cfo's live claim is left to its sender
    assert {item.address: item.outcome for item in result.outcomes} == {
        "ads-lead@example.com": "sent",
        "cfo@example.com": "in progress",
        "dana@example.com": "sent",
        "finance@example.com": "sent",
    }
    received = by_recipient(smtp_server)
    assert sorted(received) == ["ads-lead@example.com", "dana@example.com", "finance@example.com"]
    dana = ForecastEmailDelivery.objects.get(address="dana@example.com")
    assert (dana.status, dana.attempts) == ("sent", 2)
    assert received["dana@example.com"]["Message-ID"] == dana.message_id
    assert dana.message_id == forecast_email_message_id(
        organization=world.organization, month=MONTH, address="dana@example.com"
    )
    assert ForecastEmailDelivery.objects.get(address="cfo@example.com").status == "sending"


# Failures.


def test_a_refused_address_is_recorded_logged_and_skipped_while_the_others_get_theirs(
    world, smtp_server, caplog
) -> None:
    # Given the SMTP server refuses the Ads lead (550 user unknown)
    smtp_server.refuse("ads-lead@example.com")

    # When the e-mails are sent
    with caplog.at_level(logging.ERROR, logger="planning.monthly_delivery"):
        result = send(world.organization)

    # Then the others got theirs, the refusal is recorded as failed (not retried) and logged
    assert sorted(by_recipient(smtp_server)) == ["cfo@example.com", "dana@example.com", "finance@example.com"]
    assert result.counts() == {"failed": 1, "sent": 3}
    failed = ForecastEmailDelivery.objects.get(address="ads-lead@example.com")
    assert failed.status == "failed"
    assert "550" in failed.last_error and "ads-lead@example.com" in failed.last_error
    assert any(
        "ads-lead@example.com" in record.getMessage() and "gave up" in record.getMessage() for record in caplog.records
    )
    # And the next run does not try it again
    smtp_server.reset()
    assert send(world.organization).counts() == {"already sent": 3, "failed before": 1}
    assert smtp_server.envelopes == []


def test_an_invalid_address_fails_without_reaching_the_server(world, smtp_server, caplog) -> None:
    # Given an owner whose address is not one (saved before validation existed, say)
    BudgetOwner.objects.create(budget=world.ads_budget, email="not an address")

    with caplog.at_level(logging.ERROR, logger="planning.monthly_delivery"):
        result = send(world.organization)

    outcomes = {item.address: item.outcome for item in result.outcomes}
    assert outcomes["not an address"] == "failed"
    assert sorted(by_recipient(smtp_server)) == OWNERS
    assert ForecastEmailDelivery.objects.get(address="not an address").last_error == "invalid address 'not an address'"
    assert any("not an address" in record.getMessage() for record in caplog.records)


def test_an_unreachable_smtp_server_is_retried_by_the_next_run(world, smtp_server, settings) -> None:
    # Given the SMTP server cannot be reached
    settings.EMAIL_PORT = free_port()
    first = send(world.organization)

    # When it is back and the next hourly run comes
    settings.EMAIL_PORT = smtp_server.port
    second = send(world.organization)

    # Then the first run recorded each owner as retrying, the second sent each once (attempt 2)
    assert first.counts() == {"retrying": 4}
    assert second.counts() == {"sent": 4}
    assert sorted(by_recipient(smtp_server)) == OWNERS
    assert set(ForecastEmailDelivery.objects.values_list("status", "attempts")) == {("sent", 2)}


def test_an_email_that_cannot_be_composed_is_logged_retried_next_run_and_stops_no_other(
    world, smtp_server, caplog, monkeypatch
) -> None:
    # Given composing cfo@'s e-mail fails once (a fault of ours: nothing can have gone out)
    from planning import monthly_delivery

    compose = monthly_delivery.forecast_email_compose
    failures = iter([RuntimeError("chart renderer crashed")])

    def flaky(*, recipient, figures):
        if recipient.key == "cfo@example.com":
            error = next(failures, None)
            if error is not None:
                raise error
        return compose(recipient=recipient, figures=figures)

    monkeypatch.setattr(monthly_delivery, "forecast_email_compose", flaky)

    # When the e-mails are sent, and the next run comes
    with caplog.at_level(logging.ERROR, logger="planning.monthly_delivery"):
        first = send(world.organization)
    second = send(world.organization)

    # Then the others got theirs at once, cfo@ on the next run, each once; the failure was logged and recorded
    assert first.counts() == {"retrying": 1, "sent": 3}
    assert second.counts() == {"already sent": 3, "sent": 1}
    assert sorted(by_recipient(smtp_server)) == OWNERS
    assert any("could not be composed" in record.getMessage() for record in caplog.records)
    cfo = ForecastEmailDelivery.objects.get(address="cfo@example.com")
    assert (cfo.status, cfo.attempts) == ("sent", 2)


def test_an_owner_with_no_budgets_gets_nothing(world, smtp_server) -> None:
    # Given the budget cfo@ owns ended before April, and a member (idle@) who owns no budget
    Budget.objects.filter(pk=world.total_budget.pk).update(ends_on=date(2026, 3, 31))

    result = send(world.organization)

    # Then neither gets an e-mail; finance@ still gets one, for Search alone
    received = by_recipient(smtp_server)
    assert sorted(received) == ["ads-lead@example.com", "dana@example.com", "finance@example.com"]
    assert "idle@example.com" not in [item.address for item in result.outcomes]
    rows = csv_rows(parts(received["finance@example.com"])["attachment"])
    assert {item["budget"] for item in rows if item["budget"]} == {"Search monthly"}


def test_recipients_are_one_per_address_case_insensitively_with_all_their_budgets(world) -> None:
    recipients = forecast_email_recipients(organization=world.organization, month=MONTH)

    assert [(item.address, [budget.name for budget in item.budgets]) for item in recipients] == [
        ("ads-lead@example.com", ["Ads monthly"]),
        ("cfo@example.com", ["Acme total"]),
        ("dana@example.com", ["Search monthly"]),
        ("finance@example.com", ["Acme total", "Search monthly"]),
    ]
    assert recipients[2].user == world.dana


# Opting out.


def _unsubscribe_path(message: email.message.EmailMessage) -> str:
    text = parts(message)["text"]
    (link,) = re.findall(r"Unsubscribe: (\S+)", text)
    assert message["List-Unsubscribe"].strip() == f"<{link}>"  # a long header is folded onto its next line
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.startswith(django_settings.TOKENCAST_BASE_URL + "/email/unsubscribe/")
    assert f'href="{link}"' in parts(message)["html"]
    return urlsplit(link).path


def test_the_unsubscribe_link_opts_out_without_a_login_and_the_next_month_skips_the_owner(world, smtp_server) -> None:
    send(world.organization)
    path = _unsubscribe_path(by_recipient(smtp_server)["dana@example.com"])

    # When Dana opens the link, logged in nowhere
    response = Client().get(path)

    # Then she is opted out, and June's e-mails go to everyone else
    assert response.status_code == 200
    assert "dana@example.com will no longer receive the monthly forecast e-mail of Acme" in response.content.decode()
    opt_out = ForecastEmailOptOut.objects.get()
    assert (opt_out.organization, opt_out.address, opt_out.source) == (world.organization, "dana@example.com", "link")
    smtp_server.reset()
    june = forecast_emails_send(organization=world.organization, month=date(2026, 6, 1))
    assert {item.address: item.outcome for item in june.outcomes}["dana@example.com"] == "opted out"
    assert sorted(by_recipient(smtp_server)) == ["ads-lead@example.com", "cfo@example.com", "finance@example.com"]
    # And opening the link again changes nothing
    assert Client().get(path).status_code == 200
    assert ForecastEmailOptOut.objects.count() == 1


def test_one_click_post_opts_out_and_the_page_button_opts_back_in(world, smtp_server) -> None:
    send(world.organization)
    path = _unsubscribe_path(by_recipient(smtp_server)["finance@example.com"])
    client = Client(enforce_csrf_checks=True)

    # When the mail provider POSTs the one-click unsubscribe (no session, no CSRF token)
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert list(ForecastEmailOptOut.objects.values_list("address", flat=True)) == ["finance@example.com"]

    # And the owner changes their mind on the page
    response = client.post(path, {"action": "resubscribe"})
    assert response.status_code == 200
    assert "will receive the monthly forecast e-mail of Acme again" in response.content.decode()
    assert ForecastEmailOptOut.objects.count() == 0


def test_a_tampered_unsubscribe_token_is_refused_and_changes_nothing(world, smtp_server) -> None:
    send(world.organization)
    path = _unsubscribe_path(by_recipient(smtp_server)["dana@example.com"])
    token = path.rstrip("/").rsplit("/", 1)[1]
    payload = token.split(":", 1)[0]
    forged = token.replace(payload, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"))

    for bad in (forged, token[:-1] + ("A" if token[-1] != "A" else "B"), "not-a-token"):
        response = Client().get(f"/email/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert "not valid" in response.content.decode()
    assert ForecastEmailOptOut.objects.count() == 0


def test_an_owner_opted_out_in_the_admin_gets_nothing(world, smtp_server, client) -> None:
    # Given an admin of the organization opts cfo@ out in the admin (any case)
    admin_user = staff_member(world.organization, Role.ADMIN, "acme-admin")
    client.force_login(admin_user)
    response = client.post(
        "/admin/planning/forecastemailoptout/add/",
        {"organization": world.organization.pk, "address": "CFO@example.com"},
    )
    assert response.status_code == 302

    result = send(world.organization)

    assert {item.address: item.outcome for item in result.outcomes}["cfo@example.com"] == "opted out"
    assert "cfo@example.com" not in by_recipient(smtp_server)
    assert ForecastEmailDelivery.objects.filter(address="cfo@example.com").count() == 0


def test_a_viewer_cannot_opt_anyone_out_in_the_admin(world, client) -> None:
    client.force_login(staff_member(world.organization, Role.VIEWER, "acme-viewer"))

    response = client.post(
        "/admin/planning/forecastemailoptout/add/",
        {"organization": world.organization.pk, "address": "cfo@example.com"},
    )

    assert response.status_code == 403
    assert ForecastEmailOptOut.objects.count() == 0


# The command.


def test_the_command_sends_and_prints_each_owner(world, smtp_server) -> None:
    out, err = io.StringIO(), io.StringIO()

    call_command("send_forecast_emails", "--org", "acme", "--month", "2026-05", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[0] == "acme: forecast e-mails for 2026-05"
    assert lines[1].startswith("  ads-lead@example.com (1 budget(s)): sent: <forecast-")
    assert lines[4].startswith("  finance@example.com (2 budget(s)): sent: <forecast-")
    assert lines[-1] == "acme 2026-05: 4 sent"
    assert err.getvalue() == ""
    assert sorted(by_recipient(smtp_server)) == OWNERS
    assert ForecastEmailDelivery.objects.filter(status="sent").count() == 4


def test_the_command_dry_run_sends_and_records_nothing(world, smtp_server) -> None:
    out = io.StringIO()

    call_command("send_forecast_emails", "--org", "acme", "--month", "2026-05", "--dry-run", stdout=out)

    assert smtp_server.envelopes == []
    assert ForecastEmailDelivery.objects.count() == 0
    output = out.getvalue()
    assert "acme: forecast e-mails for 2026-05 (dry run: nothing is sent or recorded)" in output
    assert "  dana@example.com (1 budget(s)): would send: [Tokencast] Acme: your forecast for May 2026" in output
    assert output.splitlines()[-1] == "acme 2026-05: 4 would send"


def test_the_command_to_sends_every_owners_email_to_one_address_and_records_nothing(world, smtp_server) -> None:
    out = io.StringIO()

    call_command("send_forecast_emails", "--org", "acme", "--month", "2026-05", "--to", "qa@example.com", stdout=out)

    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [["qa@example.com"]] * 4
    originals = sorted(message["X-Tokencast-Original-Recipient"] for message in smtp_server.messages())
    assert originals == OWNERS
    assert ForecastEmailDelivery.objects.count() == 0
    assert "  cfo@example.com (1 budget(s)): redirected: sent to qa@example.com" in out.getvalue()
    # And the real send afterwards still reaches every owner
    smtp_server.reset()
    assert send(world.organization).counts() == {"sent": 4}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--month", "2026-13"], "--month: expected YYYY-MM, got '2026-13'"),
        (["--month", "May"], "--month: expected YYYY-MM, got 'May'"),
        (["--to", "nobody"], "--to: 'nobody' is not an e-mail address"),
        (["--org", "nope"], "no organization 'nope' (known: acme)"),
    ],
)
def test_the_command_refuses_bad_flags(organization, arguments, message) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("send_forecast_emails", *arguments)


# When: the hourly beat, in each organization's time zone.


def test_the_hourly_beat_sends_on_the_first_in_each_organizations_time_zone(world, smtp_server) -> None:
    # Given a second organization in Auckland with one owner
    kiwi = OrganizationFactory(slug="kiwi", name="Kiwi", time_zone="Pacific/Auckland")
    budget = Budget.objects.create(organization=kiwi, name="Kiwi", starts_on=date(2026, 1, 1), amount=100)
    BudgetOwner.objects.create(budget=budget, email="kiwi-cfo@example.com")

    # When beat runs at 13:00 UTC on April 30: 01:00 on May 1 in Auckland
    assert send_due_forecast_emails.delay("2026-04-30T13:00:00+00:00").get() == 1
    # Then only Auckland's owner heard, of May
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [["kiwi-cfo@example.com"]]
    assert "your forecast for May 2026" in smtp_server.messages()[0]["Subject"]

    # When it runs at 00:30 UTC on May 1 (12:30 in Auckland, still its 1st) and again an hour later
    assert send_due_forecast_emails.delay("2026-05-01T00:30:00+00:00").get() == 2
    assert send_due_forecast_emails.delay("2026-05-01T01:30:00+00:00").get() == 2
    # Then Acme's owners got theirs once, and Auckland's owner no second one
    assert Counter(r for envelope in smtp_server.envelopes for r in envelope.rcpt_tos) == dict.fromkeys(
        [*OWNERS, "kiwi-cfo@example.com"], 1
    )

    # When it runs on May 2 (Auckland's and UTC's): nothing is due, nothing is unfinished
    assert send_due_forecast_emails.delay("2026-05-02T12:00:00+00:00").get() == 0


def test_after_the_first_the_beat_only_finishes_unfinished_deliveries(world, smtp_server, settings) -> None:
    # Given the 1st's run found the SMTP server down
    settings.EMAIL_PORT = free_port()
    send_due_forecast_emails.delay("2026-05-01T23:30:00+00:00").get()
    assert set(ForecastEmailDelivery.objects.values_list("status", flat=True)) == {"retrying"}
    # And a budget owner added on the 2nd
    BudgetOwner.objects.create(budget=world.ads_budget, email="late@example.com")

    # When the server is back and beat runs on the 2nd
    settings.EMAIL_PORT = smtp_server.port
    assert send_due_forecast_emails.delay("2026-05-02T00:30:00+00:00").get() == 1

    # Then the retrying ones are sent; the owner added on the 2nd waits for June
    assert sorted(by_recipient(smtp_server)) == OWNERS


def test_the_beat_schedule_runs_the_due_emails_hourly() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["send-forecast-emails-hourly"]
    assert entry["task"] == "planning.tasks.send_due_forecast_emails"
    assert entry["schedule"].hour == set(range(24))
    assert len(entry["schedule"].minute) == 1


def test_an_organization_time_zone_must_be_an_iana_name(organization) -> None:
    organization.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="not an IANA time zone name"):
        organization.full_clean()
    organization.time_zone = "Pacific/Auckland"
    organization.full_clean()
    assert Organization._meta.get_field("time_zone").default == "UTC"


# The admin preview.


def test_the_admin_preview_lists_the_owners_of_the_users_organizations_only(world, client) -> None:
    other = OrganizationFactory(slug="other", name="Other")
    other_budget = Budget.objects.create(organization=other, name="Other", starts_on=date(2026, 1, 1), amount=100)
    BudgetOwner.objects.create(budget=other_budget, email="other-cfo@example.com")
    client.force_login(staff_member(world.organization, Role.VIEWER, "acme-viewer"))

    response = client.get("/admin/planning/forecastemaildelivery/preview/", {"month": "2026-05"})

    assert response.status_code == 200
    page = response.content.decode()
    for address in OWNERS:
        assert address in page
    assert "other-cfo@example.com" not in page
    assert "idle@example.com" not in page
    # And another organization's owner cannot be previewed, even by guessing its id
    denied = client.get(
        f"/admin/planning/forecastemaildelivery/preview/{other.pk}/", {"address": "other-cfo@example.com"}
    )
    assert denied.status_code == 404


def test_the_admin_preview_renders_the_html_part_with_the_charts_inline(world, client) -> None:
    client.force_login(staff_member(world.organization, Role.VIEWER, "acme-viewer"))

    response = client.get(
        f"/admin/planning/forecastemaildelivery/preview/{world.organization.pk}/",
        {"address": "Finance@example.com", "month": "2026-05"},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "[Tokencast] Acme: your forecast for May 2026 (1 at risk)" in page
    assert page.count("data:image/png;base64,") == 2
    assert "cid:chart-" not in page
    assert 'id="email-text"' in page and "Hello,\n" in page
    # And previewing sends and records nothing
    assert ForecastEmailDelivery.objects.count() == 0
    # And an address that owns nothing is a 404
    missing = client.get(
        f"/admin/planning/forecastemaildelivery/preview/{world.organization.pk}/",
        {"address": "idle@example.com", "month": "2026-05"},
    )
    assert missing.status_code == 404


# The rendered e-mail, kept for people to look at.


def test_a_rendered_email_is_written_as_artifacts(world) -> None:
    recipient = forecast_email_recipient(organization=world.organization, month=MONTH, address="finance@example.com")
    assert recipient is not None
    email_ = forecast_email_compose(
        recipient=recipient, figures=MonthFigures(organization=world.organization, month=MONTH)
    )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "email.txt").write_text(email_.text)
    # The HTML part as a browser shows it on its own: the cid: charts inlined as data: URIs
    (ARTIFACTS / "email.html").write_text(forecast_email_preview_html(email=email_))

    assert (ARTIFACTS / "email.txt").read_text().startswith("Hello,\n\nHere is the forecast of your 2 budget(s)")
    assert "data:image/png;base64," in (ARTIFACTS / "email.html").read_text()
