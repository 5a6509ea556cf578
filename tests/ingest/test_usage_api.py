"""The usage endpoint (``GET /api/v1/usage/summary/``): grouping, filters, money in the reporting currency as strings
rounded to its minor unit beside the unrounded amount, cached answers that follow every change, validation, tenant
scoping and the OpenAPI schema."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import AllocationRule, Organization
from ingest.models import UsageDaily
from ingest.services import ledger_reallocate
from tests.factories import FxRateFactory, TeamFactory
from tests.ingest.test_rollup import FIRST_DAY, ingest, row_on

pytestmark = pytest.mark.django_db

URL = "/api/v1/usage/summary/"
SECOND_DAY = FIRST_DAY + timedelta(days=1)
# gpt-4o-mini list prices: $0.15 / M input, $0.60 / M output. A row of 3,000,000 input and 100 output tokens
# costs 0.45 + 0.00006 = 0.45006 USD, in two ledger records.
ROW_TOKENS, ROW_COST = 3_000_100, Decimal("0.45006")


@pytest.fixture
def search(organization):
    team = TeamFactory(organization=organization, name="Search")
    AllocationRule.objects.create(organization=organization, team=team, dimension="project", value="proj_search")
    return team


@pytest.fixture
def two_days(organization, search) -> None:
    """proj_search (team Search) and proj_x (unallocated), each one row a day on 2025-01-01 and 2025-01-02."""
    ingest(
        organization,
        *(
            row_on(day, project, input_tokens=3_000_000)
            for day in (FIRST_DAY, SECOND_DAY)
            for project in ("proj_search", "proj_x")
        ),
    )


def get(client, **params) -> dict:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def set_currency(organization, currency: str) -> None:
    Organization.objects.filter(pk=organization.pk).update(reporting_currency=currency)


def test_usage_by_month_and_team_has_money_strings_and_the_unrounded_cost(
    api_client_for, viewer, organization, two_days
) -> None:
    body = get(api_client_for(viewer), by="month,team")

    assert body == {
        "organization": "acme",
        "currency": "USD",
        "group_by": ["month", "team"],
        "results": [
            {
                "month": "2025-01",
                "team": "Search",
                "tokens": 2 * ROW_TOKENS,
                "cost": "0.90",
                "cost_unrounded": "0.90012",
                "records": 4,
            },
            {
                "month": "2025-01",
                "team": "unallocated",
                "tokens": 2 * ROW_TOKENS,
                "cost": "0.90",
                "cost_unrounded": "0.90012",
                "records": 4,
            },
        ],
    }


def test_group_by_and_by_give_the_same_answer(api_client_for, viewer, organization, two_days) -> None:
    client = api_client_for(viewer)

    assert get(client, group_by="day,token_type") == get(client, by="day,token_type")
    assert [(row["day"], row["token_type"]) for row in get(client, group_by="day,token_type")["results"]] == [
        ("2025-01-01", "input"),
        ("2025-01-01", "output"),
        ("2025-01-02", "input"),
        ("2025-01-02", "output"),
    ]


def test_a_week_is_named_by_its_monday(api_client_for, viewer, organization) -> None:
    # 2025-01-05 is a Sunday, 2025-01-06 the next Monday.
    ingest(organization, row_on(date(2025, 1, 5), "p"), row_on(date(2025, 1, 6), "p"), row_on(date(2025, 1, 7), "p"))

    rows = get(api_client_for(viewer), group_by="week")["results"]

    assert [(row["week"], row["records"]) for row in rows] == [("2024-12-30", 2), ("2025-01-06", 4)]


@pytest.mark.parametrize(
    ("filters", "records"),
    [
        ({"team": "Search"}, 4),
        ({"team": "unallocated"}, 4),
        ({"team": "Nobody"}, 0),
        ({"provider": "openai"}, 8),
        ({"provider": "anthropic"}, 0),
        ({"model": "gpt-4o-mini"}, 8),
        ({"token_type": "output"}, 4),
        ({"date_from": "2025-01-02"}, 4),
        ({"date_to": "2025-01-01", "team": "Search", "token_type": "input"}, 1),
    ],
)
def test_filters_limit_the_total(api_client_for, viewer, organization, two_days, filters, records) -> None:
    body = get(api_client_for(viewer), **filters)

    assert [row["records"] for row in body["results"]] == [records]


def test_costs_are_converted_to_the_reporting_currency_at_each_days_rate(
    api_client_for, viewer, organization, two_days
) -> None:
    set_currency(organization, "EUR")
    FxRateFactory(from_currency="USD", to_currency="EUR", rate=Decimal("0.5"), rate_date=FIRST_DAY - timedelta(days=1))
    FxRateFactory(from_currency="USD", to_currency="EUR", rate=Decimal("0.8"), rate_date=SECOND_DAY)

    body = get(api_client_for(viewer), by="day", team="Search")

    # 0.45006 x 0.5 = 0.22503 on the first day, 0.45006 x 0.8 = 0.360048 on the second.
    assert body["currency"] == "EUR"
    assert [(row["day"], row["cost"], row["cost_unrounded"]) for row in body["results"]] == [
        ("2025-01-01", "0.23", "0.22503"),
        ("2025-01-02", "0.36", "0.360048"),
    ]


def test_money_is_rounded_to_the_currencys_minor_unit(api_client_for, viewer, organization) -> None:
    set_currency(organization, "JPY")
    FxRateFactory(from_currency="USD", to_currency="JPY", rate=Decimal("150"), rate_date=date(2024, 12, 1))
    ingest(organization, row_on(FIRST_DAY, "p", input_tokens=3_000_000))

    (row,) = get(api_client_for(viewer))["results"]

    assert (row["cost"], row["cost_unrounded"]) == ("68", "67.509")  # 0.45006 x 150


def test_a_missing_exchange_rate_is_a_400_that_says_which(api_client_for, viewer, organization, two_days) -> None:
    set_currency(organization, "GBP")

    response = api_client_for(viewer).get(URL, {"by": "month"})

    assert response.status_code == 400
    assert "no USD->GBP exchange rate on or before 2025-01-01" in response.content.decode()


def test_a_cached_answer_is_not_served_after_the_ledger_or_a_rate_changed(
    api_client_for, viewer, organization, two_days
) -> None:
    client = api_client_for(viewer)
    assert [row["team"] for row in get(client, by="team")["results"]] == ["Search", "unallocated"]
    # The same question again is answered from the cache: a change behind the services' back does not show.
    UsageDaily.objects.filter(organization=organization).update(tokens=0)
    assert [row["tokens"] for row in get(client, by="team")["results"]] == [2 * ROW_TOKENS, 2 * ROW_TOKENS]
    other = TeamFactory(organization=organization, name="Other")
    AllocationRule.objects.create(organization=organization, team=other, dimension="project", value="proj_x")

    ledger_reallocate(organization=organization)

    assert [row["team"] for row in get(client, by="team")["results"]] == ["Other", "Search"]
    other.name = "Others"
    other.save()
    assert [row["team"] for row in get(client, by="team")["results"]] == ["Others", "Search"]
    set_currency(organization, "EUR")
    rate = FxRateFactory(from_currency="USD", to_currency="EUR", rate=Decimal("0.5"), rate_date=FIRST_DAY)
    assert get(client)["results"][0]["cost_unrounded"] == "0.90012"  # 4 rows x 0.45006 x 0.5
    rate.rate = Decimal("0.25")
    rate.save()
    assert get(client)["results"][0]["cost_unrounded"] == "0.45006"


def test_an_organization_without_usage_has_a_zero_total(api_client_for, viewer, organization) -> None:
    client = api_client_for(viewer)

    assert get(client)["results"] == [{"tokens": 0, "cost": "0.00", "cost_unrounded": "0.00", "records": 0}]
    assert get(client, by="model")["results"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"by": "colour"}, "unknown field(s) colour"),
        ({"by": "month", "group_by": "team"}, "give group_by or by, not both"),
        ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, "must not be before date_from"),
        ({"token_type": "audio"}, "audio"),
    ],
)
def test_bad_questions_get_a_400(api_client_for, viewer, organization, params, message) -> None:
    response = api_client_for(viewer).get(URL, params)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_outsider_cannot_read_the_organizations_usage(api_client_for, outsider, organization, two_days) -> None:
    response = api_client_for(outsider).get(URL, {"organization": "acme"})

    assert response.status_code == 404


def test_the_schema_documents_every_parameter_and_the_answer(api_client_for, viewer) -> None:
    response = api_client_for(viewer).get("/api/schema/", {"format": "json"})

    schema = response.json()
    operation = schema["paths"][URL]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "organization",
        "group_by",
        "by",
        "provider",
        "model",
        "team",
        "token_type",
        "date_from",
        "date_to",
    }
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    group = schema["components"]["schemas"][answer]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
    assert {"tokens", "cost", "cost_unrounded", "records", "month", "week", "team"} <= set(
        schema["components"]["schemas"][group]["properties"]
    )
