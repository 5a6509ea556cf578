"""Allocation-rule endpoints: members read the rules, analysts write them (the ledger is re-allocated), and
``preview/`` says what a proposed change would move between teams before anything is saved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.models import AllocationRule
from ingest.models import LedgerEntry, LedgerLine
from tests.api.shape import invalid
from tests.factories import LedgerEntryFactory, OrganizationFactory, TeamFactory, UploadFactory

pytestmark = pytest.mark.django_db
RULES = "/api/v1/allocation-rules/"
PREVIEW = f"{RULES}preview/"


@pytest.fixture
def ledger(organization) -> None:
    """Two rows of project "alpha" (1000 tokens, $0.7500000001 each) and one of project "beta"."""
    upload = UploadFactory(organization=organization)
    for project, day in (("alpha", 1), ("alpha", 2), ("beta", 3)):
        LedgerEntryFactory(
            organization=organization,
            upload=upload,
            date=date(2026, 1, day),
            project=project,
            quantity=1000,
            cost=Decimal("0.7500000001"),
            cost_basis="billed",
        )


def test_an_analyst_creates_a_rule_and_the_ledger_is_reallocated(
    api_client_for, analyst, organization, search, ledger
) -> None:
    response = api_client_for(analyst).post(
        RULES, {"team": "search", "dimension": "project", "value": "alpha", "priority": 10}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in ("organization", "team", "team_name", "dimension", "value", "priority")} == {
        "organization": "acme",
        "team": "search",
        "team_name": "Search",
        "dimension": "project",
        "value": "alpha",
        "priority": 10,
    }
    assert body["rows_allocated"] == 2
    assert sorted(LedgerLine.objects.values_list("project", "team__slug")) == [
        ("alpha", "search"),
        ("alpha", "search"),
        ("beta", None),
    ]


def test_a_viewer_cannot_write_rules(api_client_for, viewer, organization, search) -> None:
    response = api_client_for(viewer).post(
        RULES, {"team": "search", "dimension": "project", "value": "alpha"}, format="json"
    )

    assert response.status_code == 403
    assert not AllocationRule.objects.exists()


def test_another_organization_s_team_is_not_a_choice(api_client_for, analyst, organization) -> None:
    TeamFactory(organization=OrganizationFactory(slug="other"), name="Ads", slug="ads")

    response = api_client_for(analyst).post(
        RULES, {"team": "ads", "dimension": "project", "value": "alpha"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == invalid("team", "no team 'ads' in acme")


def test_a_tag_rule_needs_key_and_value(api_client_for, analyst, organization, search) -> None:
    response = api_client_for(analyst).post(
        RULES, {"team": "search", "dimension": "tag", "value": "prod"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == invalid("value", "a tag rule needs key=value, e.g. env=prod")


def test_a_preview_of_a_new_rule_moves_rows_and_saves_nothing(
    api_client_for, analyst, organization, search, ledger
) -> None:
    response = api_client_for(analyst).post(
        PREVIEW, {"organization": "acme", "team": "search", "dimension": "project", "value": "alpha"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "organization": "acme",
        "rows": 2,
        "tokens": 2000,
        "cost": "1.50",
        "cost_exact": "1.5000000002",
        "moves": [
            {
                "from_team": None,
                "to_team": "Search",
                "rows": 2,
                "tokens": 2000,
                "cost": "1.50",
                "cost_exact": "1.5000000002",
            }
        ],
    }
    assert not AllocationRule.objects.exists()
    assert not LedgerLine.objects.exclude(team=None).exists()


def test_a_preview_of_deleting_and_of_changing_a_rule(api_client_for, analyst, organization, search, ledger) -> None:
    client = api_client_for(analyst)
    rule_id = client.post(RULES, {"team": "search", "dimension": "project", "value": "alpha"}, format="json").json()[
        "id"
    ]

    deleting = client.post(PREVIEW, {"id": rule_id, "delete": True}, format="json").json()
    changing = client.post(PREVIEW, {"id": rule_id, "value": "beta"}, format="json").json()

    assert [(move["from_team"], move["to_team"], move["rows"]) for move in deleting["moves"]] == [("Search", None, 2)]
    assert [(move["from_team"], move["to_team"], move["rows"]) for move in changing["moves"]] == [
        ("Search", None, 2),
        (None, "Search", 1),
    ]
    assert AllocationRule.objects.get().value == "alpha"


def test_a_preview_needs_the_rule_or_its_fields(api_client_for, analyst, organization) -> None:
    missing = api_client_for(analyst).post(PREVIEW, {"organization": "acme", "team": "search"}, format="json")
    deleting_nothing = api_client_for(analyst).post(PREVIEW, {"delete": True}, format="json")

    assert missing.json()["errors"] == [
        {"field": "dimension", "message": "required for a new rule", "code": "invalid"},
        {"field": "value", "message": "required for a new rule", "code": "invalid"},
    ]
    assert deleting_nothing.json() == invalid("id", "give the id of the rule to delete")


def test_deleting_a_rule_reallocates(api_client_for, analyst, organization, search, ledger) -> None:
    client = api_client_for(analyst)
    rule_id = client.post(RULES, {"team": "search", "dimension": "project", "value": "alpha"}, format="json").json()[
        "id"
    ]

    response = client.delete(f"{RULES}{rule_id}/")

    assert response.status_code == 204
    assert not LedgerEntry.objects.exclude(team=None).exists()
