"""Planning API: budgets (admins write, members read, bad input named and nothing saved), a budget's status on a run
with known sampled paths, alerts with acknowledge, webhooks (admins only), recommendations and the OpenAPI schema."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finops.models import Role
from planning.models import Alert, Budget, Recommendation, Webhook
from planning.services import alerts_evaluate, budget_save
from tests.api.shape import invalid, refused
from tests.factories import MembershipFactory, OrganizationFactory, TeamFactory

pytestmark = pytest.mark.django_db

BUDGETS = "/api/v1/budgets/"
ALERTS = "/api/v1/alerts/"
WEBHOOKS = "/api/v1/webhooks/"
RECOMMENDATIONS = "/api/v1/recommendations/"
ON = date(2026, 3, 15)


@pytest.fixture
def admin(organization):
    return MembershipFactory(organization=organization, role=Role.ADMIN, user__username="finance").user


def _budget(organization, **extra) -> Budget:
    data = {"name": "Search", "team": "search", "starts_on": "2026-01-01", "amount": "300", **extra}
    return budget_save(organization=organization, data=data)


def _create_payload(**extra) -> dict:
    payload = {"organization": "acme", "name": "Search", "team": "search", "starts_on": "2026-01-01", "amount": "500"}
    return payload | extra


# Budgets: create, roles, tenant scoping, filter


def test_admin_creates_a_budget_with_owners_and_thresholds(api_client_for, admin, analyst, search) -> None:
    payload = _create_payload(
        amount="1200.50",
        currency="EUR",
        owners=["Lead@X.io", analyst.username],
        thresholds=[1.0, 0.5],
        overrun_alert_probability=0.7,
    )

    response = api_client_for(admin).post(BUDGETS, payload, format="json")

    assert response.status_code == 201
    body = response.json()
    budget = Budget.objects.get()
    assert body["id"] == budget.pk
    assert {key: value for key, value in body.items() if key not in ("id", "created_at", "updated_at")} == {
        "organization": "acme",
        "name": "Search",
        "team": "search",
        "provider": "",
        "model": "",
        "period": "month",
        "starts_on": "2026-01-01",
        "ends_on": None,
        "amount": "1200.50",
        "currency": "EUR",
        # owners are ordered by e-mail: the member (no address of its own) first, then the lower-cased address
        "owners": [analyst.username, "lead@x.io"],
        "thresholds": [0.5, 1.0],
        "overrun_alert_probability": 0.7,
    }
    assert {(owner.user_id, owner.email) for owner in budget.owners.all()} == {(analyst.pk, ""), (None, "lead@x.io")}


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_admins_create_budgets(api_client_for, request, search, role) -> None:
    member = request.getfixturevalue(role)

    response = api_client_for(member).post(BUDGETS, _create_payload(), format="json")

    assert response.status_code == 403
    assert response.json() == refused(f"your role in 'acme' is {role}; this needs admin or higher", "permission_denied")
    assert Budget.objects.count() == 0


def test_members_read_budgets_and_an_outsider_sees_none_of_them(api_client_for, viewer, outsider, search) -> None:
    budget = _budget(search.organization)

    listed = api_client_for(viewer).get(BUDGETS).json()
    outsider_list = api_client_for(outsider).get(BUDGETS).json()
    outsider_detail = api_client_for(outsider).get(f"{BUDGETS}{budget.pk}/")
    outsider_status = api_client_for(outsider).get(f"{BUDGETS}{budget.pk}/status/")

    assert [item["name"] for item in listed["results"]] == ["Search"]
    assert (outsider_list["count"], outsider_list["results"]) == (0, [])
    assert outsider_detail.status_code == 404
    assert outsider_status.status_code == 404


def test_outsider_cannot_create_a_budget_in_acme(api_client_for, outsider, search) -> None:
    response = api_client_for(outsider).post(BUDGETS, _create_payload(), format="json")

    assert response.status_code == 404
    assert Budget.objects.count() == 0


def test_budget_list_filters_by_organization(api_client_for, organization, search) -> None:
    other = OrganizationFactory(slug="other")
    member = MembershipFactory(organization=organization, role=Role.VIEWER).user
    MembershipFactory(organization=other, role=Role.ADMIN, user=member)
    _budget(organization)
    budget_save(organization=other, data={"name": "Other all", "starts_on": "2026-01-01", "amount": "10"})
    client = api_client_for(member)

    everything = client.get(BUDGETS).json()["results"]
    acme_only = client.get(BUDGETS, {"organization": "acme"}).json()["results"]

    assert [(item["organization"], item["name"]) for item in everything] == [("acme", "Search"), ("other", "Other all")]
    assert [(item["organization"], item["name"]) for item in acme_only] == [("acme", "Search")]


# Budgets: bad input names the field and saves nothing


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "-5"}, "amount", "must not be negative, got -5"),
        ({"amount": "a lot"}, "amount", "expected a number, got 'a lot'"),
        ({"amount": "10.005"}, "amount", "expected at most 2 decimals and below 9999999999999999.99, got 10.005"),
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'; expected an ISO code such as USD, EUR, GBP"),
        ({"ends_on": "2025-12-31"}, "ends_on", "ends before it starts (2025-12-31 < 2026-01-01)"),
        (
            {"starts_on": "2026-01-15"},
            "starts_on",
            "a budget period starts on the first day of a month, not 2026-01-15",
        ),
        ({"team": "ads"}, "team", "no team 'ads' in acme (give its slug or name)"),
        ({"team": "nobody"}, "team", "no team 'nobody' in acme (give its slug or name)"),
        (
            {"owners": ["lead@x.io", "not-an-email"]},
            "owners",
            "'not-an-email' is not an e-mail address or the username of a member of acme",
        ),
        ({"owners": ["lead@x"]}, "owners", "'lead@x' is not an e-mail address"),
        (
            {"thresholds": [0.8, 11]},
            "thresholds",
            "fractions of the amount between 0 and 10: threshold 11 is out of range: it must be above 0 and at most 10",
        ),
        (
            {"thresholds": [0, 1]},
            "thresholds",
            "fractions of the amount between 0 and 10: threshold 0 is out of range: it must be above 0 and at most 10",
        ),
        (
            {"overrun_alert_probability": 1.5},
            "overrun_alert_probability",
            "expected a probability between 0 and 1 (exclusive), got 1.5",
        ),
        ({"period": "week"}, "period", "expected one of month, quarter, year, got 'week'"),
    ],
)
def test_bad_budget_input_answers_400_naming_the_field_and_saves_nothing(
    api_client_for, admin, search, change, field, message
) -> None:
    # Given a team "ads" that exists, but in another organization
    TeamFactory(organization=OrganizationFactory(slug="other"), name="Ads", slug="ads")
    before = Budget.objects.count()

    response = api_client_for(admin).post(BUDGETS, _create_payload(**change), format="json")

    assert response.status_code == 400
    assert response.json() == invalid(field, message)
    assert Budget.objects.count() == before


def test_a_duplicate_budget_name_is_400_and_the_first_budget_is_kept(api_client_for, admin, search) -> None:
    first = _budget(search.organization)

    response = api_client_for(admin).post(BUDGETS, _create_payload(), format="json")

    assert response.status_code == 400
    assert response.json() == invalid("name", "acme already has a budget named 'Search'")
    assert list(Budget.objects.values_list("pk", "amount")) == [(first.pk, Decimal("300.00"))]


def test_a_list_given_as_text_is_rejected_by_the_input_serializer(api_client_for, admin, search) -> None:
    response = api_client_for(admin).post(BUDGETS, _create_payload(owners="lead@x.io"), format="json")

    assert response.status_code == 400
    assert response.json() == invalid("owners", 'Expected a list of items but got type "str".', "not_a_list")
    assert Budget.objects.count() == 0


# Budgets: status


def test_status_of_a_period_reads_the_known_run(api_client_for, viewer, organization, known_run) -> None:
    budget = _budget(organization)

    response = api_client_for(viewer).get(f"{BUDGETS}{budget.pk}/status/", {"period": "2026-03-15"})

    # Then actual 10 x 20 = 200; forecast 200 + 210 (the run's mean of March 11-31) = 410; 80%: 200 + q10/q90 of
    # 100..1000 (190/910) = 390/1110; overrun when 200 + p > 300, p > 100: 9 of 10 paths; running total 200 + 10 a
    # day passes 300 on March 21 (310); variance 410 - 300 = 110; 200/300 crosses no threshold (0.8, 1.0).
    assert response.status_code == 200
    assert response.json() == {
        "budget": budget.pk,
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "amount": "300.00",
        "currency": "USD",
        "actual": "200.00",
        "actual_through": "2026-03-10",
        "forecast": "410.00",
        "forecast_lower": "390.00",
        "forecast_upper": "1110.00",
        "overrun_probability": 0.9,
        "projected_breach_date": "2026-03-21",
        "variance": "110.00",
        "forecast_run": known_run.pk,
        "forecast_through": "2026-03-31",
        "sampled_paths": 10,
        "thresholds_crossed": [],
        "state": "at_risk",
        "fx": {"rate": "1", "from": "USD", "to": "USD", "rate_date": None},
        "parent_budget": None,
        "children": {},
        "notes": [],
    }


def test_status_defaults_to_the_period_of_today(api_client_for, viewer, organization, search) -> None:
    today = timezone.localdate()
    budget = _budget(organization, starts_on=today.replace(day=1).isoformat())

    response = api_client_for(viewer).get(f"{BUDGETS}{budget.pk}/status/")

    assert response.status_code == 200
    body = response.json()
    assert body["period_start"] == today.replace(day=1).isoformat()
    assert date.fromisoformat(body["period_start"]) <= today <= date.fromisoformat(body["period_end"])
    assert (body["actual"], body["forecast"], body["forecast_run"]) == ("0.00", "0.00", None)


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("x", "expected a date as YYYY-MM-DD, got 'x'"),
        ("2026-02-30", "expected a date as YYYY-MM-DD, got '2026-02-30'"),
        ("2025-12-31", "2025-12-31 is before the budget starts on 2026-01-01"),
    ],
)
def test_status_of_a_bad_period_is_400(api_client_for, viewer, organization, search, period, message) -> None:
    budget = _budget(organization)

    response = api_client_for(viewer).get(f"{BUDGETS}{budget.pk}/status/", {"period": period})

    assert response.status_code == 400
    assert response.json() == invalid("period", message)


def test_status_in_a_currency_without_a_rate_is_400(api_client_for, viewer, organization, search) -> None:
    budget = _budget(organization, currency="JPY")

    response = api_client_for(viewer).get(f"{BUDGETS}{budget.pk}/status/", {"period": "2026-03-15"})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["currency"]


# Budgets: change and delete


def test_patching_the_amount_keeps_owners_and_every_other_field(api_client_for, admin, analyst, search) -> None:
    budget = _budget(
        search.organization,
        provider="openai",
        model="gpt-4o",
        ends_on="2026-12-31",
        currency="EUR",
        owners=["lead@x.io", analyst.username],
        thresholds=[0.5, 0.9],
        overrun_alert_probability=0.7,
    )
    before = api_client_for(admin).get(f"{BUDGETS}{budget.pk}/").json()

    response = api_client_for(admin).patch(f"{BUDGETS}{budget.pk}/", {"amount": "750"}, format="json")

    assert response.status_code == 200
    after = response.json()
    assert after["amount"] == "750.00"
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"amount", "updated_at"}
    assert after["owners"] == [analyst.username, "lead@x.io"]
    assert {(owner.user_id, owner.email) for owner in budget.owners.all()} == {(analyst.pk, ""), (None, "lead@x.io")}


def test_a_viewer_cannot_patch_or_delete_a_budget(api_client_for, viewer, search) -> None:
    budget = _budget(search.organization)
    client = api_client_for(viewer)

    patched = client.patch(f"{BUDGETS}{budget.pk}/", {"amount": "1"}, format="json")
    deleted = client.delete(f"{BUDGETS}{budget.pk}/")

    assert (patched.status_code, deleted.status_code) == (403, 403)
    assert list(Budget.objects.values_list("amount", flat=True)) == [Decimal("300.00")]


def test_a_bad_patch_is_400_and_changes_nothing(api_client_for, admin, search) -> None:
    budget = _budget(search.organization)

    response = api_client_for(admin).patch(f"{BUDGETS}{budget.pk}/", {"amount": "-1"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid("amount", "must not be negative, got -1")
    budget.refresh_from_db()
    assert budget.amount == Decimal("300.00")


def test_admin_deletes_a_budget(api_client_for, admin, search) -> None:
    budget = _budget(search.organization)

    response = api_client_for(admin).delete(f"{BUDGETS}{budget.pk}/")

    assert response.status_code == 204
    assert Budget.objects.count() == 0


# Alerts


def test_alerts_filter_by_status_kind_and_organization(api_client_for, viewer, organization, known_run) -> None:
    budget = _budget(organization, owners=["lead@x.io"])
    alerts_evaluate(organization=organization, on=ON)
    # And alerts the filters leave out: a resolved threshold alert of acme and an open one of another organization
    Alert.objects.create(
        organization=organization,
        budget=budget,
        kind=Alert.Kind.THRESHOLD,
        period_start=date(2026, 2, 1),
        status=Alert.Status.RESOLVED,
        message="old",
        opened_at=timezone.now(),
        resolved_at=timezone.now(),
    )
    other = OrganizationFactory(slug="other")
    MembershipFactory(organization=other, role=Role.VIEWER, user=viewer)
    Alert.objects.create(
        organization=other,
        kind=Alert.Kind.FORECAST_OVERRUN,
        period_start=ON,
        message="theirs",
        opened_at=timezone.now(),
    )

    response = api_client_for(viewer).get(
        ALERTS, {"status": "open", "kind": "forecast_overrun", "organization": "acme"}
    )

    assert response.status_code == 200
    (alert,) = response.json()["results"]
    assert alert["opened_at"] is not None
    assert {key: value for key, value in alert.items() if key not in ("id", "opened_at")} == {
        "organization": "acme",
        "kind": "forecast_overrun",
        "budget": budget.pk,
        "period_start": "2026-03-01",
        "scope": "",
        "status": "open",
        "level": 0.9,
        "generation": 1,
        "resolved_at": None,
        "acknowledged_at": None,
        "message": (
            "Budget 'Search' (team Search) is forecast to overrun: 90% likely; forecast 410.00 USD "
            "(80%: 390.00-1,110.00) against 300.00 USD, breaking on 2026-03-21"
        ),
        "details": {
            "period_end": "2026-03-31",
            "amount": "300.00",
            "actual": "200.00",
            "forecast": "410.00",
            "forecast_lower": "390.00",
            "forecast_upper": "1110.00",
            "overrun_probability": 0.9,
            "projected_breach_date": "2026-03-21",
            "currency": "USD",
            "forecast_run": known_run.pk,
            "alert_probability": 0.5,
        },
    }


def test_the_budget_filter_offers_only_the_callers_budgets(api_client_for, viewer, organization, known_run) -> None:
    mine = _budget(organization)
    alerts_evaluate(organization=organization, on=ON)
    theirs = budget_save(
        organization=OrganizationFactory(slug="other"), data={"name": "All", "starts_on": "2026-01-01", "amount": "1"}
    )
    client = api_client_for(viewer)

    own = client.get(ALERTS, {"budget": mine.pk})
    other = client.get(ALERTS, {"budget": theirs.pk})
    missing = client.get(ALERTS, {"budget": theirs.pk + 1000})

    assert [(item["budget"], item["kind"]) for item in own.json()["results"]] == [(mine.pk, "forecast_overrun")]
    # Then another organization's budget answers exactly as one that does not exist
    assert (other.status_code, other.json()) == (missing.status_code, missing.json())
    assert other.json() == invalid(
        "budget", "Select a valid choice. That choice is not one of the available choices.", "invalid_choice"
    )


@pytest.fixture
def open_alert(organization, known_run) -> Alert:
    _budget(organization)
    alerts_evaluate(organization=organization, on=ON)
    return Alert.objects.get(kind=Alert.Kind.FORECAST_OVERRUN)


def test_an_analyst_acknowledges_an_alert(api_client_for, analyst, open_alert) -> None:
    response = api_client_for(analyst).post(f"{ALERTS}{open_alert.pk}/acknowledge/")

    assert response.status_code == 200
    assert response.json()["acknowledged_at"] is not None
    assert response.json()["status"] == "open"
    open_alert.refresh_from_db()
    assert (open_alert.acknowledged_by, open_alert.status) == (analyst, "open")


def test_a_viewer_cannot_acknowledge_and_an_outsider_cannot_see_the_alert(
    api_client_for, viewer, outsider, open_alert
) -> None:
    as_viewer = api_client_for(viewer).post(f"{ALERTS}{open_alert.pk}/acknowledge/")
    as_outsider = api_client_for(outsider).post(f"{ALERTS}{open_alert.pk}/acknowledge/")

    assert as_viewer.status_code == 403
    assert as_viewer.json() == refused(
        "your role in 'acme' is viewer; this needs analyst or higher", "permission_denied"
    )
    assert as_outsider.status_code == 404
    open_alert.refresh_from_db()
    assert (open_alert.acknowledged_at, open_alert.acknowledged_by) == (None, None)


# Webhooks


def _webhook_payload(**extra) -> dict:
    return {
        "organization": "acme",
        "name": "Slack",
        "url": "https://hooks.example.com/tokencast",
        "secret": "s3cret",
        "kinds": ["forecast_overrun"],
    } | extra


def test_admin_creates_a_webhook_and_its_secret_is_not_echoed(api_client_for, admin) -> None:
    response = api_client_for(admin).post(WEBHOOKS, _webhook_payload(), format="json")

    assert response.status_code == 201
    webhook = Webhook.objects.get()
    body = response.json()
    assert "secret" not in body
    assert {key: value for key, value in body.items() if key != "created_at"} == {
        "id": webhook.pk,
        "organization": "acme",
        "name": "Slack",
        "url": "https://hooks.example.com/tokencast",
        "kinds": ["forecast_overrun"],
        "active": True,
    }
    assert webhook.secret == "s3cret"
    listed = api_client_for(admin).get(WEBHOOKS).json()["results"]
    assert [(item["name"], "secret" in item) for item in listed] == [("Slack", False)]


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_viewers_and_analysts_see_no_webhooks_and_cannot_create_one(
    api_client_for, request, organization, role
) -> None:
    Webhook.objects.create(organization=organization, name="Existing", url="https://hooks.example.com/a")
    client = api_client_for(request.getfixturevalue(role))

    listed = client.get(WEBHOOKS).json()
    created = client.post(WEBHOOKS, _webhook_payload(), format="json")

    assert (listed["count"], listed["results"]) == (0, [])
    assert created.status_code == 403
    assert list(Webhook.objects.values_list("name", flat=True)) == ["Existing"]


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"kinds": ["threshold", "nope"]},
            invalid("kinds", "unknown alert kind(s) nope; expected threshold, forecast_overrun, anomaly"),
        ),
        ({"url": "ftp://x"}, invalid("url", "expected an http(s) URL, got 'ftp://x'")),
        ({"url": "javascript:alert(1)"}, invalid("url", "expected an http(s) URL, got 'javascript:alert(1)'")),
        ({"url": "https://"}, invalid("url", "expected an http(s) URL, got 'https://'")),
        ({"name": "  "}, invalid("name", "This field may not be blank.", "blank")),
    ],
)
def test_bad_webhook_input_is_400_naming_the_field_and_saves_nothing(api_client_for, admin, change, errors) -> None:
    response = api_client_for(admin).post(WEBHOOKS, _webhook_payload(**change), format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert Webhook.objects.count() == 0


def test_admin_changes_a_webhook_url_and_keeps_its_secret(api_client_for, admin) -> None:
    created = api_client_for(admin).post(WEBHOOKS, _webhook_payload(), format="json").json()

    response = api_client_for(admin).patch(
        f"{WEBHOOKS}{created['id']}/", {"url": "https://hooks.example.com/new"}, format="json"
    )

    assert response.status_code == 200
    webhook = Webhook.objects.get()
    assert (webhook.url, webhook.secret, webhook.kinds) == (
        "https://hooks.example.com/new",
        "s3cret",
        ["forecast_overrun"],
    )


def test_a_duplicate_webhook_name_is_400(api_client_for, admin) -> None:
    client = api_client_for(admin)
    client.post(WEBHOOKS, _webhook_payload(), format="json")

    response = client.post(WEBHOOKS, _webhook_payload(url="https://hooks.example.com/other"), format="json")

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["name"]


# Recommendations


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
    } | extra
    return Recommendation.objects.create(organization=organization, **values)


def test_recommendations_are_listed_largest_savings_first(api_client_for, viewer, outsider, organization) -> None:
    small = _recommendation(organization, model="a", title="small", twelve_month_savings=Decimal("12.00"))
    large = _recommendation(organization, model="b", title="large", twelve_month_savings=Decimal("9000.00"))

    listed = api_client_for(viewer).get(RECOMMENDATIONS).json()["results"]
    theirs = api_client_for(outsider).get(RECOMMENDATIONS).json()["results"]

    assert [(item["id"], item["twelve_month_savings"]) for item in listed] == [
        (large.pk, "9000.00"),
        (small.pk, "12.00"),
    ]
    assert theirs == []


def test_an_analyst_dismisses_a_recommendation_with_a_reason(api_client_for, analyst, organization) -> None:
    recommendation = _recommendation(organization)

    response = api_client_for(analyst).post(
        f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {"reason": "quality matters here"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["dismiss_reason"]) == ("dismissed", "quality matters here")
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.acted_by) == ("dismissed", analyst)


def test_dismissing_without_a_reason_or_as_a_viewer_changes_nothing(
    api_client_for, analyst, viewer, organization
) -> None:
    recommendation = _recommendation(organization)

    blank = api_client_for(analyst).post(f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {}, format="json")
    as_viewer = api_client_for(viewer).post(
        f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {"reason": "no"}, format="json"
    )

    assert (blank.status_code, blank.json()) == (400, invalid("reason", "This field is required.", "required"))
    assert as_viewer.status_code == 403
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.dismiss_reason) == ("open", "")


def test_dismissing_an_accepted_recommendation_is_400(api_client_for, analyst, organization) -> None:
    recommendation = _recommendation(organization, status=Recommendation.Status.ACCEPTED)

    response = api_client_for(analyst).post(
        f"{RECOMMENDATIONS}{recommendation.pk}/dismiss/", {"reason": "changed my mind"}, format="json"
    )

    assert (response.status_code, response.json()) == (
        400,
        invalid("reason", "an accepted recommendation cannot be dismissed"),
    )


def test_snoozing_needs_a_future_date(api_client_for, analyst, organization) -> None:
    recommendation = _recommendation(organization)
    today = timezone.localdate()
    url = f"{RECOMMENDATIONS}{recommendation.pk}/snooze/"
    client = api_client_for(analyst)

    past = client.post(url, {"until": today.isoformat()}, format="json")
    snoozed = client.post(url, {"until": (today + timedelta(days=30)).isoformat()}, format="json")

    assert (past.status_code, past.json()) == (
        400,
        invalid("until", f"snooze until a future date: {today.isoformat()} is not after today ({today.isoformat()})"),
    )
    assert snoozed.status_code == 200
    assert (snoozed.json()["status"], snoozed.json()["snoozed_until"]) == (
        "snoozed",
        (today + timedelta(days=30)).isoformat(),
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "the forecast run it was computed from is gone; regenerate the recommendations first"),
        ({"kind": Recommendation.Kind.DEPRECATION, "to_model": ""}, "gpt-4o has no known successor"),
        ({"kind": Recommendation.Kind.COMMITMENT, "to_model": ""}, "a commitment cannot be tried as a what-if"),
    ],
)
def test_accepting_a_recommendation_that_has_no_what_if_is_400(
    api_client_for, analyst, organization, extra, message
) -> None:
    recommendation = _recommendation(organization, **extra)

    response = api_client_for(analyst).post(f"{RECOMMENDATIONS}{recommendation.pk}/accept/")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.what_if_run) == ("open", None)


# OpenAPI


def test_the_openapi_schema_renders_with_the_planning_paths(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/budgets/",
        "/api/v1/budgets/{id}/",
        "/api/v1/budgets/{id}/status/",
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/recommendations/",
        "/api/v1/recommendations/{id}/",
        "/api/v1/recommendations/{id}/accept/",
        "/api/v1/recommendations/{id}/dismiss/",
        "/api/v1/recommendations/{id}/snooze/",
    } <= set(paths)
    status_parameters = {parameter["name"] for parameter in paths["/api/v1/budgets/{id}/status/"]["get"]["parameters"]}
    assert "period" in status_parameters
    assert set(paths["/api/v1/budgets/"]["post"]["requestBody"]["content"]["application/json"]["schema"]) == {"$ref"}
