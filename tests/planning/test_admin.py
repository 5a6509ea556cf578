"""Planning admin (Django test client, staff members of the organization): the budget list coloured by this period's
state with its breach date, the add form checked by the budget service, roles, the CSV import page, the alert
acknowledge action and the recommendation dismiss page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from finops.models import Role
from planning.models import Alert, Budget, Recommendation, Webhook
from planning.services import budget_save
from tests.factories import MembershipFactory, TeamFactory
from tests.planning.helpers import cell, forecast_run, ledger_days

pytestmark = pytest.mark.django_db

BUDGETS = "/admin/planning/budget/"
ALERTS = "/admin/planning/alert/"
RECOMMENDATIONS = "/admin/planning/recommendation/"
WEBHOOKS_ADMIN = "/admin/planning/webhook/"


def _staff(organization, role: str, username: str):
    return MembershipFactory(organization=organization, role=role, user__username=username, user__is_staff=True).user


@pytest.fixture
def admin_client(client, organization):
    client.force_login(_staff(organization, Role.ADMIN, "finance"))
    return client


@pytest.fixture
def analyst_client(client, organization):
    client.force_login(_staff(organization, Role.ANALYST, "analyst"))
    return client


@pytest.fixture
def viewer_client(client, organization):
    client.force_login(_staff(organization, Role.VIEWER, "reader"))
    return client


def _row(page: str, name: str) -> str:
    """The changelist's table row of the budget called ``name``."""
    rows = [row for row in re.findall(r"<tr.*?</tr>", page, flags=re.S) if f">{name}</a></th>" in row]
    assert len(rows) == 1, f"{len(rows)} rows for {name!r}"
    return rows[0]


def _form(organization, team=None, **extra) -> dict[str, str]:
    """The admin add form's fields, as a browser posts them."""
    return {
        "organization": str(organization.pk),
        "name": "Search",
        "team": str(team.pk) if team else "",
        "provider": "",
        "model": "",
        "period": "month",
        "starts_on": "2026-01-01",
        "ends_on": "",
        "amount": "1200",
        "currency": "USD",
        "overrun_alert_probability": "0.5",
        "owners_text": "",
        "thresholds_text": "0.8; 1.0",
        "_save": "Save",
    } | extra


# Budget list: this period's state in colour and the breach date


def test_budget_list_colours_each_budget_by_its_state_this_period(admin_client, organization, search) -> None:
    # Given a run whose history ends on the 1st of this month, with the rest of the month (d - 1 days) forecast
    # for Search at 20 a day, paths 100, 200, ..., 1000 for the month; and 30 of Ads actuals on the 1st
    today = timezone.localdate()
    month_start = today.replace(day=1)
    days = ((month_start + timedelta(days=32)).replace(day=1) - month_start).days
    ads = TeamFactory(organization=organization, name="Ads", slug="ads")
    ledger_days(organization, ads, month_start, [30.0])
    run = forecast_run(organization, month_start, days - 1)
    cell(run, team="Search", daily_cost=[20.0] * (days - 1), monthly_paths=[[100.0 * (i + 1)] for i in range(10)])
    starts_on = month_start.isoformat()
    for name, team, amount in (("Search", "search", "450"), ("Search roomy", "search", "5000"), ("Ads", "ads", "10")):
        budget_save(
            organization=organization, data={"name": name, "team": team, "starts_on": starts_on, "amount": amount}
        )

    response = admin_client.get(BUDGETS)

    assert response.status_code == 200
    page = response.content.decode()
    forecast = f"{20 * (days - 1):.2f}"
    # Search 450: no actuals, forecast 20 x (d - 1); 80%: q10/q90 of the paths (190/910); overrun when p > 450, 6 of
    # 10 (above the budget's 0.5: at risk); the running total passes 450 on the 23rd forecast day (460)
    at_risk = _row(page, "Search")
    assert (
        '<span class="budget-state budget-at_risk" style="color:#fff;background:#ef6c00;padding:2px 6px;'
        f'border-radius:3px">at risk</span> actual 0.00 / forecast {forecast} (80%: 190.00-910.00), 60% overrun'
    ) in at_risk
    assert f'<td class="field-breach_date">{(month_start + timedelta(days=23)).isoformat()}</td>' in at_risk
    # Search 5000: no path overruns, no breach
    ok = _row(page, "Search roomy")
    assert (
        '<span class="budget-state budget-ok" style="color:#fff;background:#2e7d32;padding:2px 6px;'
        f'border-radius:3px">ok</span> actual 0.00 / forecast {forecast} (80%: 190.00-910.00), 0% overrun'
    ) in ok
    assert '<td class="field-breach_date">-</td>' in ok
    # Ads 10: 30 spent on the 1st, nothing forecast for Ads: over, broken on the 1st
    over = _row(page, "Ads")
    assert (
        '<span class="budget-state budget-over" style="color:#fff;background:#c62828;padding:2px 6px;'
        'border-radius:3px">over</span> actual 30.00 / forecast 30.00 (80%: 30.00-30.00), 100% overrun'
    ) in over
    assert f'<td class="field-breach_date">{month_start.isoformat()}</td>' in over
    assert f'href="{BUDGETS}import/"' in page


def test_a_budget_whose_status_cannot_be_computed_shows_a_dash_with_the_reason(admin_client, organization) -> None:
    # Given a budget that starts after today: no period contains today
    today = timezone.localdate()
    later = (today.replace(day=1) + timedelta(days=62)).replace(day=1)
    budget_save(organization=organization, data={"name": "Later", "starts_on": later.isoformat(), "amount": "10"})

    row = _row(admin_client.get(BUDGETS).content.decode(), "Later")

    assert f'<span title="{today.isoformat()} is before the budget starts on {later.isoformat()}">-</span>' in row
    assert '<td class="field-breach_date">-</td>' in row


# Budget add form


def test_adding_a_budget_with_a_negative_amount_shows_the_error_and_saves_nothing(
    admin_client, organization, search
) -> None:
    response = admin_client.post(f"{BUDGETS}add/", _form(organization, search, amount="-5"))

    assert response.status_code == 200
    assert '<ul class="errorlist" id="id_amount_error"><li>must not be negative, got -5</li></ul>' in (
        response.content.decode()
    )
    assert Budget.objects.count() == 0


def test_adding_a_budget_with_an_unknown_owner_and_a_bad_threshold_names_both(
    admin_client, organization, search
) -> None:
    response = admin_client.post(
        f"{BUDGETS}add/", _form(organization, search, owners_text="nobody", thresholds_text="0.8; 11")
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "&#x27;nobody&#x27; is not an e-mail address or the username of a member of acme" in page
    assert "threshold 11.0 is out of range: it must be above 0 and at most 10" in page
    assert Budget.objects.count() == 0


def test_adding_a_valid_budget_saves_it_with_its_owners(admin_client, organization, search) -> None:
    analyst = _staff(organization, Role.ANALYST, "lead")

    response = admin_client.post(
        f"{BUDGETS}add/",
        _form(organization, search, owners_text="lead; CFO@x.io", thresholds_text="1.0; 0.5", amount="1200.50"),
    )

    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.name, budget.team, budget.amount, budget.thresholds) == (
        "Search",
        search,
        Decimal("1200.50"),
        [0.5, 1.0],
    )
    assert {(owner.user_id, owner.email) for owner in budget.owners.all()} == {(analyst.pk, ""), (None, "cfo@x.io")}


def test_changing_a_budget_in_the_admin_keeps_one_set_of_owners(admin_client, organization, search) -> None:
    budget = budget_save(
        organization=organization,
        data={"name": "Search", "team": search, "starts_on": "2026-01-01", "amount": "100", "owners": "a@x.io"},
    )

    response = admin_client.post(
        f"{BUDGETS}{budget.pk}/change/", _form(organization, search, amount="250", owners_text="a@x.io; b@x.io")
    )

    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.amount == Decimal("250.00")
    assert sorted(budget.owners.values_list("email", flat=True)) == ["a@x.io", "b@x.io"]
    assert Budget.objects.count() == 1


# Roles


def test_a_viewer_reads_budgets_but_cannot_add_or_change_them(viewer_client, organization) -> None:
    budget = budget_save(organization=organization, data={"name": "All", "starts_on": "2026-01-01", "amount": "100"})

    listing = viewer_client.get(BUDGETS)
    add_page = viewer_client.get(f"{BUDGETS}add/")
    change = viewer_client.post(f"{BUDGETS}{budget.pk}/change/", _form(organization, name="All", amount="1"))
    import_page = viewer_client.get(f"{BUDGETS}import/")

    assert listing.status_code == 200
    assert ">All</a></th>" in listing.content.decode()
    assert add_page.status_code == 403
    assert change.status_code == 403
    assert import_page.status_code == 403
    budget.refresh_from_db()
    assert budget.amount == Decimal("100.00")


def test_an_admin_opens_the_add_page(admin_client) -> None:
    response = admin_client.get(f"{BUDGETS}add/")

    assert response.status_code == 200
    assert 'name="owners_text"' in response.content.decode()


# CSV import page


def _import(client, organization, content: bytes):
    return client.post(
        f"{BUDGETS}import/",
        {"organization": str(organization.pk), "file": SimpleUploadedFile("budgets.csv", content)},
    )


def test_the_import_page_creates_budgets_from_a_csv(admin_client, organization, search) -> None:
    content = b"name,team,starts_on,amount,owners\nPlatform,search,2026-01-01,1200.00,lead@x.io; ops@x.io\n"

    response = _import(admin_client, organization, content)

    assert response.status_code == 302
    assert response["Location"] == BUDGETS
    budget = Budget.objects.get()
    assert (budget.name, budget.team, budget.amount) == ("Platform", search, Decimal("1200.00"))
    assert sorted(budget.owners.values_list("email", flat=True)) == ["lead@x.io", "ops@x.io"]
    assert "Imported budgets.csv: 1 created, 0 updated." in admin_client.get(BUDGETS).content.decode()


def test_the_import_page_lists_each_problem_and_saves_nothing(admin_client, organization, search) -> None:
    content = b"name,team,starts_on,amount\nPlatform,search,2026-01-01,1200.00\nAds,ads,2026-01-01,-5\n"

    response = _import(admin_client, organization, content)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was changed. Fix these and try again:" in page
    assert "<li>row 3, column &#x27;team&#x27;: no team &#x27;ads&#x27; in acme (give its slug or name)</li>" in page
    assert "<li>row 3, column &#x27;amount&#x27;: must not be negative, got -5</li>" in page
    assert Budget.objects.count() == 0


def test_the_import_page_lists_the_first_50_problems_and_counts_the_rest(admin_client, organization) -> None:
    content = b"name,starts_on,amount\n" + b"".join(b"B%d,2026-01-01,-1\n" % row for row in range(2, 62))

    page = _import(admin_client, organization, content).content.decode()

    assert page.count("must not be negative, got -1</li>") == 50
    assert "<li>row 51, column &#x27;amount&#x27;: must not be negative, got -1</li>" in page
    assert "<li>... and 10 more problem(s)</li>" in page
    assert Budget.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\x01\x02", "the file is binary, not text; expected a CSV file (UTF-8 text)"),
        (b"name,starts_on,amount\n\xff,2026-01-01,1\n", "the file is not UTF-8 text (byte 22); save it as UTF-8 CSV"),
    ],
)
def test_the_import_page_rejects_a_file_that_is_not_utf8_text(admin_client, organization, content, problem) -> None:
    response = _import(admin_client, organization, content)

    assert response.status_code == 200
    assert f"<li>{problem}</li>" in response.content.decode()
    assert Budget.objects.count() == 0


def test_the_import_page_keeps_a_quoted_cell_that_spans_lines(admin_client, organization) -> None:
    # Given the export's shape of a name with a line break: a quoted cell over two lines
    content = b'name,starts_on,amount\n"Platform\nwide",2026-01-01,10\n'

    response = _import(admin_client, organization, content)

    assert response.status_code == 302
    assert list(Budget.objects.values_list("name", flat=True)) == ["Platform\nwide"]


# Webhooks


def test_an_admin_adds_a_webhook_and_a_url_without_a_scheme_becomes_https(admin_client, organization) -> None:
    form = {"organization": str(organization.pk), "name": "Slack", "secret": "s3cret", "active": "on", "_save": "Save"}

    rejected = admin_client.post(WEBHOOKS_ADMIN + "add/", form | {"url": "ftp://hooks.example.com/x"})
    added = admin_client.post(WEBHOOKS_ADMIN + "add/", form | {"url": "hooks.example.com/x", "kinds": ["anomaly"]})

    assert rejected.status_code == 200
    assert "expected an http(s) URL, got &#x27;ftp://hooks.example.com/x&#x27;" in rejected.content.decode()
    assert added.status_code == 302
    assert list(Webhook.objects.values_list("url", "secret", "kinds")) == [
        ("https://hooks.example.com/x", "s3cret", ["anomaly"])
    ]


def test_a_viewer_sees_no_webhooks_in_the_admin(viewer_client, organization) -> None:
    Webhook.objects.create(organization=organization, name="Slack", url="https://hooks.example.com/x")

    listing = viewer_client.get(WEBHOOKS_ADMIN)

    assert listing.status_code == 200
    assert "Slack" not in listing.content.decode()
    assert viewer_client.get(WEBHOOKS_ADMIN + "add/").status_code == 403


# Alerts: acknowledge action


@pytest.fixture
def alert(organization) -> Alert:
    budget = budget_save(organization=organization, data={"name": "All", "starts_on": "2026-01-01", "amount": "100"})
    return Alert.objects.create(
        organization=organization,
        budget=budget,
        kind=Alert.Kind.THRESHOLD,
        period_start=date(2026, 3, 1),
        level=1.0,
        message="Budget 'All' has crossed 100%",
        opened_at=timezone.now(),
    )


def _acknowledge(client, alert: Alert):
    return client.post(ALERTS, {"action": "acknowledge", "_selected_action": [alert.pk], "index": "0"}, follow=True)


def test_an_analyst_acknowledges_alerts_with_the_action(analyst_client, alert) -> None:
    response = _acknowledge(analyst_client, alert)

    assert response.status_code == 200
    assert "1 alert(s) acknowledged." in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert (alert.acknowledged_by.username, alert.status) == ("analyst", "open")


def test_a_viewer_acknowledges_nothing(viewer_client, alert) -> None:
    response = _acknowledge(viewer_client, alert)

    assert "0 alert(s) acknowledged." in response.content.decode()
    alert.refresh_from_db()
    assert (alert.acknowledged_at, alert.acknowledged_by) == (None, None)


# Recommendations: dismiss page


def _recommendation(organization, **extra) -> Recommendation:
    values = {
        "kind": Recommendation.Kind.MODEL_SWITCH,
        "team": "Search",
        "provider": "openai",
        "model": "gpt-4o",
        "to_model": "gpt-4o-mini",
        "title": "Switch Search from gpt-4o to gpt-4o-mini",
        "monthly_savings": Decimal("100.00"),
        "twelve_month_savings": Decimal("1200.00"),
        "confidence": Recommendation.Confidence.HIGH,
    } | extra
    return Recommendation.objects.create(organization=organization, **values)


def test_the_dismiss_page_asks_for_a_reason_then_dismisses(analyst_client, organization) -> None:
    recommendation = _recommendation(organization)
    url = f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/"

    page = analyst_client.get(url).content.decode()
    blank = analyst_client.post(url, {"reason": "  "})
    dismissed = analyst_client.post(url, {"reason": "quality matters here"})

    assert "<h1>Dismiss: Switch Search from gpt-4o to gpt-4o-mini</h1>" in page
    assert "12-month savings: 1,200.00 USD; confidence high." in page
    assert blank.status_code == 200
    assert "This field is required." in blank.content.decode()
    assert (dismissed.status_code, dismissed["Location"]) == (302, RECOMMENDATIONS)
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.dismiss_reason, recommendation.acted_by.username) == (
        "dismissed",
        "quality matters here",
        "analyst",
    )


def test_dismissing_an_accepted_recommendation_shows_why_and_changes_nothing(analyst_client, organization) -> None:
    recommendation = _recommendation(organization, status=Recommendation.Status.ACCEPTED)

    response = analyst_client.post(f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {"reason": "changed my mind"})

    assert response.status_code == 200
    assert "an accepted recommendation cannot be dismissed" in response.content.decode()
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.dismiss_reason) == ("accepted", "")


def test_a_viewer_cannot_open_the_dismiss_page(viewer_client, organization) -> None:
    recommendation = _recommendation(organization)

    response = viewer_client.post(f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {"reason": "no"})

    assert response.status_code == 403
    recommendation.refresh_from_db()
    assert recommendation.status == "open"
